"""Case 3: train/val/test splits of wide tabular shards (200 columns, 40 parquet shards).

3M and 6M rows at ``--scale 1`` from ``python -m tabular.cli generate``. This project's streaming
splits (stratified: the ``tabular`` row; random and temporal: ``tabular_random`` and
``tabular_temporal``, each judged) vs a DuckDB hash split without a memory limit (the reference)
and with a 2 GB ``memory_limit`` (information: starved, it slows down many times) vs pandas (load everything,
split, write). Reported as "pipeline not present" until ``tabular.cli`` exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.cases import Case, Context, Inputs, Size, Verdict, by_tool, folder_size, speed_ratio
from bench.harness import Result, Tool

ROWS_AT_1X = (3_000_000, 6_000_000)
COLUMNS = 200
SHARDS = 40
MEMORY_MB = 1024  # the project's budget for the split
REFERENCE = "duckdb_unlimited"  # the peer a user would run
STARVED = "duckdb_2gb"  # DuckDB under a 2 GB memory_limit: information (it slows down many times)
TARGET_RATIO = 1.0  # x the reference's speed, by wall and by CPU time
PEAK_SHARE = 0.25  # the project's peak at most this share of the reference's
# The project's rows: tool name -> split mode. Temporal: customers by first-seen date (the
# generator spreads them over 2024), the cutoffs of docs/tabular.md's measurements.
MODES = {"tabular": "stratified", "tabular_random": "random", "tabular_temporal": "temporal"}
TEMPORAL = ["--customer-column", "customer_id", "--date-column", "event_time", "--cutoffs", "2024-08-01,2024-10-01"]


def generate_argv(ctx: Context, folder, rows: int) -> list[str]:
    """The project's generator as a command; adjust here if ``tabular.cli`` changes."""
    return [
        ctx.python,
        "-m",
        "tabular.cli",
        "generate",
        "--out",
        str(folder),
        "--rows",
        str(rows),
        "--cols",
        str(COLUMNS),
        "--files",
        str(SHARDS),
        "--seed",
        "0",
    ]


def split_argv(ctx: Context, inputs, output, mode: str = "stratified") -> list[str]:
    """The project's split in ``mode`` as a command; adjust here if ``tabular.cli`` changes."""
    return [
        ctx.python,
        "-m",
        "tabular.cli",
        "split",
        "--input",
        str(inputs),
        "--output",
        str(output),
        "--label",
        "label",
        "--mode",
        mode,
        *(TEMPORAL if mode == "temporal" else []),
        "--memory-mb",
        str(MEMORY_MB),
        "--threads",
        str(ctx.threads),
    ]


class TabularSplit(Case):
    key = "tabular_split"
    title = f"Stratified, random and temporal splits ({COLUMNS} columns, {SHARDS} shards)"
    budget_mb = MEMORY_MB
    pipeline_module = "tabular.cli"
    target = (
        "each split mode at least the speed of DuckDB's hash split without a memory limit, by wall and by CPU time, "
        "at no more than a quarter of its peak RSS (DuckDB under a 2 GB limit and pandas for information)"
    )

    def sizes(self, scale: float) -> list[Size]:
        return [
            Size(f"{max(SHARDS * 10, round(n * scale)):,} rows", {"rows": max(SHARDS * 10, round(n * scale))})
            for n in ROWS_AT_1X
        ]

    def prepare(self, size: Size, ctx: Context) -> Inputs:
        folder = ctx.work / "inputs" / self.key / f"rows-{size.params['rows']}"
        self.generate(folder, generate_argv(ctx, folder, size.params["rows"]), ctx)
        mb, _ = folder_size(folder, "*.parquet")
        return Inputs(path=folder, mb=mb, rows=size.params["rows"])

    def tools(self, size: Size, inputs: Inputs, ctx: Context) -> list[Tool]:
        def out(name: str):
            return ctx.out_dir(self.key, size.label.replace(",", "").replace(" ", "_"), name) / "split"

        def duck(name: str, *limit: str) -> Tool:
            return Tool(
                name,
                self.baseline(
                    "tabular_duckdb.py",
                    ctx,
                    "--input",
                    str(inputs.path),
                    "--output",
                    str(out(name)),
                    "--threads",
                    str(ctx.threads),
                    *limit,
                    "--spill-dir",
                    str(out(name).parent / "spill"),
                ),
                before_each=self.fresh(out(name)),
            )

        return [
            *(
                Tool(
                    name,
                    split_argv(ctx, inputs.path, out(name), mode),
                    role="project",
                    before_each=self.fresh(out(name)),
                )
                for name, mode in MODES.items()
            ),
            duck(REFERENCE),
            duck(STARVED, "--memory-limit", "2GB"),
            Tool(
                "pandas_all",
                self.baseline(
                    "tabular_pandas.py", ctx, "--input", str(inputs.path), "--output", str(out("pandas_all"))
                ),
                before_each=self.fresh(out("pandas_all")),
            ),
        ]

    def verdicts(self, results: Sequence[Result]) -> list[Verdict]:
        out = []
        for size in dict.fromkeys(r.size for r in results):
            rs = by_tool(results, size)
            ref = rs.get(REFERENCE)
            for name, mode in MODES.items():
                project = rs.get(name)
                if project is None:
                    continue
                label = f"{size}, {mode}"
                ratio, cpu_ratio = speed_ratio(project, ref)
                if ratio is None or cpu_ratio is None:
                    detail = project.error if project.error else f"{REFERENCE} not run"
                    out.append(
                        Verdict(size=label, ratio=ratio, cpu_ratio=cpu_ratio, reference=REFERENCE, detail=detail)
                    )
                    continue
                peak, ref_peak = project.peak_rss_mb.max, ref.peak_rss_mb.max
                met = ratio >= TARGET_RATIO and cpu_ratio >= TARGET_RATIO and peak <= PEAK_SHARE * ref_peak
                out.append(
                    Verdict(
                        size=label,
                        ratio=ratio,
                        cpu_ratio=cpu_ratio,
                        reference=REFERENCE,
                        met=met,
                        detail=f"target {TARGET_RATIO}x wall and CPU; peak RSS {peak:.0f} MB vs a quarter "
                        f"of DuckDB's {ref_peak:.0f} MB",
                    )
                )
        return out
