"""Ordering diagnostics: how far a shard is from "sorted by (src_addr, event_time)".

Figures per shard, counted along the file order over rows with a non-null ``src_addr``:

- ``src_addr_changes``: consecutive rows whose ``src_addr`` differ (a probe-contiguous shard has
  ``distinct probes - 1``);
- ``src_addr_decreases``: consecutive rows where ``src_addr`` goes down (0 = sorted by probe);
- ``event_time_violations``: consecutive rows of one probe where ``event_time`` goes down;
- ``event_time_ties``: consecutive rows of one probe with equal ``event_time`` (their order is
  then decided by the tie-break, not by the file, so the fast path is not taken);
- the first and last ``(src_addr, event_time)``, so consecutive shards can be checked too.

:func:`proven_ordered` turns a list of diagnostics (file order) into the one decision that lets the
grouping skip sorting. It is a proof, not a hint: the streaming fast path re-checks every row it
reads and falls back to the exact bucketed path on the first row out of order, so a stale or wrong
diagnostic costs time, never order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

DIAGNOSTIC_BATCH_ROWS = 1_000_000


@dataclass(frozen=True)
class OrderDiagnostics:
    """Ordering figures of one shard (see the module docstring)."""

    shard: str
    rows: int
    null_src_addr: int
    src_addr_changes: int
    src_addr_decreases: int
    event_time_violations: int
    event_time_ties: int
    first_src_addr: str | None
    first_event_time: dt.datetime | None
    last_src_addr: str | None
    last_event_time: dt.datetime | None

    @property
    def sorted_within(self) -> bool:
        """Strictly increasing ``(src_addr, event_time)`` along the file."""
        return self.src_addr_decreases == 0 and self.event_time_violations == 0 and self.event_time_ties == 0

    def as_metadata(self) -> dict[str, object]:
        out = asdict(self)
        for key in ("first_event_time", "last_event_time"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        out["sorted_within"] = self.sorted_within
        return out


def _batch_figures(frame: pl.DataFrame) -> dict[str, int]:
    src, t = pl.col("src_addr"), pl.col("event_time")
    prev_src, prev_t = src.shift(1), t.shift(1)
    same = src == prev_src
    row = frame.select(
        changes=(src != prev_src).sum(),
        decreases=(src < prev_src).sum(),
        violations=(same & (t < prev_t)).sum(),
        ties=(same & (t == prev_t)).sum(),
    ).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def event_time_utc(dtype: pl.DataType) -> pl.Expr:
    """``event_time`` as Datetime(us, UTC): an aware value is converted to UTC, a naive one is read
    as UTC (the shard contract). Comparing wall-clock values of another zone would misorder the
    hour repeated when clocks go back."""
    ts = pl.col("event_time")
    aware = getattr(dtype, "time_zone", None) is not None
    ts = ts.dt.convert_time_zone("UTC") if aware else ts.dt.replace_time_zone("UTC")
    return ts.dt.cast_time_unit("us").alias("event_time")


def diagnose_shard(path: Path, batch_rows: int = DIAGNOSTIC_BATCH_ROWS) -> OrderDiagnostics:
    """Compute :class:`OrderDiagnostics` for one shard, streaming two columns in file order.

    Memory: one batch of ``batch_rows`` rows of ``src_addr`` and ``event_time``.
    Raises whatever reading raises; run :func:`probe_rows.shards.check_shard` first for errors that
    name the shard and column.
    """
    totals = {"changes": 0, "decreases": 0, "violations": 0, "ties": 0}
    rows = nulls = 0
    first = last = None
    lf = pl.scan_parquet(path)
    scan = lf.select("src_addr", event_time_utc(lf.collect_schema()["event_time"]).dt.replace_time_zone(None))
    for batch in scan.collect_batches(chunk_size=batch_rows, maintain_order=True):
        rows += batch.height
        kept = batch.filter(pl.col("src_addr").is_not_null())
        nulls += batch.height - kept.height
        if kept.height == 0:
            continue
        if last is not None:  # the row before this batch, so boundaries are counted too
            kept = pl.concat([pl.DataFrame([last], schema=kept.schema, orient="row"), kept])
        for key, value in _batch_figures(kept).items():
            totals[key] += value
        if first is None:
            first = kept.row(0)
        last = kept.row(kept.height - 1)
    return OrderDiagnostics(
        shard=path.name,
        rows=rows,
        null_src_addr=nulls,
        src_addr_changes=totals["changes"],
        src_addr_decreases=totals["decreases"],
        event_time_violations=totals["violations"],
        event_time_ties=totals["ties"],
        first_src_addr=first[0] if first else None,
        first_event_time=_utc(first[1]) if first else None,
        last_src_addr=last[0] if last else None,
        last_event_time=_utc(last[1]) if last else None,
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None else None


def proven_ordered(diagnostics: Sequence[OrderDiagnostics]) -> bool:
    """True only when the shards, read in this order, are strictly sorted by (src_addr, event_time).

    Every shard must be sorted within, and each non-empty shard must start strictly after the
    previous non-empty shard ended. An empty list is not proof of anything: False.
    """
    if not diagnostics:
        return False
    prev_last = None
    for d in diagnostics:
        if not d.sorted_within:
            return False
        if d.first_src_addr is None:
            continue
        first = (d.first_src_addr, d.first_event_time)
        if prev_last is not None and not prev_last < first:
            return False
        prev_last = (d.last_src_addr, d.last_event_time)
    return True
