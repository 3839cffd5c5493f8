"""Shared pieces of the sample generators: interval calendars in prevailing time, prices, CSV out.

Vectorised (numpy/pyarrow) so the same code writes a few KB for tests or many GB for benchmarks:
strings are formatted once per interval and once per node, then repeated with ``take``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv


@dataclass(frozen=True)
class Calendar:
    """Intervals of the operating days ``[start, end)`` in ``tz``, in time order.

    ``utc``: interval starts (tz-aware UTC); ``wall``: the same instants on the local wall
    clock (naive); ``operating_date``: the local operating day; ``repeated``: true in the
    fall-back hour's second occurrence (the wall clock shows the same time as one hour before).
    """

    utc: pd.DatetimeIndex
    wall: pd.DatetimeIndex
    operating_date: np.ndarray  # datetime64[D]
    repeated: np.ndarray  # bool
    minutes: int

    def __len__(self) -> int:
        return len(self.utc)


def calendar(start: date, end: date, tz: str, minutes: int) -> Calendar:
    first = pd.Timestamp(start).tz_localize(tz).tz_convert("UTC")
    last = pd.Timestamp(end).tz_localize(tz).tz_convert("UTC")
    utc = pd.date_range(first, last, freq=f"{minutes}min", inclusive="left")
    local = utc.tz_convert(tz)
    wall = local.tz_localize(None)
    wall_before = (utc - pd.Timedelta(hours=1)).tz_convert(tz).tz_localize(None)
    return Calendar(
        utc=utc,
        wall=wall,
        operating_date=wall.normalize().values.astype("datetime64[D]"),
        repeated=np.asarray(wall == wall_before),
        minutes=minutes,
    )


def _runs(labels: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(label, interval indices)`` per run of equal labels (operating dates are non-decreasing)."""
    bounds = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(labels)]])
    return [(str(labels[a]), np.arange(a, b)) for a, b in zip(starts, stops, strict=True)]


def months(cal: Calendar) -> list[tuple[str, np.ndarray]]:
    """``(YYYY-MM, interval indices)`` per operating month, like monthly exports."""
    return _runs(cal.operating_date.astype("datetime64[M]"))


def days(cal: Calendar) -> list[tuple[str, np.ndarray]]:
    """``(YYYY-MM-DD, interval indices)`` per operating day, like daily exports."""
    return _runs(cal.operating_date)


def prices(n_intervals: int, n_nodes: int, seed: int) -> dict[str, np.ndarray]:
    """LMP and components in USD/MWh, shape (n_intervals * n_nodes,), interval-major.

    The energy component is system-wide per interval (a daily shape plus noise); congestion
    and loss vary per node. ``lmp = energy + congestion + loss``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_intervals)
    energy = np.round(30 + 12 * np.sin(t / max(1, n_intervals / 365) * 2 * np.pi) + rng.normal(0, 4, n_intervals), 2)
    energy = np.repeat(energy, n_nodes)
    congestion = np.round(rng.normal(0, 3, n_intervals * n_nodes), 6)
    loss = np.round(rng.normal(0, 0.5, n_intervals * n_nodes), 6)
    return {"energy": energy, "congestion": congestion, "loss": loss, "lmp": np.round(energy + congestion + loss, 6)}


def grid(n_intervals: int, n_nodes: int) -> tuple[pa.Array, pa.Array]:
    """Interval and node indices of every row, interval-major (exports are time-sorted)."""
    return (pa.array(np.repeat(np.arange(n_intervals), n_nodes)), pa.array(np.tile(np.arange(n_nodes), n_intervals)))


def take(values: list[str] | np.ndarray, idx: pa.Array) -> pa.Array:
    return pc.take(pa.array(values, pa.string()), idx)


def write_csv(table: pa.Table, path: Path, *, eol: str = "\n", quote_header: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(
        table,
        path,
        pcsv.WriteOptions(
            eol=eol, quoting_style="none", quoting_header="needed" if quote_header else "none", batch_size=64 * 1024
        ),
    )
    return path
