"""The benchmark cases, one module each, and what they share.

A case declares its input sizes at a ``--scale``, how to generate one input (with the project's own
generator, run as a process; cached between runs), the tools to compare on it (this project's
command and the baselines, each a command line) and how to judge its target from the results.
A case whose pipeline has not landed yet (:attr:`Case.pipeline_module` not importable) is reported
as "pipeline not present" instead of being run.

Seed sizes (:meth:`Case.seed_sizes`, labels starting with ``seed``) are the seeds' own volumes,
independent of ``--scale`` and run only when asked for (``--sizes seed``, see :func:`select_sizes`).
A peer whose estimated peak memory exceeds the machine's RAM is not started but shown as
"not run: <reason>" (:func:`memory_skip`).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.harness import Result, Tool

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASELINES = PROJECT_ROOT / "bench" / "baselines"
MB = 1024 * 1024
SEED = "seed"  # the label prefix of the seed sizes


@dataclass(frozen=True)
class Size:
    """One input of a case: ``label`` for the table, ``params`` for the generator."""

    label: str
    params: dict


@dataclass(frozen=True)
class Inputs:
    """A generated input: its folder, size on disk and rows."""

    path: Path
    mb: float
    rows: int


@dataclass
class Context:
    """Where a run writes, and the bounds every tool is given."""

    work: Path  # inputs (cached) and per-run outputs live under here
    env: dict[str, str]
    threads: int = 2
    python: str = sys.executable
    ram_mb: float = field(default_factory=lambda: psutil.virtual_memory().total / MB)  # peers must fit in it

    def out_dir(self, case: str, size: str, tool: str) -> Path:
        return self.work / "runs" / case / size / tool


@dataclass
class Verdict:
    """A case's target judged on one input: ``ratio`` of the project's speed to the reference's."""

    size: str
    ratio: float | None
    reference: str
    cpu_ratio: float | None = None
    met: bool | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)


class Case:
    key: str
    title: str
    pipeline_module: str | None = None  # importable when the pipeline has landed
    target: str = ""
    budget_mb: int | None = None  # the project's memory budget or target: a line on the memory plot

    def missing(self) -> str | None:
        """Why the case cannot run here (``None`` when it can)."""
        if self.pipeline_module and _find_spec(self.pipeline_module) is None:
            return f"pipeline not present (no module {self.pipeline_module})"
        return None

    def sizes(self, scale: float) -> list[Size]:
        raise NotImplementedError

    def seed_sizes(self) -> list[Size]:
        """The seeds' own volumes (labels starting with ``seed``): whatever the scale, only on request."""
        return []

    def prepare(self, size: Size, ctx: Context) -> Inputs:
        raise NotImplementedError

    def tools(self, size: Size, inputs: Inputs, ctx: Context) -> list[Tool]:
        raise NotImplementedError

    def verdicts(self, results: Sequence[Result]) -> list[Verdict]:
        raise NotImplementedError

    # -- shared helpers ------------------------------------------------------------------------
    def generate(self, folder: Path, argv: list[str], ctx: Context) -> None:
        """Run a generator command into ``folder`` unless the same command already filled it.

        The command line is stored in ``folder/.bench-inputs.json``; anything else there is
        deleted and regenerated, so a changed size or generator never reuses stale inputs.
        """
        marker = folder / ".bench-inputs.json"
        try:
            if json.loads(marker.read_text()) == argv[1:]:
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        subprocess.run(argv, cwd=PROJECT_ROOT, env=ctx.env, check=True, stdout=subprocess.DEVNULL)
        marker.write_text(json.dumps(argv[1:]))

    def fresh(self, path: Path, also: Path | None = None):
        """A ``before_each`` that removes an output file or folder left by the previous run, and
        ``also`` (at seed sizes: every tool's outputs of the input, so the disk holds one at a time)."""

        def reset() -> None:
            if also is not None:
                shutil.rmtree(also, ignore_errors=True)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)

        return reset

    def baseline(self, script: str, ctx: Context, *args: str) -> list[str]:
        return [ctx.python, str(BASELINES / script), *args]


def is_seed(label: str) -> bool:
    return label == SEED or label.startswith(SEED + " ")


def select_sizes(case: Case, scale: float, requested: Sequence[str] | None) -> list[Size]:
    """The inputs of ``case`` that ``--sizes`` asks for (``None``: every size but the seed ones).

    A requested label selects the size of that label and every size whose label starts with it and
    a space, so ``seed`` selects ``seed sorted`` and ``seed shuffled``. Seed sizes are added only
    when a requested label starts with ``seed`` (they take hours and tens of GB of disk).
    """
    sizes = case.sizes(scale)
    if not requested:
        return sizes
    if any(r.startswith(SEED) for r in requested):
        sizes = sizes + case.seed_sizes()
    return [s for s in sizes if any(s.label == r or s.label.startswith(r + " ") for r in requested)]


