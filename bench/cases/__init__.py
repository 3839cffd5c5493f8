"""The benchmark cases, one module each, and what they share.

A case declares its input sizes at a ``--scale``, how to generate one input (with the project's own
generator, run as a process; cached between runs), the tools to compare on it (this project's
command and the baselines, each a command line) and how to judge its target from the results.
A case whose pipeline has not landed yet (:attr:`Case.pipeline_module` not importable) is reported
as "pipeline not present" instead of being run.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import Result, Tool

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASELINES = PROJECT_ROOT / "bench" / "baselines"
MB = 1024 * 1024


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

    def fresh(self, path: Path):
        """A ``before_each`` that removes an output file or folder left by the previous run."""

        def reset() -> None:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)

        return reset

    def baseline(self, script: str, ctx: Context, *args: str) -> list[str]:
        return [ctx.python, str(BASELINES / script), *args]


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
