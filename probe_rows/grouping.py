"""Group measurements into one row per probe: exact time order, bounded memory, train/test split.

Input: measurement shards (see :mod:`probe_rows.shards`). Output, under ``output_dir``::

    train/part-NNNNN.parquet   test/part-NNNNN.parquet

one row per probe: ``src_addr`` (string), ``n_measurements`` (int64) and ``measurements``
(list of struct ``dst_addr, event_time, rtt_ms, <extra numeric columns>``), the list in ascending
``event_time``; ties are broken by the struct's other fields in order (nulls last), so the output
depends only on the set of measurements, never on the input order. Probes with fewer than
``min_measurements`` are dropped; the split is :mod:`probe_rows.split` (stable hash by probe).

Two paths, both exact:

- **streaming** (the fast path), tried only when the ordering diagnostics prove the shards sorted
  by ``(src_addr, event_time)`` (:func:`probe_rows.ordering.proven_ordered`): one pass in file
  order, cutting lists at probe boundaries, no sort and no spill. Every row is re-checked against
  the previous one; on the first row out of order the pass is abandoned and the bucketed path runs.
- **bucketed**: each piece of the input is grouped in memory by polars, straight from the scan,
  with ``sort_by`` inside the aggregation; the number of pieces comes from the memory budget:

  - one piece when the whole input fits the budget: no spill, no second read;
  - up to ``MAX_REREAD_BUCKETS`` (2): hash slots of ``src_addr`` (counted in a pass over that column
    alone) are packed into buckets that fit, and each bucket is read from the shards again with
    its slot filter; no spill;
  - more (or a packing that does not fit): the probes are hash-partitioned into buckets (polars'
    streaming engine writes one Arrow IPC spill file set per bucket into the budget's spill
    folder), each read back and grouped; a bucket over the budget's share (a skewed hash) is
    re-partitioned with another seed.

  Every piece holds whole probes and is grouped, ordered and tie-broken the same way, so the
  output rows do not depend on how many pieces there were.

Memory does not grow with the input: it is bounded by one bucket (or one batch plus the longest
probe on the streaming path). The only thing that must fit is the longest single probe's list, since
it is one output row. Outputs are written into hidden temporary folders and swapped in at the end,
so a failed run leaves the previous output (or nothing) in place, never a partial one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from memsafe.budget import Budget
from memsafe.memory import MemoryReport, PeakMemory, folder_bytes
from memsafe.progress import Progress
from probe_rows.ordering import OrderDiagnostics, event_time_utc, proven_ordered
from probe_rows.output import SplitWriter, new_writer, staged_splits
from probe_rows.shards import REQUIRED, check_shards, list_shards, no_shards_error

# Peak RSS of grouping one bucket in polars above the process baseline, as a multiple of the
# bucket's estimated in-memory size: the grouped lists, polars' hash tables and the decoded pages.
# Measured 2.8-3.0 on 5M shuffled generated measurements grouped straight from the scan (722-809 MB
# peak for 216 MB estimated) and 3.2-3.35 on the 6.7M-row buckets of 20M re-read from the shards
# (1,062-1,127 MB peak with 3.0 here: over the 1 GB budget), hence 3.5. The budget less the
# baseline is divided by this to size buckets, so an input that fits is grouped in one piece,
# without spilling (docs/probe_rows.md).
BUCKET_MEMORY_FACTOR = 3.5
# RSS of the grouping process with polars loaded, before any data (measured 103-114 MiB for the
# whole CLI on 10k measurements; neither pyarrow nor DuckDB is imported on this path).
POLARS_BASELINE_MB = 128
MAX_RESPLIT_DEPTH = 3
# Up to this many buckets, each is read from the shards again (filtered while decoding) instead of
# spilling the input once. Every re-read decodes the whole input's ``src_addr`` again, so the cost
# grows with the bucket count: at 20M shuffled on a quiet machine, 4 re-read buckets took 14.0-14.7
# CPU s against 12.6-12.9 for 6 spilled ones (and 867-938 against 757-775 MB); with 2 buckets
# (a 2 GB budget) re-reading was cheaper (13.1 against 14.6 for 3 spilled). docs/probe_rows.md.
MAX_REREAD_BUCKETS = 2
# Spilled buckets are planned at SPILL_BUCKET_SHARE of the budget's share (``_bucket_limit``), and
# one that turns out over RESPLIT_SHARE of it (the hash is uneven: a long probe, or more large
# probes in one bucket) is split again. The largest bucket grouped, which sets the peak, is then at
# most RESPLIT_SHARE whatever the input size. Before, buckets were planned at 2/3 and re-split over
# the whole share in spilled (IPC) bytes, which are about 1.4 times the estimate, i.e. at 0.71: the
# largest grouped bucket was 0.63 of the share at 20M (6 buckets) and 0.69 at 200M (51, 11 of
# them re-split), from the generator's probe sizes. Now 0.63 at 20M (6 buckets, none re-split)
# and 0.64 at 200M (57, 10 re-split). docs/probe_rows.md, seed size.
SPILL_BUCKET_SHARE = 0.6
RESPLIT_SHARE = 0.65
# ... and at most this many MiB (estimated in-memory size) each, however large the budget's share:
# polars groups a small bucket faster per measurement than a large one (its hash tables and the
# gathers of the sorted lists stay in cache), more than the extra spill files cost. 20M shuffled,
# in-process CPU s of spill + grouping, medians of 3 interleaved under load: 6 buckets 8.43,
# 12 buckets 7.85, 24 buckets 8.16 (docs/probe_rows.md, issue 16 fourth round).
SPILL_BUCKET_MB = 80
# One spill pass writes to at most this many buckets: polars' partitioned sink holds buffers for
# every bucket it writes, so its peak grows with the fan-out (20M shuffled, whole run: 576 MiB with
# 11 buckets, 750 MiB with 109). An input that needs more buckets is spilled to this many first,
# and each is split again (the re-split below) until a bucket fits: every pass has the same
# fan-out, so the peak does not grow with the input; the price is one more pass over the spill
# for an input over MAX_SPILL_FANOUT * SPILL_BUCKET_MB (about 1 GB estimated, 20M measurements).
MAX_SPILL_FANOUT = 12
# A spilled bucket over this multiple of the planned size is split again too (besides one over
# RESPLIT_SHARE of the budget's share): with the fan-out capped, an input of 16-24 planned buckets
# would otherwise be grouped in buckets up to 1.5 times the planned size, and the peak would
# depend on the input's size after all.
RESPLIT_OVER_PLANNED = 1.5
# Hash slots of the probes: the unit packed into buckets of even size (about 85 per bucket).
HASH_SLOTS = 512
# Rows per batch of the streaming path (the CLI's and the asset's default ``budget.batch_rows``):
# fewer, larger polars calls per measurement. 5M sorted: 1.70-2.15 CPU s against 1.98-2.17 with
# 100k, +80 MB peak (docs/probe_rows.md, issue 16 third round).
STREAM_BATCH_ROWS = 500_000
# Rows of a shard decoded at once on the streaming path (then cut into batches): the generator's
# row group (1M rows), so a read decodes whole row groups; other row-group sizes are read correctly,
# a row group cut by a read's end is decoded by both reads.
READ_ROWS = 1_000_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupConfig:
    """What to group and how to split.

    Attributes:
        min_measurements: probes with fewer measurements are dropped (>= 1).
        test_fraction: share of probes in ``test`` (by stable hash, not by count).
        seed: split seed; the same seed gives the same split on every run.
        extra_columns: numeric columns carried into the structs; ``None`` = every numeric column
            all shards share besides the required ones.
        compression: parquet codec of the output.
    """

    min_measurements: int = 1
    test_fraction: float = 0.2
    seed: int = 0
    extra_columns: tuple[str, ...] | None = None
    compression: str = "snappy"

    def __post_init__(self) -> None:
        if self.min_measurements < 1:
            raise ValueError(f"min_measurements must be >= 1, got {self.min_measurements}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be within [0, 1], got {self.test_fraction}")


@dataclass
class GroupStats:
    """What one grouping did. Counts of rows/probes, bytes, seconds, memory in MiB."""

    output: Path
    shards: int
    measurements_in: int
    null_src_addr: int
    measurements_out: int
    probes_in: int
    probes_below_min: int
    probes_train: int
    probes_test: int
    path: str  # "streaming" or "bucketed"
    fell_back: bool  # the streaming pass found a row out of order and the bucketed path ran
    # "recorded": diagnostics were given (e.g. by the shard asset) and decided the path;
    # "checked_in_pass": none were given, so the streaming pass checked the order itself.
    order_evidence: str
    buckets: int
    spill_bytes: int
    seconds: float
    memory: MemoryReport | None = None
    files: list[str] = field(default_factory=list)

    @property
    def measurements_per_second(self) -> float:
        return self.measurements_in / self.seconds if self.seconds > 0 else 0.0

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {
            "output": str(self.output),
            "shards": self.shards,
            "measurements_in": self.measurements_in,
            "null_src_addr_dropped": self.null_src_addr,
            "measurements_out": self.measurements_out,
            "probes_in": self.probes_in,
            "probes_below_min": self.probes_below_min,
            "probes_train": self.probes_train,
            "probes_test": self.probes_test,
            "path": self.path,
            "fell_back": self.fell_back,
            "order_evidence": self.order_evidence,
            "buckets": self.buckets,
            "spill_bytes": self.spill_bytes,
            "seconds": round(self.seconds, 3),
            "measurements_per_second": round(self.measurements_per_second, 1),
        }
        if self.memory is not None:
            out.update(self.memory.as_metadata())
        return out


class _NotOrdered(Exception):
    """Raised inside the streaming pass at the first row out of (src_addr, event_time) order."""


def _extra_types(files: Sequence[Path], extras: Sequence[str]) -> dict[str, pl.DataType]:
    """The common type of each extra column over all shards (footers only): shards may disagree
    (int32 here, int64 there), and every per-shard spill file must hold the same schema."""
    if not extras:
        return {}
    frames = [pl.scan_parquet(f).select(list(extras)) for f in files]
    return dict(pl.concat(frames, how="vertical_relaxed").collect_schema())


def _scan(files: Sequence[Path], extras: dict[str, pl.DataType], **options):
    """One lazy frame over the shards in file order, with the normalised types.

    ``extras``: carried column -> type (:func:`_extra_types`); ``options``: passed to
    ``pl.scan_parquet`` (e.g. ``parallel``).
    """
    frames = []
    for f in files:
        lf = pl.scan_parquet(f, **options)
        frames.append(
            lf.select(
                pl.col("src_addr").cast(pl.String),
                pl.col("dst_addr").cast(pl.String),
                event_time_utc(lf.collect_schema()["event_time"]),
                pl.col("rtt_ms").cast(pl.Float64),
                *[pl.col(c).cast(dtype) for c, dtype in extras.items()],
            )
        )
    return pl.concat(frames, how="vertical_relaxed")


def _struct_columns(extras: Sequence[str]) -> list[str]:
    return ["dst_addr", "event_time", "rtt_ms", *extras]


def _group_frame(frame, extras: Sequence[str], presorted: bool):
    """One row per probe of ``frame``: ``src_addr, n_measurements, measurements``.

    ``frame``: a polars DataFrame, or a LazyFrame (a scan): grouped straight from the scan, the
    input rows are never materialised as a frame of their own (measured on 5M shuffled
    measurements: 616 MB peak RSS against 867 MB collecting first, same CPU time).

    ``presorted``: rows already in strict (src_addr, event_time) order, verified by the caller, so
    the lists keep the row order. Otherwise each list is sorted by ``event_time``; only when a probe
    has two measurements at the same instant is the bucket sorted again on every struct field
    (nulls last), which makes the order of ties a function of the values, not of the input.
    """
    cols = _struct_columns(extras)
    lf = frame.lazy()
    if presorted:
        return (
            lf.group_by("src_addr", maintain_order=True)
            .agg(pl.len().alias("n_measurements"), pl.struct(cols).alias("measurements"))
            .collect()
        )
    grouped = (
        lf.group_by("src_addr")
        .agg(pl.len().alias("n_measurements"), pl.struct(cols).sort_by("event_time").alias("measurements"))
        .collect()
    )
    if not _has_ties(grouped):
        return grouped
    del grouped
    return (
        lf.group_by("src_addr")
        .agg(
            pl.len().alias("n_measurements"),
            pl.struct(cols).sort_by(["event_time", *cols[:1], *cols[2:]], nulls_last=True).alias("measurements"),
        )
        .collect()
    )


def _has_ties(grouped) -> bool:
    """Whether any list holds two adjacent equal ``event_time`` values (lists sorted by it).

    Works on the flattened ``event_time`` field only (no string column is converted).
    """
    times = grouped["measurements"].explode().struct.field("event_time")
    if len(times) < 2:
        return False
    equal = (times == times.shift(1)).fill_null(False)
    # A list's first value is not compared with the previous list's last.
    starts = grouped["n_measurements"].cast(pl.Int64).cum_sum().shift(1, fill_value=0)
    return bool(equal.scatter(starts, False).any())


def _out_of_order(frame) -> int:
    """Rows of ``frame`` not strictly after the previous row in (src_addr, event_time) order."""
    src, t = pl.col("src_addr"), pl.col("event_time")
    return frame.select(((src < src.shift(1)) | ((src == src.shift(1)) & (t <= t.shift(1)))).sum()).item()


def _head_in_order(files, extras, rows: int = 10_000) -> bool:
    """Whether the first rows are in order: a cheap look before starting a streaming pass that an
    unsorted input would abandon at once (no proof either way: the pass checks every row)."""
    # The two key columns only: decoding every column of the first row group cost twice the CPU
    # and 50-60 MB more peak (5M shuffled: 0.07 against 0.11-0.14 CPU s).
    scan = _scan(files, extras).select("src_addr", "event_time")
    head = scan.filter(pl.col("src_addr").is_not_null()).head(rows).collect()
    return _out_of_order(head) == 0


def _streaming(files, file_rows, extras, budget: Budget, writer: SplitWriter, rows: int) -> None:
    """The fast path: one ordered pass; raises :class:`_NotOrdered` on the first bad row.

    The last probe of each batch may continue in the next one: it is held back as slices of the
    batches it spans (``open_rows``), never concatenated batch after batch. A probe held over at
    least one whole batch (longer than a batch: the longest probes, one output row each, which
    grow with the input) is grouped alone, and its rows are released before its list is written;
    a shorter one is grouped with the rest of the batch that ends it.
    """
    src = pl.col("src_addr")
    open_rows: list[pl.DataFrame] = []
    progress = Progress(log, "probe_rows streaming", rows, "measurements")
    for batch in _batches(files, file_rows, extras, budget.batch_rows):
        progress.add(batch.height)
        if not batch.height:
            continue
        # Check the batch and its boundary with the previous row (not the held rows again).
        if _out_of_order(batch if not open_rows else pl.concat([open_rows[-1].tail(1), batch])):
            raise _NotOrdered
        # Rows where a probe starts, after the batch's first row.
        starts = batch.select((src != src.shift(1)).arg_true()).to_series()
        joins = bool(open_rows) and batch["src_addr"][0] == open_rows[-1]["src_addr"][-1]
        if joins and not len(starts):  # the whole batch continues the open probe
            open_rows.append(batch)
            continue
        head = int(starts[0]) if joins else 0  # the batch's rows that end the open probe
        cut = int(starts[-1]) if len(starts) else 0  # where the batch's last probe starts
        if len(open_rows) > 1:  # held over a whole batch: grouped alone
            grouped = _group_frame(pl.concat([*open_rows, batch.slice(0, head)]), extras, presorted=True)
            open_rows = []
            writer.emit(grouped)
            del grouped
            done = batch.slice(head, cut - head)
        else:
            done = pl.concat([*open_rows, batch.slice(0, cut)])
        if done.height:
            writer.emit(_group_frame(done, extras, presorted=True))
        open_rows = [batch.slice(cut)]
    if open_rows:
        writer.emit(_group_frame(pl.concat(open_rows), extras, presorted=True))
    progress.done()


def _batches(files, file_rows: Sequence[int], extras, batch_rows: int):
    """Non-null-probe rows in file order, at most ``batch_rows`` at a time.

    ``file_rows``: each file's row count (from its footer, :func:`probe_rows.shards.check_shards`).
    Each file is read ``READ_ROWS`` rows at a time by polars' in-memory engine, decoding one
    column per thread, and the slices are cut into batches. Not polars' streaming engine
    (``collect_batches``): its peak rose file after file, about 100 MB higher than this reader's
    and 30 MB more over 80 shards than over 8 (docs/probe_rows.md, "Sorted input at seed size").
    Not one scan over many files either: polars reads ahead across them (618 MB peak RSS for 8
    files of 2.5M rows, against 326 MB file by file).
    """
    not_null = pl.col("src_addr").is_not_null()
    read_rows = max(READ_ROWS, batch_rows)
    for f, rows in zip(files, file_rows, strict=True):
        # parallel="columns": the default for a filtered scan ("prefiltered") costs 20 % more CPU here.
        scan = _scan([f], extras, parallel="columns")
        for offset in range(0, rows, read_rows):
            frame = scan.slice(offset, read_rows).filter(not_null).collect(engine="in-memory")
            for start in range(0, frame.height, batch_rows):
                yield frame.slice(start, batch_rows)
            del frame


def _file_groups(files: Sequence[Path], sizes: Sequence[int], target_bytes: int) -> list[list[Path]]:
    """Consecutive files grouped until a group holds ``target_bytes`` (``sizes``: each file's
    estimated in-memory bytes, from its row count), so small
    shards share one partitioning pass and large ones get their own (bounded read-ahead)."""
    groups: list[list[Path]] = []
    acc = target_bytes
    for f, size in zip(files, sizes, strict=True):
        if acc >= target_bytes:
            groups.append([])
            acc = 0
        groups[-1].append(f)
        acc += size
    return groups


def _bucket_limit(budget: Budget) -> float:
    """Bytes (estimated in-memory size) of the largest piece grouped in one go under ``budget``."""
    avail_mb = max(64, budget.memory_mb - POLARS_BASELINE_MB)
    return avail_mb * 1024 * 1024 / BUCKET_MEMORY_FACTOR


def _bucket_count(bytes_estimate: int, budget: Budget) -> int:
    return max(1, math.ceil(bytes_estimate / _bucket_limit(budget)))


def _estimate_bytes(files, extras, rows: int) -> int:
    """In-memory size of the whole input, from the first 20k rows' size per row."""
    sample = _scan(files, extras).head(20_000).collect()  # the first non-empty rows
    if sample.height == 0:
        return 0
    return int(sample.estimated_size() / sample.height * rows)


