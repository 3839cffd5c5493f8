"""Measuring peak memory, not assuming it.

:class:`PeakMemory` samples the process' resident set size (RSS) in a background thread while a
heavy step runs, and optionally the engine's own figure (DuckDB's ``duckdb_memory()``) and its
spill bytes. ``ru_maxrss`` alone is not enough: it is the lifetime peak of the process, so under
Dagster's in-process executor it would include every earlier step.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MB = 1024 * 1024


@dataclass
class MemoryReport:
    """Figures in MiB; ``engine_peak_mb``/``spill_peak_mb`` are ``None`` without an engine probe."""

    baseline_rss_mb: float
    peak_rss_mb: float
    engine_peak_mb: float | None = None
    spill_peak_mb: float | None = None
    seconds: float = 0.0
    samples: int = 0

    @property
    def rss_delta_mb(self) -> float:
        """Peak RSS above the RSS when measurement started: what the step itself added."""
        return max(0.0, self.peak_rss_mb - self.baseline_rss_mb)

    def as_metadata(self) -> dict[str, float]:
        out = {
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rss_delta_mb": round(self.rss_delta_mb, 1),
            "seconds": round(self.seconds, 3),
        }
        if self.engine_peak_mb is not None:
            out["engine_peak_mb"] = round(self.engine_peak_mb, 1)
        if self.spill_peak_mb is not None:
            out["spill_peak_mb"] = round(self.spill_peak_mb, 1)
        return out


@dataclass
class PeakMemory:
    """Context manager sampling RSS every ``interval`` seconds.

    ``engine_probe``, if given, returns ``(engine_bytes, spill_bytes)``; it is called from the
    sampling thread, so it must use its own connection/cursor.

    Example::

        with PeakMemory() as pm:
            heavy()
        pm.report.peak_rss_mb
    """

    interval: float = 0.02
    engine_probe: Callable[[], tuple[int, int]] | None = None
    report: MemoryReport = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)

    def __enter__(self) -> PeakMemory:
        self._proc = psutil.Process()
        rss = self._proc.memory_info().rss / MB
        self.report = MemoryReport(baseline_rss_mb=rss, peak_rss_mb=rss)
        self._engine_peak = 0
        self._spill_peak = 0
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        rss = self._proc.memory_info().rss / MB
        self.report.samples += 1
        if rss > self.report.peak_rss_mb:
            self.report.peak_rss_mb = rss
        if self.engine_probe is not None:
            try:
                engine, spill = self.engine_probe()
            except Exception:  # noqa: BLE001 - a probe racing the engine's shutdown is not fatal
                return
            self._engine_peak = max(self._engine_peak, engine)
            self._spill_peak = max(self._spill_peak, spill)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.report.seconds = time.perf_counter() - self._t0
        if self.engine_probe is not None:
            self.report.engine_peak_mb = self._engine_peak / MB
            self.report.spill_peak_mb = self._spill_peak / MB


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (recursive; files vanishing meanwhile are skipped)."""
    total = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += folder_bytes(Path(entry.path))
            else:
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def duckdb_probe(con, spill_folder: Path | None = None) -> Callable[[], tuple[int, int]]:
    """An ``engine_probe`` for :class:`PeakMemory` reading DuckDB's own accounting.

    Spill is DuckDB's temporary files plus, when given, the bytes under ``spill_folder`` (an
    engine's own spill, such as the converter's per-day Arrow files). Uses a separate cursor of
    ``con`` (same database, own connection) so it can run while the main connection executes a
    query.
    """
    cur = con.cursor()

    def probe() -> tuple[int, int]:
        engine = cur.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()[0]
        spill = cur.execute("SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()").fetchone()[0]
        if spill_folder is not None:
            spill += folder_bytes(spill_folder)
        return int(engine), int(spill)

    return probe


def lifetime_peak_rss_mb() -> float:
    """The process' lifetime peak RSS (``ru_maxrss``, KiB on Linux) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
