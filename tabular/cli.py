"""Command line for the tabular pipeline: generate, load, split and transform.

Run as ``python -m tabular.cli <command> ...``; every command prints one JSON line of statistics
(``rows``, ``seconds``, ``peak_rss_mb`` sampled by :class:`memsafe.memory.PeakMemory`, and more),
so a benchmark can run each step as its own process. Examples::

    python -m tabular.cli generate --out /tmp/wide --rows 3000000 --cols 200 --files 40
    python -m tabular.cli load --input /tmp/wide --output /tmp/loaded --label label \\
        [--column-types zip=string,amount=double]
    python -m tabular.cli split --input /tmp/wide --output /tmp/splits --label label \\
        --mode stratified --memory-mb 1024
    python -m tabular.cli transform --input /tmp/splits --output /tmp/transformed --label label

The splits it is measured against are scripts in ``bench/baselines/`` (``tabular_duckdb.py``,
``tabular_pandas.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow as pa

from memsafe.budget import add_budget_flags, budget_from_args
from memsafe.cli import add_debug_flag, progress_to_stderr, run_cli, usage_errors
from memsafe.memory import PeakMemory
from tabular.generate import generate_wide
from tabular.loading import LoadSpec, load_dataset
from tabular.splits import DEFAULT_RATIOS, SplitSpec, split_dataset
from tabular.transforms import TransformSpec, transform_splits


def parse_ratios(text: str) -> dict[str, float]:
    """``train=0.8,test=0.1,val=0.1`` -> ``{"train": 0.8, ...}``."""
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if not value:
            raise argparse.ArgumentTypeError(f"ratios: expected name=fraction, got {part!r}")
        out[name.strip()] = float(value)
    return out


def parse_column_types(text: str) -> dict[str, str]:
    """``zip=string,amount=double`` -> ``{"zip": "string", "amount": "double"}``: Arrow type names
    as ``pyarrow.type_for_alias`` knows them (int64, double, string, bool, date32, timestamp[s]...)."""
    out = {}
    for part in text.split(","):
        name, _, typ = (x.strip() for x in part.partition("="))
        if not name or not typ:
            raise argparse.ArgumentTypeError(f"expected name=type, got {part!r}")
        try:
            pa.type_for_alias(typ)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"{name}={typ}: {typ!r} is not an Arrow type name "
                "(int64, double, string, bool, date32, timestamp[s], ...)"
            ) from exc
        out[name] = typ
    return out


def _bound_threads(threads: int) -> None:
    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)


def cmd_generate(a: argparse.Namespace) -> dict:
    with usage_errors():  # the generator checks its sizes before writing
        paths = generate_wide(Path(a.out), a.rows, a.cols, a.files, a.seed, a.format, a.chunk_rows)
    return {"rows": a.rows, "cols": a.cols, "files": len(paths), "bytes": sum(p.stat().st_size for p in paths)}


def cmd_load(a: argparse.Namespace) -> dict:
    budget = budget_from_args(a)
    _bound_threads(budget.threads)
    spec = LoadSpec(
        label=a.label,
        customer_column=a.customer_column,
        date_column=a.date_column,
        rows_per_shard=a.rows_per_shard,
        column_types=a.column_types or {},
        output_format=a.format,
        batch_rows=a.batch_rows or 262_144,
        processing=a.processing,
        memory_mb=None if a.batch_rows else budget.memory_mb,
        threads=budget.threads,
    )
    with usage_errors():
        spec.validate()
    r = load_dataset(Path(a.input), Path(a.output), spec)
    return {**r.as_metadata(), "output": str(r.output)}


def cmd_split(a: argparse.Namespace) -> dict:
    budget = budget_from_args(a)
    _bound_threads(budget.threads)
    spec = SplitSpec(
        label=a.label,
        mode=a.mode,
        ratios=a.ratios,
        seed=a.seed,
        customer_column=a.customer_column,
        date_column=a.date_column,
        cutoffs=tuple(c for c in (a.cutoffs or "").split(",") if c),
        single_split=a.single_split,
        rows_per_shard=a.rows_per_shard,
        output_format=a.format,
        batch_rows=a.batch_rows or 262_144,
        processing=a.processing,
        memory_mb=None if a.batch_rows else budget.memory_mb,
        threads=budget.threads,
    )
    r = split_dataset(Path(a.input), Path(a.output), spec)
    # Rows in no split, and why: "no_customer_or_date" (temporal), "missing_label" (null/NaN label).
    dropped = {why: n for why, n in r.summary.get("dropped", {}).items() if n}
    return {
        "rows": r.rows_in,
        "split_rows": r.rows,
        "rows_dropped": sum(dropped.values()),
        "dropped": dropped,
        "mode": r.mode,
        "shards": {k: len(v) for k, v in r.shards.items()},
    }


def cmd_transform(a: argparse.Namespace) -> dict:
    _bound_threads(a.threads)
    exclude = tuple(c for c in (a.label, a.customer_column, a.date_column) if c)
    spec = TransformSpec(
        exclude=exclude,
        rows_per_shard=a.rows_per_shard,
        output_format=a.format,
        batch_rows=a.batch_rows or 262_144,
        memory_mb=None if a.batch_rows else a.memory_mb,
    )
    summary = transform_splits(Path(a.input), Path(a.output), spec)
    return {
        "rows": sum(summary["rows"].values()),
        "split_rows": summary["rows"],
        "standardised": len(summary["standardise"]),
        "encoded": len(summary["encode"]),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tabular.cli", description=__doc__.splitlines()[0])
    add_debug_flag(p)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write wide synthetic data (see tabular.generate)")
    g.add_argument("--out", required=True)
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--cols", type=int, default=400)
    g.add_argument("--files", type=int, default=1)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--format", default="parquet", choices=["parquet", "csv", "tsv"])
    g.add_argument("--chunk-rows", type=int, default=50_000)
    g.set_defaults(func=cmd_generate)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--input", required=True, help="input folder")
        sp.add_argument("--output", required=True, help="output folder (replaced atomically)")
        sp.add_argument("--label", default=None)
        sp.add_argument("--customer-column", default=None)
        sp.add_argument("--date-column", default=None)
        sp.add_argument("--rows-per-shard", type=int, default=1_000_000)
        sp.add_argument("--format", default="parquet", choices=["parquet", "csv", "tsv"])
        sp.add_argument("--processing", default="streaming", choices=["streaming", "batch"])
        add_budget_flags(sp, memory_mb=1024, spill_dir=False)
        sp.add_argument("--batch-rows", type=int, default=None, help="default: derived from --memory-mb")

    ld = sub.add_parser("load", help="raw files -> shards + signature + MODS + statistics")
    common(ld)
    ld.add_argument(
        "--column-types",
        type=parse_column_types,
        default=None,
        metavar="NAME=TYPE,...",
        help="force CSV column types the first 4 MB would infer wrongly, e.g. zip=string,amount=double",
    )
    ld.set_defaults(func=cmd_load)

    sp = sub.add_parser("split", help="shards -> train/test/val shards")
    common(sp)
    sp.add_argument("--mode", default="stratified", choices=["random", "stratified", "temporal", "single"])
    sp.add_argument("--ratios", type=parse_ratios, default=dict(DEFAULT_RATIOS))
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--cutoffs", default=None, help="temporal: one or two ISO dates, comma separated")
    sp.add_argument("--single-split", default="test")
    sp.set_defaults(func=cmd_split)

    tr = sub.add_parser("transform", help="split folders -> standardised/encoded splits (fit on train)")
    common(tr)
    tr.set_defaults(func=cmd_transform)

    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress_to_stderr()
    t0 = time.perf_counter()
    with PeakMemory(interval=0.05) as pm:
        stats = args.func(args)
    out = {
        "command": args.command,
        **stats,
        "seconds": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": round(pm.report.peak_rss_mb, 1),
    }
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
