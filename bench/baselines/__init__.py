"""The baselines the benchmarks run: one script per tool (``python bench/baselines/<name>.py``).

A package only so the tests can import :mod:`bench.baselines.pod_usage_pandas`, their oracle.
"""