def _bucketed(
    files, extras, budget: Budget, writer: SplitWriter, spill_root: Path, bytes_estimate: int, sizes: Sequence[int]
) -> tuple[int, int]:
    """The general path; returns (buckets grouped, peak spill bytes)."""
    buckets = _bucket_count(bytes_estimate, budget)
    not_null = pl.col("src_addr").is_not_null()
    if buckets == 1:  # the input fits the budget: grouped in one piece, nothing spilled
        writer.emit(_group_frame(_scan(files, extras).filter(not_null), extras, presorted=False), part=0)
        return 1, 0
    limit = _bucket_limit(budget)
    if buckets <= MAX_REREAD_BUCKETS:
        planned = _plan_reread(files, extras, bytes_estimate, limit, buckets)
        if planned is not None:
            _reread(files, extras, writer, planned)
            return len(planned), 0
    # Every bucket is grouped in memory, so none may exceed the budget's share; buckets are
    # planned at SPILL_BUCKET_SHARE of it, so an uneven hash still fits.
    share = limit * SPILL_BUCKET_SHARE
    buckets = max(buckets, math.ceil(bytes_estimate / share), math.ceil(bytes_estimate / (SPILL_BUCKET_MB * 2**20)))
    per_bucket = bytes_estimate / buckets
    # "spilled_per_byte": spilled (IPC) bytes per estimated byte, from the first spill (the whole input).
    state = {"part": 0, "spill_peak": 0, "spilled_per_byte": 0.0}

    def spill_and_group(frames, n: int, seed: int, depth: int) -> None:
        folder = spill_root / f"level{depth}-{uuid.uuid4().hex[:8]}"
        spilling = Progress(log, f"probe_rows spill to {n} buckets (level {depth})", len(frames), "file groups")
        for i, frame in enumerate(frames):  # bucket k of every frame -> <folder>/<i>/_bucket=k/
            frame.with_columns((pl.col("src_addr").hash(seed) % n).alias("_bucket")).sink_ipc(
                pl.PartitionBy(str(folder / str(i)), key="_bucket", include_key=False),
                mkdir=True,
                maintain_order=False,
            )
            spilling.add()
        spilling.done()
        state["spill_peak"] = max(state["spill_peak"], folder_bytes(spill_root))
        if not state["spilled_per_byte"]:
            state["spilled_per_byte"] = folder_bytes(folder) / max(bytes_estimate, 1)
        ratio = state["spilled_per_byte"]
        grouping = Progress(log, f"probe_rows grouping spilled buckets (level {depth})", n, "buckets")
        for k in range(n):
            parts = sorted(folder.glob(f"*/_bucket={k}/*.ipc"))
            if not parts:
                grouping.add()
                continue
            sizes = [p.stat().st_size for p in parts]
            size = sum(sizes)
            bucket = pl.scan_ipc(parts)
            # A bucket over RESPLIT_SHARE of the budget's share (skew) or RESPLIT_OVER_PLANNED times the planned
            # size (the fan-out cap) is split again with another hash seed, unless it holds a single probe (one
            # output row, which no split can make smaller).
            if (
                size > min(limit * RESPLIT_SHARE, per_bucket * RESPLIT_OVER_PLANNED) * ratio
                and depth < MAX_RESPLIT_DEPTH
                and bucket.select(pl.col("src_addr").n_unique()).collect().item() > 1
            ):
                # Read back a few files at a time, as the input was: one scan over all of them
                # holds more of the bucket at once (60M shuffled with 4 buckets a pass: 725 MiB, 564 in groups).
                frames = [pl.scan_ipc(g) for g in _file_groups(parts, sizes, int(share * ratio))]
                parts_needed = math.ceil(size / (per_bucket * ratio))
                spill_and_group(frames, min(parts_needed, MAX_SPILL_FANOUT), seed + 1, depth + 1)
            else:
                writer.emit(_group_frame(bucket.collect(), extras, presorted=False), part=state["part"])
                state["part"] += 1
            for p in parts:  # free the disk as we go
                p.unlink()
            grouping.add(MB=size / 1e6)
        grouping.done()
        shutil.rmtree(folder, ignore_errors=True)

    groups = _file_groups(files, sizes, int(share))  # the memory bound, not the (smaller) CPU one
    spill_and_group([_scan(g, extras).filter(not_null) for g in groups], min(buckets, MAX_SPILL_FANOUT), 0, 0)
    return state["part"], state["spill_peak"]


