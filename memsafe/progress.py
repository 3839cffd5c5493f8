"""Progress lines for long steps: at most one every few seconds, so a user can watch a long run.

Plain modules log through ``logging`` (:func:`memsafe.resources.step_logging` forwards the
records to the Dagster step's log). A :class:`Progress` counts units of work from any thread and
logs ``<what>: <done>/<total> <unit> (<figures>), <seconds> s`` at INFO when ``every`` seconds
have passed since its last line, and once more at :meth:`done` if a line was ever logged (a
short step logs nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# Seconds between two progress lines of one step.
EVERY_S = 10.0


@dataclass
class Progress:
    """Counter of ``total`` units of ``what`` (``unit``: "files", "months", ...) logging to ``logger``
    (``total`` 0: not known beforehand, the count is shown alone).

    ``figures`` given to :meth:`add` are summed (``rows=...``, ``mb=...``) and shown with the line.
    """

    logger: logging.Logger
    what: str
    total: int
    unit: str
    every: float = EVERY_S
    count: int = 0
    figures: dict[str, float] = field(default_factory=dict)
    _started: float = field(default_factory=time.perf_counter, init=False)
    _last: float = field(default_factory=time.perf_counter, init=False)
    _logged_count: int | None = field(default=None, init=False)  # the count last logged; None: none yet
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def add(self, n: int = 1, **figures: float) -> None:
        """Count ``n`` more units and their figures; log a line if ``every`` seconds have passed."""
        with self._lock:
            self.count += n
            for k, v in figures.items():
                self.figures[k] = self.figures.get(k, 0) + v
            now = time.perf_counter()
            if now - self._last >= self.every:
                self._last = now
                self._log(now)

    def done(self) -> None:
        """Log the final count, if any progress line was logged before and not already with it."""
        with self._lock:
            if self._logged_count not in (None, self.count):
                self._log(time.perf_counter())

    def _log(self, now: float) -> None:
        shown = ", ".join(f"{v:,.0f} {k}" for k, v in self.figures.items())
        self.logger.info(
            f"{self.what}: {self.count:,}"
            + (f"/{self.total:,}" if self.total else "")
            + f" {self.unit}"
            + (f" ({shown})" if shown else "")
            + f", {now - self._started:.0f} s"
        )
        self._logged_count = self.count


@contextmanager
def duckdb_progress(
    con: duckdb.DuckDBPyConnection, logger: logging.Logger, what: str, every: float = EVERY_S, poll: float = 1.0
) -> Iterator[None]:
    """Log how far the query running on ``con`` is, at most every ``every`` seconds, for the block.

    For a step that is one or a few long DuckDB statements (no unit of work to count): a thread
    reads DuckDB's own estimate (``con.query_progress()``, percent of the running statement) every
    ``poll`` seconds and logs ``<what>: query <p>% done, <seconds> s``. DuckDB tracks progress only
    with ``enable_progress_bar`` on, so it is switched on (without printing a bar) for the block.
    """
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    stop = threading.Event()
    started = time.perf_counter()

    def watch() -> None:
        last = started
        while not stop.wait(poll):
            now = time.perf_counter()
            if now - last < every:
                continue
            done = con.query_progress()
            if done >= 0:  # -1: between statements
                logger.info(f"{what}: query {done:.0f}% done, {now - started:.0f} s")
                last = now

    thread = threading.Thread(target=watch, name="duckdb-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        con.execute("SET enable_progress_bar = false")
