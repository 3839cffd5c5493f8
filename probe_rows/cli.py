"""Command line for probe_rows, so the grouping can run as its own process (benchmarks, backfills).

    python -m probe_rows.cli generate --output DIR --measurements 20000000 --order shuffled
    python -m probe_rows.cli import-atlas --output DIR FILE...
    python -m probe_rows.cli import-csv --output DIR --map src_addr=source,dst_addr=dest,rtt_ms=time FILE...
    python -m probe_rows.cli diagnose --input DIR
    python -m probe_rows.cli group --input DIR --output DIR --memory-mb 1024

``group`` prints one JSON line: ``measurements``, ``probes``, ``seconds``,
``measurements_per_second``, ``peak_rss_mb`` (the process' lifetime peak, ``ru_maxrss``) and more.
``--threads`` sets ``POLARS_MAX_THREADS`` before polars is imported, so it applies. The
groupings it is measured against are scripts in ``bench/baselines/`` (``probe_*.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from memsafe.budget import add_budget_flags
from memsafe.cli import add_debug_flag, progress_to_stderr, run_cli, usage_errors


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m probe_rows.cli", description=__doc__.split("\n\n")[0])
    add_debug_flag(p)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic measurement shards")
    g.add_argument("--output", type=Path, required=True)
    g.add_argument("--measurements", type=int, required=True)
    g.add_argument("--probes", type=int, default=None, help="default: measurements / 200")
    g.add_argument("--shards", type=int, default=8)
    g.add_argument("--order", choices=("sorted", "shuffled"), default="shuffled")
    g.add_argument("--seed", type=int, default=0)

    a = sub.add_parser("import-atlas", help="RIPE Atlas ping/traceroute JSON -> shards")
    a.add_argument("--output", type=Path, required=True)
    a.add_argument("--address-field", choices=("from", "src_addr"), default="from")
    a.add_argument("--failed", choices=("null_rtt", "drop"), default="null_rtt")
    a.add_argument("files", type=Path, nargs="+")

    c = sub.add_parser("import-csv", help="any CSV/TSV/parquet table of measurements -> shards, by a column map")
    c.add_argument("--output", type=Path, required=True)
    c.add_argument(
        "--map",
        default=None,
        metavar="SHARD=INPUT,...",
        help="e.g. src_addr=source,dst_addr=dest,rtt_ms=time[,event_time=ts]; "
        "unmapped shard columns are taken from input columns of the same name",
    )
    c.add_argument(
        "--time",
        default="row-order",
        metavar="row-order|ISO",
        help="without a time column: event_time = epoch + row position in seconds "
        "(row-order, default) or this one ISO datetime for every row",
    )
    c.add_argument(
        "--time-unit",
        choices=("s", "ms", "us", "ns"),
        default="s",
        help="unit of a numeric time column since the Unix epoch (default s)",
    )
    c.add_argument(
        "--extra-columns",
        default=None,
        help="numeric input columns to carry, comma-separated (default: every unmapped numeric one)",
    )
    c.add_argument("--delimiter", default=None, help="CSV delimiter (default: tab for .tsv/.tab, else comma)")
    c.add_argument("files", type=Path, nargs="+")

    d = sub.add_parser("diagnose", help="print each shard's ordering diagnostics (JSON lines)")
    d.add_argument("--input", type=Path, required=True)

    grp = sub.add_parser("group", help="group shards into per-probe rows")
    grp.add_argument("--input", type=Path, required=True)
    grp.add_argument("--output", type=Path, required=True)
    add_budget_flags(grp, memory_mb=1024)
    grp.add_argument(
        "--batch-rows", type=int, default=500_000, help="rows per batch of the streaming (sorted) path"
    )  # probe_rows.grouping.STREAM_BATCH_ROWS, not imported here: --help stays free of polars
    grp.add_argument("--min-measurements", type=int, default=1)
    grp.add_argument("--test-fraction", type=float, default=0.2)
    grp.add_argument("--seed", type=int, default=0)
    grp.add_argument("--extra-columns", default=None, help="comma-separated; default: all shared numeric")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "threads", None):
        os.environ["POLARS_MAX_THREADS"] = str(args.threads)
    # Imported here, after POLARS_MAX_THREADS is set.
    from memsafe.budget import budget_from_args
    from memsafe.memory import lifetime_peak_rss_mb

    if args.command == "generate":
        from probe_rows.generate import generate_shards

        t0 = time.perf_counter()
        with usage_errors():  # the generator checks its sizes before writing
            paths = generate_shards(
                args.output, args.measurements, probes=args.probes, shards=args.shards, order=args.order, seed=args.seed
            )
        _print(
            {
                "shards": len(paths),
                "measurements": args.measurements,
                "order": args.order,
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
    elif args.command == "import-atlas":
        from probe_rows.ripe_atlas import AtlasImportConfig, import_files

        with usage_errors():
            config = AtlasImportConfig(args.address_field, args.failed)
        stats = import_files(args.files, args.output, config)
        for shard, s in stats.items():
            _print({"shard": str(shard), **vars(s)})
    elif args.command == "import-csv":
        from probe_rows.csv_import import CsvImportConfig, import_tables, parse_mapping

        extras = None if args.extra_columns is None else tuple(c for c in args.extra_columns.split(",") if c)
        config = CsvImportConfig(
            parse_mapping(args.map),
            time_rule=args.time,
            time_unit=args.time_unit,
            extra_columns=extras,
            delimiter=args.delimiter,
        )
        for shard, s in import_tables(args.files, args.output, config).items():
            _print({"shard": str(shard), **vars(s)})
    elif args.command == "diagnose":
        from probe_rows.ordering import diagnose_shard, proven_ordered

        diags = [diagnose_shard(p) for p in _shards(args.input)]
        for d in diags:
            _print(d.as_metadata())
        _print({"proven_ordered": proven_ordered(diags)})
    elif args.command == "group":
        from probe_rows.grouping import GroupConfig, group_probes

        progress_to_stderr()

        budget = budget_from_args(args, batch_rows=args.batch_rows)
        extras = None
        if args.extra_columns is not None:
            extras = tuple(c for c in args.extra_columns.split(",") if c)
        with usage_errors():
            config = GroupConfig(
                min_measurements=args.min_measurements,
                test_fraction=args.test_fraction,
                seed=args.seed,
                extra_columns=extras,
            )
        stats = group_probes(args.input, args.output, budget, config)
        meta = stats.as_metadata()
        _print(
            {
                "engine": "probe_rows",
                "measurements": stats.measurements_in,
                "probes": stats.probes_train + stats.probes_test,
                "seconds": round(stats.seconds, 3),
                "measurements_per_second": round(stats.measurements_per_second),
                "cpu_seconds": _cpu_seconds(),
                "peak_rss_mb": round(max(lifetime_peak_rss_mb(), meta.get("peak_rss_mb", 0.0)), 1),
                "memory_mb": args.memory_mb,
                **{k: v for k, v in meta.items() if k not in ("seconds",)},
            }
        )
    return 0


def _shards(folder: Path) -> list[Path]:
    """The shards of ``folder``; none is an error naming what was expected and what was found."""
    from probe_rows.shards import list_shards, no_shards_error

    files = list_shards(folder)
    if not files:
        raise no_shards_error(folder)
    return files


def _cpu_seconds() -> float:
    """User + system CPU of this process so far: a figure less sensitive to a busy machine."""
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return round(use.ru_utime + use.ru_stime, 2)


def _print(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
