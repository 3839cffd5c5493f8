"""Case 3: stratified train/val/test split of wide tabular shards (200 columns, 40 parquet shards).

3M and 6M rows at ``--scale 1`` from ``python -m tabular.cli generate``. This project's streaming
stratified split vs pandas (load everything, split, write) vs a DuckDB hash split without and with
a 2 GB ``memory_limit``. Reported as "pipeline not present" until ``tabular.cli`` exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.cases import Case, Context, Inputs, Size, Verdict, by_tool, folder_size, speed_ratio
from bench.harness import Result, Tool

ROWS_AT_1X = (3_000_000, 6_000_000)
COLUMNS = 200
SHARDS = 40
MEMORY_MB = 1024  # the project's budget for the split
PEAK_TARGET_MB = 1536
REFERENCE = "duckdb_2gb"


def generate_argv(ctx: Context, folder, rows: int) -> list[str]:
    """The project's generator as a command; adjust here if ``tabular.cli`` changes."""
    return [ctx.python, "-m", "tabular.cli", "generate", "--out", str(folder), "--rows", str(rows),
            "--cols", str(COLUMNS), "--files", str(SHARDS), "--seed", "0"]


def split_argv(ctx: Context, inputs, output) -> list[str]:
    """The project's stratified split as a command; adjust here if ``tabular.cli`` changes."""
    return [ctx.python, "-m", "tabular.cli", "split", "--input", str(inputs), "--output", str(output),
            "--label", "label", "--mode", "stratified", "--memory-mb", str(MEMORY_MB), "--threads", str(ctx.threads)]


class TabularSplit(Case):
    key = "tabular_split"
    title = f"Stratified split ({COLUMNS} columns, {SHARDS} shards)"
    budget_mb = PEAK_TARGET_MB
    pipeline_module = "tabular.cli"
    target = f"at least the speed of DuckDB under a 2 GB limit, peak RSS under {PEAK_TARGET_MB} MB"

    def sizes(self, scale: float) -> list[Size]:
        return [Size(f"{max(SHARDS * 10, round(n * scale)):,} rows", {"rows": max(SHARDS * 10, round(n * scale))})
                for n in ROWS_AT_1X]

    def prepare(self, size: Size, ctx: Context) -> Inputs:
        folder = ctx.work / "inputs" / self.key / f"rows-{size.params['rows']}"
        self.generate(folder, generate_argv(ctx, folder, size.params["rows"]), ctx)
        mb, _ = folder_size(folder, "*.parquet")
        return Inputs(path=folder, mb=mb, rows=size.params["rows"])

    def tools(self, size: Size, inputs: Inputs, ctx: Context) -> list[Tool]:
        def out(name: str):
            return ctx.out_dir(self.key, size.label.replace(",", "").replace(" ", "_"), name) / "split"

        def duck(name: str, *limit: str) -> Tool:
            return Tool(name, self.baseline("tabular_duckdb.py", ctx, "--input", str(inputs.path), "--output",
                                            str(out(name)), "--threads", str(ctx.threads), *limit,
                                            "--spill-dir", str(out(name).parent / "spill")),
                        before_each=self.fresh(out(name)))

        return [
            Tool("tabular", split_argv(ctx, inputs.path, out("tabular")), role="project",
                 before_each=self.fresh(out("tabular"))),
            duck("duckdb_unlimited"),
            duck(REFERENCE, "--memory-limit", "2GB"),
            Tool("pandas_all", self.baseline("tabular_pandas.py", ctx, "--input", str(inputs.path),
                                             "--output", str(out("pandas_all"))),
                 before_each=self.fresh(out("pandas_all"))),
        ]

    def verdicts(self, results: Sequence[Result]) -> list[Verdict]:
        out = []
        for size in dict.fromkeys(r.size for r in results):
            rs = by_tool(results, size)
            project = rs.get("tabular")
            ratio, cpu_ratio = speed_ratio(project, rs.get(REFERENCE))
            peak = project.peak_rss_mb.max if project and project.ok else None
            met = None if ratio is None else ratio >= 1.0 and peak < PEAK_TARGET_MB
            out.append(Verdict(size=size, ratio=ratio, cpu_ratio=cpu_ratio, reference=REFERENCE, met=met,
                               detail=f"peak RSS {peak:.0f} MB vs {PEAK_TARGET_MB} MB" if peak is not None
                               else (project.error if project else "not run")))
        return out
