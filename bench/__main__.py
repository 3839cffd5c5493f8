"""``python -m bench``: run the benchmark cases and write the results (see bench/README.md).

    python -m bench [--scale 0.1] [--cases csv_parquet ...] [--reps 3] [--warmup 1] [--work-dir DIR]

Writes ``<work-dir>/results-<timestamp>.json``, ``.md`` and, for cases with several input sizes,
``memory-<timestamp>.png``; prints the Markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.cases import PROJECT_ROOT, Context, all_cases, select_sizes
from bench.harness import child_env, measure

DEFAULT_SCALE = 0.1  # 1x = the sizes (1 GB of CSV, 20M probes, ...): a few minutes on 2 cores


def main(argv: list[str] | None = None) -> int:
    cases = all_cases()
    keys = [c.key for c in cases]
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help=f"multiplies every input size; 1 = the issue's sizes (default {DEFAULT_SCALE})",
    )
    p.add_argument("--cases", nargs="+", choices=keys, default=keys, metavar="CASE", help=f"of {keys}")
    p.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="LABEL",
        help="run only these inputs of each case, by label (e.g. 1x; `seed` for the seed sizes, "
        "never run otherwise); default all but the seed sizes",
    )
    p.add_argument("--reps", type=int, default=3, help="measured repetitions per tool (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="unrecorded runs per tool first (default 1)")
    p.add_argument("--threads", type=int, default=2, help="threads given to every tool (default 2)")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=PROJECT_ROOT / "bench" / "out",
        help="inputs (cached), outputs and results (default bench/out)",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a run is killed (default 1800)")
    args = p.parse_args(argv)
    if args.scale <= 0 or args.reps < 1 or args.warmup < 0:
        p.error("--scale must be positive, --reps at least 1, --warmup at least 0")

    work = args.work_dir.resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ctx = Context(work=work, env=child_env(PROJECT_ROOT), threads=args.threads)
    meta = {
        "started": stamp,
        "scale": args.scale,
        "sizes": args.sizes,
        "reps": args.reps,
        "warmup": args.warmup,
        "threads": args.threads,
        "machine": report.machine(),
    }
    results, verdicts, skipped, sections, titles = [], {}, {}, [], {}
    t0 = time.perf_counter()
    for case in (c for c in cases if c.key in args.cases):
        why = case.missing()
        if why:
            skipped[case.title] = why
            print(f"{case.key}: {why}", flush=True)
            continue
        case_results = []
        for size in select_sizes(case, args.scale, args.sizes):
            print(f"{case.key} {size.label}: preparing inputs", flush=True)
            inputs = case.prepare(size, ctx)
            print(f"{case.key} {size.label}: {inputs.mb:.1f} MB, {inputs.rows:,} rows", flush=True)
            case_results += measure(
                case.key,
                size.label,
                case.tools(size, inputs, ctx),
                input_mb=inputs.mb,
                input_rows=inputs.rows,
                reps=args.reps,
                warmup=args.warmup,
                cwd=PROJECT_ROOT,
                env=ctx.env,
                log_root=work / "logs",
                timeout_s=args.timeout,
                progress=lambda m: print(m, flush=True),
            )
        verdicts[case.key] = case.verdicts(case_results)
        sections.append(report.case_markdown(case.title, case.target, case_results, verdicts[case.key]))
        titles[case.key] = case.title
        results += case_results
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]

    json_path, md_path = (work / f"results-{stamp}.{ext}" for ext in ("json", "md"))
    png_path = work / f"memory-{stamp}.png"
    report.write_json(json_path, meta, results, verdicts, skipped)
    text = report.markdown(meta, sections, skipped)
    budgets = {c.key: c.budget_mb for c in cases if c.key in titles}
    if report.plot_memory(png_path, results, titles, budgets):
        text += f"\nPeak memory against input size: `{png_path.name}`\n"
    md_path.write_text(text)
    print(text)
    print(f"wrote {json_path}\nwrote {md_path}" + (f"\nwrote {png_path}" if png_path.exists() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
