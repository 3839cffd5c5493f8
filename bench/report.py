"""Results out: the JSON file, the Markdown tables and the peak-memory plot of one run."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.cases import Verdict
from bench.harness import Result

LIBRARIES = ("dagster", "duckdb", "polars", "pyarrow", "pandas", "numpy")


def machine() -> dict:
    """CPU count, memory, CPU model, load and library versions: what a reader needs to weigh the figures."""
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(
    path: Path, meta: dict, results: Sequence[Result], verdicts: dict[str, list[Verdict]], skipped: dict[str, str]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        **meta,
        "results": [r.as_dict() for r in results],
        "verdicts": {k: [asdict(v) for v in vs] for k, vs in verdicts.items()},
        "skipped": skipped,
    }
    path.write_text(json.dumps(doc, indent=1, default=str))


def _spread(s, fmt: str = "{:.2f}") -> str:
    if s is None:
        return "-"
    return f"{fmt.format(s.median)} ({fmt.format(s.min)}-{fmt.format(s.max)})"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def case_markdown(title: str, target: str, results: Sequence[Result], verdicts: Sequence[Verdict]) -> str:
    """One case: a row per (input, tool), then its target judged per input (MISSED where it misses)."""
    lines = [
        f"### {title}",
        "",
        f"Target: {target}.",
        "",
        "| Input | Tool | Wall s, median (min-max) | CPU s, median | Peak RSS MB, median (min-max) "
        "| Input MB/s | Rows out | Reps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        tool = f"**{r.tool}**" if r.role == "project" else r.tool
        if r.skipped:
            lines.append(f"| {r.size} ({r.input_mb:.0f} MB) | {tool} | not run: {r.skipped} | - | - | - | - | 0 |")
            continue
        if not r.ok:
            lines.append(f"| {r.size} ({r.input_mb:.0f} MB) | {tool} | failed: {r.error} | - | - | - | - | {r.reps} |")
            continue
        lines.append(
            f"| {r.size} ({r.input_mb:.0f} MB) | {tool} | {_spread(r.wall_s)} | {r.cpu_s.median:.2f} "
            f"| {_spread(r.peak_rss_mb, '{:.0f}')} | {r.mb_per_s:.1f} | "
            f"{r.rows_out:,} | {r.reps} |"
            if r.rows_out is not None
            else f"| {r.size} ({r.input_mb:.0f} MB) | {tool} | {_spread(r.wall_s)} | {r.cpu_s.median:.2f} "
            f"| {_spread(r.peak_rss_mb, '{:.0f}')} | {r.mb_per_s:.1f} | - | {r.reps} |"
        )
    lines += [
        "",
        "| Input | Speed ratio (wall, median) | CPU-time ratio | Against | Target | Detail |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        status = "not judged" if v.met is None else ("met" if v.met else "**MISSED**")
        lines.append(
            f"| {v.size} | {_ratio(v.ratio)} | {_ratio(v.cpu_ratio)} | {v.reference} | {status} | {v.detail} |"
        )
    notes = [f"- `{r.tool}`: {r.note}" for r in {r.tool: r for r in results}.values() if r.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def markdown(meta: dict, sections: Sequence[str], skipped: dict[str, str], runs: str | None = None) -> str:
    m = meta["machine"]
    runs = runs or (
        f"scale {meta['scale']}, {meta['warmup']} warm-up + {meta['reps']} repetitions per tool, round-robin; "
        f"{meta['threads']} threads per tool; load average at start {m['load_average']}, at end {meta['load_end']}"
    )
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    head = [
        f"## Benchmark run {meta['started']}",
        "",
        f"- Machine: {m['cpus']} CPUs ({m['cpus_usable']} usable), {m['memory_gib']} GiB, {m['cpu_model']}; "
        f"{m['platform']}; Python {m['python']}",
        f"- Libraries: {libs}",
        f"- Run: {runs}",
        "- Ratios: the project's speed over the reference's in this run (> 1 is faster); "
        "CPU-time ratio likewise on user+system seconds, less sensitive to other jobs on the machine.",
        "",
    ]
    body = list(sections)
    for key, why in skipped.items():
        body.append(f"### {key}\n\n{why}.\n")
    return "\n".join(head) + "\n" + "\n".join(body)


def plot_memory(
    path: Path, results: Sequence[Result], titles: dict[str, str], budgets: dict[str, int | None] | None = None
) -> bool:
    """Peak RSS (median) against input size, one line per tool, one panel per case with 2+ sizes.

    Returns whether a plot was written.
    """
    cases = [c for c in titles if len({r.size for r in results if r.case == c and r.ok}) >= 2]
    if not cases:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(cases), figsize=(6 * len(cases), 4), squeeze=False)
    for ax, case in zip(axes[0], cases, strict=True):
        for tool in dict.fromkeys(r.tool for r in results if r.case == case):
            pts = sorted(
                (r.input_mb, r.peak_rss_mb.median) for r in results if r.case == case and r.tool == tool and r.ok
            )
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=tool)
        if budgets and budgets.get(case):
            ax.axhline(budgets[case], color="grey", linestyle="--", linewidth=1, label=f"budget {budgets[case]} MB")
        ax.set_title(titles[case], fontsize=10)
        ax.set_xlabel("input size (MB)")
        ax.set_ylabel("peak RSS (MB, median)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def merge(paths: Sequence[Path], out_dir: Path) -> tuple[Path, Path | None]:
    """Render one Markdown table set and plot from several result files (e.g. one per ``--sizes``).

    Each input keeps its own ratios (they are computed within one size of one run); the targets are
    re-judged by the cases from the merged results. Returns the Markdown path and the plot's.
    """
    from bench.cases import all_cases

    docs = [json.loads(Path(p).read_text()) for p in paths]
    results = [Result.from_dict(r) for d in docs for r in d["results"]]
    skipped = {k: v for d in docs for k, v in d["skipped"].items()}
    cases = {c.key: c for c in all_cases()}
    sections, titles = [], {}
    for key in dict.fromkeys(r.case for r in results):
        rs = [r for r in results if r.case == key]
        sections.append(case_markdown(cases[key].title, cases[key].target, rs, cases[key].verdicts(rs)))
        titles[key] = cases[key].title
    runs = "; ".join(
        f"{d['started']}: scale {d['scale']}, inputs {', '.join(d.get('sizes') or ['all'])}, {d['warmup']} warm-up + "
        f"{d['reps']} repetitions per tool round-robin, {d['threads']} threads per tool, {d['seconds']:.0f} s, "
        f"load average {d['machine']['load_average']} -> {d['load_end']}"
        for d in docs
    )
    meta = {**docs[0], "started": " + ".join(d["started"] for d in docs)}
    text = markdown(meta, sections, {t: w for t, w in skipped.items() if t not in titles.values()}, runs=runs)
    stem = "merged-" + docs[-1]["started"]
    png = out_dir / f"{stem}.png"
    if plot_memory(png, results, titles, {k: cases[k].budget_mb for k in titles}):
        text += f"\nPeak memory against input size: `{png.name}`\n"
    md = out_dir / f"{stem}.md"
    md.write_text(text)
    return md, png if png.exists() else None


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m bench.report", description="Merge result files of several runs into one Markdown file and plot"
    )
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("--out-dir", type=Path, default=None, help="default: the first file's folder")
    a = p.parse_args()
    md_path, png_path = merge(a.results, a.out_dir or a.results[0].parent)
    print(md_path.read_text())
    print(f"wrote {md_path}" + (f"\nwrote {png_path}" if png_path else ""))
