"""Run one command as a child process and measure it from the operating system.

Each run is a fresh process (``subprocess.Popen``), reaped with ``os.wait4`` so its own
``rusage`` is read: wall seconds (``perf_counter`` around the child), CPU seconds (user + system)
and peak resident set size (``ru_maxrss``, KiB on Linux). The child's last stdout line is parsed as
JSON when it is one (every baseline and pipeline CLI prints its statistics that way).

:func:`measure` runs a set of tools round-robin: warm-up runs first (not recorded), then
repetition ``r`` of every tool before repetition ``r + 1`` of any, so load drifting over the run
(other jobs on a shared machine) touches every tool alike and the ratios within one run hold.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

KIB = 1024


@dataclass
class Run:
    """One child process: seconds, MiB; ``stats`` is the child's JSON line (or ``{}``)."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    stats: dict = field(default_factory=dict)
    error: str | None = None  # last stderr lines when the child failed or timed out

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.error is None


def run_once(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, log_dir: Path, timeout_s: float | None = None
) -> Run:
    """Run ``argv`` to completion and return its OS-measured :class:`Run`.

    stdout/stderr go to files in ``log_dir`` (not pipes: ``wait4`` must reap the child itself, so
    nothing may be left to drain). A child still running after ``timeout_s`` is killed and the
    run reported with ``error="timeout"``.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout_s, kill) if timeout_s else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    stdout = out_path.read_text(errors="replace")
    error = None
    if timed_out.is_set():
        error = f"timeout after {timeout_s:.0f} s"
    elif proc.returncode != 0:
        tail = [ln for ln in err_path.read_text(errors="replace").splitlines() if ln.strip()][-3:]
        error = f"exit {proc.returncode}: " + " | ".join(tail)[-400:]
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / KIB,
        returncode=proc.returncode,
        stats=_last_json(stdout),
        error=error,
    )


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return {}
    return {}


@dataclass
class Spread:
    """Median and range of one figure over the repetitions."""

    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


@dataclass
class Tool:
    """One way of doing a case's work: a command line, and what to reset before each run.

    ``role`` is ``"project"`` for this project's pipeline, ``"baseline"`` otherwise.
    """

    name: str
    argv: list[str]
    role: str = "baseline"
    before_each: Callable[[], None] | None = None
    note: str = ""
    rows_keys: tuple[str, ...] = ("rows_out", "rows")  # where the child's JSON line gives its output rows
    skip: str | None = None  # why this tool is not run on this input (shown as "not run: <skip>")


@dataclass
class Result:
    """A tool's figures on one input: medians and spreads over the successful repetitions."""

    case: str
    size: str
    tool: str
    role: str
    input_mb: float
    input_rows: int
    reps: int
    wall_s: Spread | None = None
    cpu_s: Spread | None = None
    peak_rss_mb: Spread | None = None
    rows_out: int | None = None
    error: str | None = None
    note: str = ""
    runs: list[dict] = field(default_factory=list)
    skipped: str | None = None  # not run on purpose (e.g. it would not fit in memory): why

    @property
    def ok(self) -> bool:
        return self.error is None and self.wall_s is not None

    @property
    def mb_per_s(self) -> float | None:
        return self.input_mb / self.wall_s.median if self.ok and self.wall_s.median > 0 else None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["mb_per_s"] = self.mb_per_s
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Result:
        """The inverse of :meth:`as_dict` (to merge the result files of several runs)."""
        d = {k: v for k, v in d.items() if k != "mb_per_s"}
        for k in ("wall_s", "cpu_s", "peak_rss_mb"):
            if d.get(k) is not None:
                d[k] = Spread(**d[k])
        return cls(**d)


def measure(
    case: str,
    size: str,
    tools: Sequence[Tool],
    *,
    input_mb: float,
    input_rows: int,
    reps: int,
    warmup: int,
    cwd: Path,
    env: dict[str, str],
    log_root: Path,
    timeout_s: float | None,
    progress: Callable[[str], None] = print,
) -> list[Result]:
    """Run every tool ``warmup`` times (discarded), then ``reps`` times round-robin.

    A tool that fails once is not run again in this size: its :class:`Result` carries the error
    (for example a baseline running out of memory), and the other tools carry on. A tool with
    ``skip`` set is never started: its :class:`Result` carries the reason in ``skipped``.
    """
    results = {
        t.name: Result(
            case=case,
            size=size,
            tool=t.name,
            role=t.role,
            input_mb=input_mb,
            input_rows=input_rows,
            reps=0,
            note=t.note,
            skipped=t.skip,
        )
        for t in tools
    }
    runs: dict[str, list[Run]] = {t.name: [] for t in tools}
    for rep in range(-warmup, reps):
        for tool in tools:
            res = results[tool.name]
            if res.error or res.skipped:
                continue
            if tool.before_each:
                tool.before_each()
            label = "warm-up" if rep < 0 else f"rep {rep + 1}/{reps}"
            run = run_once(tool.argv, cwd=cwd, env=env, log_dir=log_root / case / size / tool.name, timeout_s=timeout_s)
            progress(
                f"  {case} {size} {tool.name:<22} {label:<9} {run.wall_s:7.2f} s  cpu {run.cpu_s:7.2f} s  "
                f"rss {run.peak_rss_mb:7.0f} MB" + (f"  FAILED {run.error}" if run.error else "")
            )
            if not run.ok:
                res.error = run.error
                continue
            if rep >= 0:
                runs[tool.name].append(run)
    out = []
    for tool in tools:
        res, done = results[tool.name], runs[tool.name]
        res.runs = [asdict(r) for r in done]
        res.reps = len(done)
        if done and not res.error:
            res.wall_s = Spread.of([r.wall_s for r in done])
            res.cpu_s = Spread.of([r.cpu_s for r in done])
            res.peak_rss_mb = Spread.of([r.peak_rss_mb for r in done])
            rows = next((done[-1].stats[k] for k in tool.rows_keys if k in done[-1].stats), None)
            res.rows_out = int(rows) if isinstance(rows, int | float) else None
        out.append(res)
    return out


def child_env(project_root: Path) -> dict[str, str]:
    """The environment of every child: this project importable, no stray data-dir override."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root), env.get("PYTHONPATH", "")) if p)
    env.pop("MEMSAFE_DATA_DIR", None)  # every command is given its folders explicitly
    return env