def memory_skip(tool: str, estimate_mb: float, ram_mb: float, basis: str) -> str | None:
    """Why ``tool`` is not run (its estimated peak exceeds the machine's RAM), or ``None`` to run it.

    ``basis`` says where the estimate comes from (a measured peak scaled by the input). A peer that
    cannot fit would only be killed by the kernel's OOM killer, possibly with other processes.
    """
    if estimate_mb <= ram_mb:
        return None
    return (
        f"{tool} would need about {estimate_mb / 1024:.0f} GB ({basis}), "
        f"more than this machine's {ram_mb / 1024:.0f} GiB of RAM"
    )


def seed_verdict(
    size: str,
    project: Result | None,
    results: Iterable[Result],
    budget_mb: float,
    base_peak_mb: float | None = None,
    flat: float = 1.1,
) -> Verdict:
    """The target at a seed size: the project's peak within ``budget_mb`` (and within ``flat`` x
    ``base_peak_mb``, its 1x peak in the same run, when given) and its speed at least the best peer
    that finished, by wall (fastest peer by wall) and by CPU time (least CPU of any peer). The peers
    are the baselines among ``results`` (the size's results; the project's own rows are left out).

    ``met`` is ``False`` when memory misses or a finishing peer is faster; ``None`` (not judged)
    when the project did not finish or, memory met, no peer finished to compare with.
    """
    if not (project and project.ok):
        why = project.error or project.skipped if project else None
        return Verdict(size=size, ratio=None, reference="best peer", detail=why or "not run")
    peers = [r for r in results if r.role.startswith("baseline")]
    peak = project.peak_rss_mb.max
    memory_ok = peak <= budget_mb
    detail = f"peak RSS {peak:.0f} MB (max of reps) vs budget {budget_mb:.0f} MB"
    if base_peak_mb:
        memory_ok = memory_ok and peak <= flat * base_peak_mb
        detail += f", {peak / base_peak_mb:.2f}x the 1x peak ({base_peak_mb:.0f} MB; target <= {flat}x)"
    done = [p for p in peers if p.ok]
    not_done = [f"{p.tool} {'not run' if p.skipped else 'failed'}" for p in peers if not p.ok]
    if not done:
        detail += "; no peer finished" + (f" ({', '.join(not_done)})" if not_done else "") + ": speed not judged"
        met = False if not memory_ok else None
        return Verdict(size=size, ratio=None, reference="none finished", met=met, detail=detail)
    by_wall = min(done, key=lambda r: r.wall_s.median)
    by_cpu = min(done, key=lambda r: r.cpu_s.median)
    ratio = by_wall.wall_s.median / project.wall_s.median
    cpu_ratio = by_cpu.cpu_s.median / project.cpu_s.median if project.cpu_s.median > 0 else None
    reference = by_wall.tool if by_wall is by_cpu else f"{by_wall.tool} (wall), {by_cpu.tool} (CPU)"
    met = memory_ok and ratio >= 1.0 and cpu_ratio is not None and cpu_ratio >= 1.0
    detail += "; target >= 1.0x the best finishing peer by wall and CPU"
    if not_done:
        detail += f" ({', '.join(not_done)})"
    return Verdict(size=size, ratio=ratio, cpu_ratio=cpu_ratio, reference=reference, met=met, detail=detail)


def _find_spec(module: str):
    try:
        return importlib.util.find_spec(module)
    except ModuleNotFoundError:  # the parent package itself is absent
        return None


def folder_size(path: Path, pattern: str) -> tuple[float, list[Path]]:
    files = sorted(path.rglob(pattern))
    return sum(f.stat().st_size for f in files) / MB, files


def by_tool(results: Sequence[Result], size: str) -> dict[str, Result]:
    return {r.tool: r for r in results if r.size == size}


def speed_ratio(project: Result | None, reference: Result | None) -> tuple[float | None, float | None]:
    """(wall-clock speed ratio, CPU-time ratio) of ``project`` over ``reference``; >1 is faster."""
    if not (project and reference and project.ok and reference.ok):
        return None, None
    wall = reference.wall_s.median / project.wall_s.median
    cpu = reference.cpu_s.median / project.cpu_s.median if project.cpu_s.median > 0 else None
    return wall, cpu


def all_cases() -> list[Case]:
    from bench.cases.csv_parquet import CsvToParquet
    from bench.cases.pod_usage import PodUsage
    from bench.cases.probe_grouping import ProbeGrouping
    from bench.cases.tabular_split import TabularSplit

    return [CsvToParquet(), ProbeGrouping(), TabularSplit(), PodUsage()]