def _slot(seed: int = 0):
    return pl.col("src_addr").hash(seed) % HASH_SLOTS


def _plan_reread(files, extras, bytes_estimate: int, limit: float, buckets: int) -> list[list[int]] | None:
    """Hash slots of the probes packed into as few buckets as fit ``limit``, or ``None`` when more
    than ``MAX_REREAD_BUCKETS`` would be needed (skew, or a probe larger than a bucket).

    Reads ``src_addr`` alone to count the rows of each of ``HASH_SLOTS`` hash slots, then
    packs slots largest first into the least full bucket (every probe is in exactly one slot, so
    no probe is split).
    """
    not_null = pl.col("src_addr").is_not_null()
    counts = (
        pl.concat(
            [
                pl.scan_parquet(f)
                .select(pl.col("src_addr").cast(pl.String))
                .filter(not_null)
                .select(_slot().alias("slot"))
                .group_by("slot")
                .len()
                .collect()
                for f in files
            ]
        )
        .group_by("slot")
        .agg(pl.col("len").sum())
        .sort("len", descending=True)
    )
    total = int(counts["len"].sum())
    if total == 0:
        return None
    cap = limit / (bytes_estimate / total)  # rows per bucket the budget allows
    for n in range(buckets, MAX_REREAD_BUCKETS + 1):
        loads, members = [0] * n, [[] for _ in range(n)]
        for slot, rows in counts.iter_rows():
            i = loads.index(min(loads))
            loads[i] += rows
            members[i].append(slot)
        if max(loads) <= cap:
            return [sorted(m) for m in members if m]
    return None


