"""Command line for the pod usage summary: generate line items, summarise them, compare results.

    python -m pod_usage.cli generate --rows 10000000 --out /data/raw/pod_usage --files 10
    python -m pod_usage.cli summarize --input /data/raw/pod_usage --output /data/out \\
        --memory-mb 1024 [--report-period 2024-01]
    python -m pod_usage.cli compare A.parquet B.parquet

``summarize`` prints one JSON line: ``rows_in, rows_out, seconds, rows_per_s, peak_rss_mb``
(RSS sampled during the summary), ``max_rss_mb`` (the process' lifetime peak, ``ru_maxrss``)
and the rest of the run's figures, and writes ``<output>/daily_summary.parquet``. ``compare``
exits 1 unless the two summaries are exactly equal (every value, bit for bit), e.g. against the
in-memory pandas baseline ``bench/baselines/pod_usage_pandas.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from memsafe.budget import add_budget_flags, budget_from_args
from memsafe.cli import add_debug_flag, progress_to_stderr, run_cli, usage_errors
from memsafe.memory import lifetime_peak_rss_mb
from pod_usage.format import NoPodUsageFiles, list_files
from pod_usage.summary import summarize_files


def _generate(args: argparse.Namespace) -> dict:
    from pod_usage.generate import generate

    t0 = time.perf_counter()
    with usage_errors():  # the generator checks its parameters before writing
        sample = generate(
            Path(args.out),
            args.rows,
            period=args.period,
            files=args.files,
            seed=args.seed,
            newer_format=args.newer_format,
            duplicate_fraction=args.duplicate_fraction,
        )
    return {
        "rows": sample.rows,
        "duplicates": sample.duplicates,
        "files": [str(f) for f in sample.files],
        "bytes": sum(f.stat().st_size for f in sample.files),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _summarize(args: argparse.Namespace) -> dict:
    files = list_files(Path(args.input))
    if not files:
        raise NoPodUsageFiles(f"no pod usage CSV under {args.input}")
    out_dir = Path(args.output)
    budget = budget_from_args(args)
    stats = summarize_files(files, out_dir / "daily_summary.parquet", budget, report_period=args.report_period)
    result = stats.as_metadata()
    rows_in = stats.rows_in + stats.rows_other_periods
    result.update(rows_in=rows_in, memory_mb=args.memory_mb, max_rss_mb=round(lifetime_peak_rss_mb(), 1))
    return result


def _compare(args: argparse.Namespace) -> dict:
    a, b = pd.read_parquet(args.a), pd.read_parquet(args.b)
    for frame in (a, b):
        frame["usage_date"] = pd.to_datetime(frame["usage_date"])
        for col in ("namespace", "node"):
            frame[col] = frame[col].astype(str)
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True, check_dtype=False)
    except AssertionError as exc:
        return {"equal": False, "rows": [len(a), len(b)], "difference": str(exc)[:2000]}
    return {"equal": True, "rows": [len(a), len(b)]}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pod_usage.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_debug_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write realistic koku pod usage line items")
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--out", required=True, help="folder for the CSV files")
    g.add_argument("--period", default="2024-01", help="report period YYYY-MM (default 2024-01)")
    g.add_argument("--files", type=int, default=1, help="split the line items over N files")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--newer-format", action="store_true", help="newer column order with node_role")
    g.add_argument(
        "--duplicate-fraction",
        type=float,
        default=0.0,
        help="also write this fraction of line items again (a re-uploaded report)",
    )
    s = sub.add_parser("summarize", help="daily summary of every CSV under --input")
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True, help="folder for daily_summary.parquet")
    add_budget_flags(s, memory_mb=1024)
    s.add_argument("--report-period", default=None, help="YYYY-MM; default every period")
    c = sub.add_parser("compare", help="exit 1 unless two summaries are exactly equal")
    c.add_argument("a")
    c.add_argument("b")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress_to_stderr()
    handler = {"generate": _generate, "summarize": _summarize, "compare": _compare}[args.command]
    result = handler(args)
    print(json.dumps(result, sort_keys=True))
    return 0 if result.get("equal", True) else 1


if __name__ == "__main__":
    sys.exit(run_cli(main))
