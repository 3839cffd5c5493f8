"""Benchmarks: this project's pipelines against the tools a user would pick instead, in one run.

``python -m bench --help``; see ``bench/README.md``. Every measured step runs as its own process
(:mod:`bench.harness`); the cases are in :mod:`bench.cases`, the baselines in ``bench/baselines/``.
"""