def _reread(files, extras, writer: SplitWriter, buckets: list[list[int]]) -> None:
    """Group each bucket of hash slots by reading it from the shards again (filtered while
    decoding): no spill files. Cheaper than spilling for a few buckets (docs/probe_rows.md)."""
    for part, slots in enumerate(buckets):
        keep = pl.col("src_addr").is_not_null() & _slot().is_in(slots)
        writer.emit(_group_frame(_scan(files, extras).filter(keep), extras, presorted=False), part=part)


def group_probes(
    input_dir: Path | None,
    output_dir: Path,
    budget: Budget,
    config: GroupConfig = GroupConfig(),
    *,
    files: Sequence[Path] | None = None,
    diagnostics: Sequence[OrderDiagnostics] | None = None,
    measure: bool = True,
) -> GroupStats:
    """Group the shards of ``input_dir`` (or ``files``, in that order) into ``output_dir``.

    Args:
        budget: memory, batch size and spill folder (the spill goes to ``budget.spill_path()``).
            polars sizes its thread pool once per process from ``POLARS_MAX_THREADS`` (the CLI
            sets it from ``--threads``); ``budget.threads`` cannot resize it afterwards.
        diagnostics: per-shard :class:`OrderDiagnostics` in file order when already known (the
            shard asset records them). When they do not prove the order, the bucketed path runs
            directly. When they do, or when none are given and the first 10,000 rows are in
            order, the streaming path is tried: it verifies every row itself and its output is
            published only if all rows were in order; otherwise the bucketed path runs
            (``stats.fell_back`` when a given proof failed).
        measure: sample peak RSS while running (``stats.memory``).

    Returns :class:`GroupStats`. Raises :class:`probe_rows.shards.ShardError` for a bad shard (the
    output folder is then untouched), ``FileNotFoundError`` for a missing input folder, and
    :class:`~probe_rows.shards.NoShardsError` (a ``ValueError``) when there is no shard.
    """
    t0 = time.perf_counter()
    files = list(files) if files is not None else list_shards(input_dir)
    if not files:
        raise no_shards_error(input_dir)
    schemas, extra_names = check_shards(files, config.extra_columns)
    extras = _extra_types(files, extra_names)
    outputs = staged_splits(output_dir)  # each split's lock, its own leftovers removed
    stages = outputs.__enter__()
    spill_root = budget.spill_path() / f"probe_rows-{uuid.uuid4().hex[:12]}"
    pm = PeakMemory() if measure else None
    writer = None
    try:
        if pm is not None:
            pm.__enter__()
        rows = sum(s.rows for s in schemas)
        if diagnostics is not None:
            nulls = sum(d.null_src_addr for d in diagnostics)
        else:
            # The validity of one column (about 6 ms a shard), shard by shard: their other columns
            # may differ. One collect per shard, not one over a concat of the scans, which polars
            # reads all at once: 3.1 GB peak RSS and 3.4 s on 80 shards of 2.5M rows, against
            # 115 MB and 0.5 s (docs/probe_rows.md, seed size).
            nulls = sum(pl.scan_parquet(f).select(pl.col("src_addr").null_count()).collect().item() for f in files)
        path, fell_back, buckets, spill = "bucketed", False, 0, 0
        writer = None
        # Known diagnostics decide; unknown ones are computed by the streaming pass itself, whose
        # output is only published when every row it read was in order.
        if proven_ordered(diagnostics) if diagnostics is not None else _head_in_order(files, extras):
            writer = new_writer(stages, config)
            try:
                _streaming(files, [s.rows for s in schemas], extras, budget, writer, rows - nulls)
                path, buckets = "streaming", 1
            except _NotOrdered:
                writer.close(None)
                fell_back = diagnostics is not None  # a proof that did not hold: worth a warning
                if fell_back:
                    log.warning("the recorded shard order did not hold: sorting instead (bucketed path)")
                writer = None
        if writer is None:
            writer = new_writer(stages, config)
            estimate = _estimate_bytes(files, extras, rows)
            buckets, spill = _bucketed(
                files,
                extras,
                budget,
                writer,
                spill_root,
                estimate,
                [estimate * s.rows // max(rows, 1) for s in schemas],
            )
        writer.close(_empty_output(files, extras))
    finally:
        if writer is not None and sys.exc_info()[0] is not None:
            # A failed run: let the write in flight on the writer thread end (its own error, if
            # any, is secondary) before the staged folders it writes into are removed.
            with contextlib.suppress(Exception):
                writer.close(None)
        if pm is not None:
            pm.__exit__(None, None, None)
        shutil.rmtree(spill_root, ignore_errors=True)
        # No exception: publish every split; otherwise discard the staged folders.
        outputs.__exit__(*sys.exc_info())
    c = writer.counts
    return GroupStats(
        output=output_dir,
        shards=len(files),
        measurements_in=rows,
        null_src_addr=nulls,
        measurements_out=c["measurements_out"],
        probes_in=c["probes_in"],
        probes_below_min=c["below_min"],
        probes_train=c["train"],
        probes_test=c["test"],
        path=path,
        fell_back=fell_back,
        order_evidence="recorded" if diagnostics is not None else "checked_in_pass",
        buckets=buckets,
        spill_bytes=spill,
        seconds=time.perf_counter() - t0,
        memory=pm.report if pm else None,
        files=[str(output_dir / split / name) for split, name in writer.files],
    )


def _empty_output(files, extras) -> pl.DataFrame:
    """The output's columns and types with no row (the file an empty split gets)."""
    empty = _group_frame(_scan(files[:1], extras).head(0).collect(), extras, presorted=False)
    return empty.with_columns(pl.col("n_measurements").cast(pl.Int64))


__all__ = ["GroupConfig", "GroupStats", "group_probes", "REQUIRED"]
