"""Case 3: train/val/test splits of wide tabular shards (200 columns, 40 parquet shards).

3M and 6M rows at ``--scale 1`` from ``python -m tabular.cli generate``. This project's streaming
splits (stratified: the ``tabular`` row; random and temporal: ``tabular_random`` and
``tabular_temporal``, each judged) vs a DuckDB hash split without a memory limit (the reference)
and with a 2 GB ``memory_limit`` (information: starved, it slows down many times) vs pandas (load everything,
split, write). Reported as "pipeline not present" until ``tabular.cli`` exists.

Seed sizes (``--sizes seed``, whatever the scale): the seed's width, 831 columns (the generator's
mix: every tenth feature a string, the rest numeric) at 3M rows in 40 shards, and the seed's
length, 30M rows at 200 columns in 400 shards (75,000 rows a shard, as at 1x). There the project
runs the stratified and temporal splits with ``--memory-mb 2048`` (the random one is not run),
DuckDB unlimited and pandas are not run where their estimated peak exceeds the machine's RAM,
and the target is the peak within 2048 MB, within 1.1x of the same mode's peak on the 1x input
(``seed 1x 3M x 200``: the 3M x 200 input of ``--scale 1`` run at the seed budget in the same
run, so that the two peaks are comparable) and at least the speed of the best peer that finished.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.cases import (
    Case,
    Context,
    Inputs,
    Size,
    Verdict,
    by_tool,
    folder_size,
    is_seed,
    memory_skip,
    seed_verdict,
    speed_ratio,
)
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
# Seed sizes: (label, rows, columns, shards); the project's budget there, and the modes it runs.
# The first is the 1x input (3M x 200 at ``--scale 1``) at the seed budget: the peak the seed sizes'
# peaks are compared with (issue 15: within ``SEED_FLAT`` of it).
SEED_BASE = "seed 1x 3M x 200"
SEEDS = (
    (SEED_BASE, ROWS_AT_1X[0], COLUMNS, SHARDS),
    ("seed 3M x 831", 3_000_000, 831, 40),
    ("seed 30M x 200", 30_000_000, 200, 400),
)
SEED_MEMORY_MB = 2048
SEED_FLAT = 1.1
SEED_MODES = ("stratified", "temporal")
# The peers' peaks per cell (row x column), measured at 3M rows x 200 columns on the quiet
# machine (RESULTS.md, issue 16): DuckDB unlimited 10.3 GB, pandas 8.7 GB; rounded up.
PEAK_MB_PER_CELL = {REFERENCE: 3_500 / 200e6, "pandas_all": 2_900 / 200e6}
TEMPORAL = ["--customer-column", "customer_id", "--date-column", "event_time", "--cutoffs", "2024-08-01,2024-10-01"]


def generate_argv(ctx: Context, folder, rows: int, cols: int = COLUMNS, shards: int = SHARDS) -> list[str]:
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
        str(cols),
        "--files",
        str(shards),
        "--seed",
        "0",
    ]


def split_argv(ctx: Context, inputs, output, mode: str = "stratified", memory_mb: int = MEMORY_MB) -> list[str]:
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
        str(memory_mb),
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
        "at no more than a quarter of its peak RSS (DuckDB under a 2 GB limit and pandas for information); at seed "
        f"size (3M x 831, 30M x 200) stratified and temporal within {SEED_MEMORY_MB} MB and {SEED_FLAT}x their peak on "
        f"3M x 200 at the same budget ({SEED_BASE!r}, same run), and at least the speed of the best peer that finished "
        "(DuckDB unlimited and pandas only where they fit in RAM)"
    )

    def sizes(self, scale: float) -> list[Size]:
        return [
            Size(f"{max(SHARDS * 10, round(n * scale)):,} rows", {"rows": max(SHARDS * 10, round(n * scale))})
            for n in ROWS_AT_1X
        ]

    def seed_sizes(self) -> list[Size]:
        return [Size(label, {"rows": rows, "cols": cols, "shards": shards}) for label, rows, cols, shards in SEEDS]

    def prepare(self, size: Size, ctx: Context) -> Inputs:
        p = size.params
        cols, shards = p.get("cols", COLUMNS), p.get("shards", SHARDS)
        name = f"rows-{p['rows']}" + ("" if (cols, shards) == (COLUMNS, SHARDS) else f"-cols-{cols}-shards-{shards}")
        folder = ctx.work / "inputs" / self.key / name
        self.generate(folder, generate_argv(ctx, folder, p["rows"], cols, shards), ctx)
        mb, _ = folder_size(folder, "*.parquet")
        return Inputs(path=folder, mb=mb, rows=p["rows"])

    def tools(self, size: Size, inputs: Inputs, ctx: Context) -> list[Tool]:
        def out(name: str):
            return ctx.out_dir(self.key, size.label.replace(",", "").replace(" ", "_"), name) / "split"

        seed = is_seed(size.label)
        # At seed size every run first removes the other tools' outputs: one output on disk at a time.
        clear = out(REFERENCE).parents[1] if seed else None
        cells = inputs.rows * size.params.get("cols", COLUMNS)

        def fits(name: str) -> str | None:
            return memory_skip(
                name, PEAK_MB_PER_CELL[name] * cells, ctx.ram_mb, "its peak at 3M rows x 200 columns, per cell"
            )

        def duck(name: str, *limit: str, skip: str | None = None) -> Tool:
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
                before_each=self.fresh(out(name), also=clear),
                skip=skip,
            )

        memory_mb = SEED_MEMORY_MB if seed else MEMORY_MB
        return [
            *(
                Tool(
                    name,
                    split_argv(ctx, inputs.path, out(name), mode, memory_mb),
                    role="project",
                    before_each=self.fresh(out(name), also=clear),
                    skip=None if not seed or mode in SEED_MODES else f"{mode} split not asked for at seed size",
                )
                for name, mode in MODES.items()
            ),
            duck(REFERENCE, skip=fits(REFERENCE)),
            duck(STARVED, "--memory-limit", "2GB"),
            Tool(
                "pandas_all",
                self.baseline(
                    "tabular_pandas.py", ctx, "--input", str(inputs.path), "--output", str(out("pandas_all"))
                ),
                before_each=self.fresh(out("pandas_all"), also=clear),
                skip=fits("pandas_all"),
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
                if is_seed(size):
                    base = by_tool(results, SEED_BASE).get(name) if size != SEED_BASE else None
                    base_peak = base.peak_rss_mb.max if base and base.ok else None
                    out.append(seed_verdict(label, project, rs.values(), SEED_MEMORY_MB, base_peak, SEED_FLAT))
                    continue
                ratio, cpu_ratio = speed_ratio(project, ref)
                if ratio is None or cpu_ratio is None:
                    if project.error or project.skipped:
                        detail = project.error or f"not run: {project.skipped}"
                    else:
                        detail = f"{REFERENCE} not run" + (f": {ref.skipped}" if ref and ref.skipped else "")
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
