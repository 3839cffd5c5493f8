"""Case 4: pod usage daily summary of koku metrics-operator CSVs (10M line items at ``--scale 1``).

Inputs from ``python -m pod_usage.cli generate``, at half and full size so the table shows
whether peak memory stays flat. This project's streaming summary (DuckDB under a budget) vs the
in-memory pandas groupby (``bench/baselines/pod_usage_pandas.py``, the reference the streaming
summary must equal). Reported as "pipeline not present" until ``pod_usage.cli`` exists.

Seed size (``--sizes seed``, whatever the scale): 100M line items in 100 CSVs (1M a file, as at
1x). pandas is not run where its estimated peak exceeds the machine's RAM (3.3 GB at 10M: ~33 GB
at 100M); the target there is the peak within the 1024 MB budget and at least the speed of the
best peer that finished.
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

LINE_ITEMS_AT_1X = 10_000_000
FILES = 10
MEMORY_MB = 1024
FLAT = 1.25  # "flat": peak at full size at most this multiple of the peak at half size
SEED_ITEMS = 100_000_000
SEED_FILES = 100  # 1M line items a file, as at 1x
SEED_FLAT = 1.1  # issue 15: the seed peak at most this multiple of the full 1x size's peak of the same run
# pandas' peak, measured 3,343 MB at 10M line items (docs/pod_usage.md), grows with the input.
PANDAS_MB_PER_ITEM = 3_343 / 10_000_000


def generate_argv(ctx: Context, folder, rows: int, files: int = FILES) -> list[str]:
    """The project's generator as a command; adjust here if ``pod_usage.cli`` changes."""
    return [
        ctx.python,
        "-m",
        "pod_usage.cli",
        "generate",
        "--rows",
        str(rows),
        "--out",
        str(folder),
        "--files",
        str(files),
        "--seed",
        "0",
    ]


def summarize_argv(ctx: Context, inputs, output) -> list[str]:
    """The project's summary as a command; adjust here if ``pod_usage.cli`` changes."""
    return [
        ctx.python,
        "-m",
        "pod_usage.cli",
        "summarize",
        "--input",
        str(inputs),
        "--output",
        str(output),
        "--memory-mb",
        str(MEMORY_MB),
        "--threads",
        str(ctx.threads),
    ]


class PodUsage(Case):
    key = "pod_usage"
    title = "Pod usage daily summary (koku CSV line items)"
    budget_mb = MEMORY_MB
    pipeline_module = "pod_usage.cli"
    target = (
        f"faster than in-memory pandas, peak memory flat from half to full size (within {FLAT}x); at seed size "
        f"(100M items) within the {MEMORY_MB} MB budget and at least the speed of the best peer that finished "
        "(pandas only where it fits in RAM)"
    )

    def sizes(self, scale: float) -> list[Size]:
        full = max(FILES * 100, round(LINE_ITEMS_AT_1X * scale))
        return [Size(f"{full // 2:,} items", {"rows": full // 2}), Size(f"{full:,} items", {"rows": full})]

    def seed_sizes(self) -> list[Size]:
        return [Size(f"seed {SEED_ITEMS:,} items", {"rows": SEED_ITEMS, "files": SEED_FILES})]

    def prepare(self, size: Size, ctx: Context) -> Inputs:
        rows, files = size.params["rows"], size.params.get("files", FILES)
        folder = ctx.work / "inputs" / self.key / (f"rows-{rows}" + ("" if files == FILES else f"-files-{files}"))
        self.generate(folder, generate_argv(ctx, folder, rows, files), ctx)
        mb, _ = folder_size(folder, "*.csv")
        return Inputs(path=folder, mb=mb, rows=size.params["rows"])

    def tools(self, size: Size, inputs: Inputs, ctx: Context) -> list[Tool]:
        def output(name: str):
            return ctx.out_dir(self.key, size.label.replace(",", "").replace(" ", "_"), name) / "summary"

        ours, theirs = output("pod_usage"), output("pandas_in_memory")
        clear = ours.parents[1] if is_seed(size.label) else None  # seed: one output on disk at a time
        pandas_argv = self.baseline("pod_usage_pandas.py", ctx, "--input", str(inputs.path), "--output", str(theirs))
        skip = memory_skip(
            "pandas", PANDAS_MB_PER_ITEM * inputs.rows, ctx.ram_mb, "3.3 GB measured at 10M items, growing linearly"
        )
        return [
            Tool(
                "pod_usage",
                summarize_argv(ctx, inputs.path, ours),
                role="project",
                before_each=self.fresh(ours, also=clear),
            ),
            Tool(
                "pandas_in_memory",
                pandas_argv,
                role="baseline",
                before_each=self.fresh(theirs, also=clear),
                skip=skip,
            ),
        ]

    def verdicts(self, results: Sequence[Result]) -> list[Verdict]:
        sizes = list(dict.fromkeys(r.size for r in results))
        peaks = [by_tool(results, s).get("pod_usage") for s in sizes if not is_seed(s)]
        flat = None
        if len(peaks) >= 2 and all(p and p.ok for p in peaks):
            flat = peaks[-1].peak_rss_mb.median / peaks[0].peak_rss_mb.median
        out = []
        for size in sizes:
            rs = by_tool(results, size)
            if is_seed(size):
                # Issue 15: the seed peak within 1.1x of the largest 1x size's peak of the same run.
                base = peaks[-1].peak_rss_mb.max if peaks and peaks[-1] and peaks[-1].ok else None
                out.append(seed_verdict(size, rs.get("pod_usage"), rs.values(), MEMORY_MB, base, SEED_FLAT))
                continue
            ratio, cpu_ratio = speed_ratio(rs.get("pod_usage"), rs.get("pandas_in_memory"))
            met = None if ratio is None else ratio > 1.0 and (flat is None or flat <= FLAT)
            detail = f"peak growth half -> full size {flat:.2f}x (target <= {FLAT}x)" if flat else ""
            pandas = rs.get("pandas_in_memory")
            if pandas and pandas.skipped:
                detail = "; ".join(d for d in (detail, f"pandas_in_memory not run: {pandas.skipped}") if d)
            out.append(
                Verdict(
                    size=size, ratio=ratio, cpu_ratio=cpu_ratio, reference="pandas_in_memory", met=met, detail=detail
                )
            )
        return out
