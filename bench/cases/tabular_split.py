"""Case 3: stratified train/val/test split of wide tabular shards (200 columns, 40 parquet shards).

3M and 6M rows at ``--scale 1`` from ``python -m tabular.cli generate``. This project's streaming
stratified split vs a DuckDB hash split without a memory limit (the reference) and with a 2 GB
``memory_limit`` (information: starved, it slows down many times) vs pandas (load everything,
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


def split_argv(ctx: Context, inputs, output) -> list[str]:
    """The project's stratified split as a command; adjust here if ``tabular.cli`` changes."""
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
        "stratified",
        "--memory-mb",
        str(MEMORY_MB),
        "--threads",
        str(ctx.threads),
    ]


class TabularSplit(Case):
    key = "tabular_split"
    title = f"Stratified split ({COLUMNS} columns, {SHARDS} shards)"
    budget_mb = MEMORY_MB
    pipeline_module = "tabular.cli"
    target = (
        "at least the speed of DuckDB's hash split without a memory limit, by wall and by CPU time, "
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
            Tool(
                "tabular",
                split_argv(ctx, inputs.path, out("tabular")),
                role="project",
                before_each=self.fresh(out("tabular")),
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
            project, ref = rs.get("tabular"), rs.get(REFERENCE)
            ratio, cpu_ratio = speed_ratio(project, ref)
            if ratio is None or cpu_ratio is None:
                out.append(
                    Verdict(
                        size=size,
                        ratio=ratio,
                        cpu_ratio=cpu_ratio,
                        reference=REFERENCE,
                        detail=project.error if project and project.error else "not run",
                    )
                )
                continue
            peak, ref_peak = project.peak_rss_mb.max, ref.peak_rss_mb.max
            met = ratio >= TARGET_RATIO and cpu_ratio >= TARGET_RATIO and peak <= PEAK_SHARE * ref_peak
            out.append(
                Verdict(
                    size=size,
                    ratio=ratio,
                    cpu_ratio=cpu_ratio,
                    reference=REFERENCE,
                    met=met,
                    detail=f"target {TARGET_RATIO}x wall and CPU; peak RSS {peak:.0f} MB vs a quarter "
                    f"of DuckDB's {ref_peak:.0f} MB",
                )
            )
        return out
