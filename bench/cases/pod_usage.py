"""Case 4: pod usage daily summary of koku metrics-operator CSVs (10M line items at ``--scale 1``).

Inputs from ``python -m pod_usage.cli generate``, at half and full size so the table shows
whether peak memory stays flat. This project's streaming summary (DuckDB under a budget) vs the
in-memory pandas groupby (``bench/baselines/pod_usage_pandas.py``, the reference the streaming
summary must equal). Reported as "pipeline not present" until ``pod_usage.cli`` exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.cases import Case, Context, Inputs, Size, Verdict, by_tool, folder_size, speed_ratio
from bench.harness import Result, Tool

LINE_ITEMS_AT_1X = 10_000_000
FILES = 10
MEMORY_MB = 1024
FLAT = 1.25  # "flat": peak at full size at most this multiple of the peak at half size


def generate_argv(ctx: Context, folder, rows: int) -> list[str]:
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
        str(FILES),
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
    target = f"faster than in-memory pandas, peak memory flat from half to full size (within {FLAT}x)"

    def sizes(self, scale: float) -> list[Size]:
        full = max(FILES * 100, round(LINE_ITEMS_AT_1X * scale))
        return [Size(f"{full // 2:,} items", {"rows": full // 2}), Size(f"{full:,} items", {"rows": full})]

    def prepare(self, size: Size, ctx: Context) -> Inputs:
        folder = ctx.work / "inputs" / self.key / f"rows-{size.params['rows']}"
        self.generate(folder, generate_argv(ctx, folder, size.params["rows"]), ctx)
        mb, _ = folder_size(folder, "*.csv")
        return Inputs(path=folder, mb=mb, rows=size.params["rows"])

    def tools(self, size: Size, inputs: Inputs, ctx: Context) -> list[Tool]:
        def output(name: str):
            return ctx.out_dir(self.key, size.label.replace(",", "").replace(" ", "_"), name) / "summary"

        ours, theirs = output("pod_usage"), output("pandas_in_memory")
        pandas_argv = self.baseline("pod_usage_pandas.py", ctx, "--input", str(inputs.path), "--output", str(theirs))
        return [
            Tool("pod_usage", summarize_argv(ctx, inputs.path, ours), role="project", before_each=self.fresh(ours)),
            Tool("pandas_in_memory", pandas_argv, role="baseline", before_each=self.fresh(theirs)),
        ]

    def verdicts(self, results: Sequence[Result]) -> list[Verdict]:
        sizes = list(dict.fromkeys(r.size for r in results))
        peaks = [by_tool(results, s).get("pod_usage") for s in sizes]
        flat = None
        if len(peaks) >= 2 and all(p and p.ok for p in peaks):
            flat = peaks[-1].peak_rss_mb.median / peaks[0].peak_rss_mb.median
        out = []
        for size in sizes:
            rs = by_tool(results, size)
            ratio, cpu_ratio = speed_ratio(rs.get("pod_usage"), rs.get("pandas_in_memory"))
            met = None if ratio is None else ratio > 1.0 and (flat is None or flat <= FLAT)
            detail = f"peak growth half -> full size {flat:.2f}x (target <= {FLAT}x)" if flat else ""
            out.append(
                Verdict(
                    size=size, ratio=ratio, cpu_ratio=cpu_ratio, reference="pandas_in_memory", met=met, detail=detail
                )
            )
        return out
