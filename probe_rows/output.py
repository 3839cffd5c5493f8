"""Where grouped rows go: train/test parquet files, staged in hidden folders and swapped in whole.

Plain logic (no dagster). :class:`SplitWriter` orders each grouped frame by ``src_addr``, assigns
each probe to a split (:mod:`probe_rows.split`), drops probes under the minimum and writes the
files into staging folders; :func:`staged_splits` replaces ``<output>/train`` and ``<output>/test``
by the staged folders only once everything is written.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from memsafe.atomic import atomic_dir
from probe_rows.split import SPLITS, is_test

# Measurements per output file on the streaming path (about 15 MB estimated in memory on 5
# columns). Memory holds up to this many per split in the buffers plus a file being written, whose
# encoding by polars peaks at about 3 times the frame's size (100 MB for 1M measurements), so the
# streaming peak is set by this (the worst coincidence of the two buffers, a write and a read):
# 1M gave 487-497 MiB at 20M sorted and 552 at 200M; 500k gives 417-439 and 451-508 at the same
# or less CPU time (docs/probe_rows.md, "Sorted input at seed size").
STREAM_FILE_MEASUREMENTS = 500_000


class SplitWriter:
    """Turns grouped frames into split parquet files in the staging folders; counts probes.

    Buckets become one file per split. Streaming batches are buffered per split and written as
    files of up to ``STREAM_FILE_MEASUREMENTS`` measurements: fewer, larger files and row
    groups than one per batch (measured: 81 small ``write_table`` calls were the largest cost of the
    streaming path on 4M measurements). Those files are written by one background thread while
    the next batches are read and grouped (polars releases the GIL while it encodes); at most one
    such write is in flight, so memory holds one file being written plus the buffers.
    """

    def __init__(self, stages: dict[str, Path], config) -> None:
        """``config``: a :class:`probe_rows.grouping.GroupConfig` (min_measurements, split, codec)."""
        self.stages, self.config = stages, config
        self.counts = {"probes_in": 0, "below_min": 0, "train": 0, "test": 0, "measurements_out": 0}
        self.buffers: dict[str, list] = {split: [] for split in SPLITS}
        self.buffered = dict.fromkeys(SPLITS, 0)
        self.next_part = dict.fromkeys(SPLITS, 0)
        self.files: list[tuple[str, str]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def emit(self, grouped, part: int | None = None) -> None:
        """``grouped``: polars frame (src_addr, n_measurements, measurements), any probe order;
        ``part``: the bucket number, or ``None`` for a streaming batch.

        Rows are ordered by ``src_addr`` and split with one gather per split (one copy in all), or
        none when one split takes every row in order (a long probe grouped alone). Streaming
        rows are buffered per split into files of at most ``STREAM_FILE_MEASUREMENTS`` (the
        buffer is written before it would pass that), and a frame of at least half a file (a long
        probe) is written as its own file at once: the file in flight then holds the long list
        alone, and memory holds at most one file's worth per split plus the one being written.
        """
        self.counts["probes_in"] += grouped.height
        keep = grouped["n_measurements"] >= self.config.min_measurements
        order = grouped["src_addr"].arg_sort()
        addrs = grouped["src_addr"].gather(order)
        kept = keep.gather(order)
        self.counts["below_min"] += grouped.height - int(kept.sum())
        test = pl.Series(is_test(addrs.to_list(), self.config.seed, self.config.test_fraction))
        for split, mask in (("train", kept & ~test), ("test", kept & test)):
            idx = order.filter(mask)
            if len(idx) == 0:
                continue
            rows = grouped if len(idx) == grouped.height and order.is_sorted() else grouped[idx]
            rows = rows.with_columns(pl.col("n_measurements").cast(pl.Int64))
            n = int(rows["n_measurements"].sum())
            self.counts[split] += rows.height
            self.counts["measurements_out"] += n
            if part is not None:
                self._write(split, rows, part)
                continue
            # A file never passes STREAM_FILE_MEASUREMENTS unless one frame does: what is
            # buffered is written first when these rows would take it past that, or when these
            # rows are a long probe (at least half a file), which is then written alone at once.
            long = n >= STREAM_FILE_MEASUREMENTS // 2
            if self.buffered[split] and (long or self.buffered[split] + n > STREAM_FILE_MEASUREMENTS):
                self._flush(split)
            self.buffers[split].append(rows)
            self.buffered[split] += n
            if long or self.buffered[split] >= STREAM_FILE_MEASUREMENTS:
                self._flush(split)

    def _write(self, split: str, rows, part: int) -> None:
        # polars' writer: no conversion of its string views to Arrow strings.
        path = self.stages[split] / f"part-{part:05d}.parquet"
        rows.write_parquet(path, compression=self.config.compression)
        self.files.append((split, path.name))

    def _flush(self, split: str) -> None:
        if self.buffers[split]:
            rows = pl.concat(self.buffers[split], rechunk=False)
            self._wait()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="probe-writer")
            self._pending = self._pool.submit(self._write, split, rows, self.next_part[split])
            self.next_part[split] += 1
        self.buffers[split], self.buffered[split] = [], 0

    def _wait(self) -> None:
        """Wait for the background write in flight, if any; re-raises its error."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self, empty: pl.DataFrame | None) -> None:
        """Write what is buffered; give an empty split one file of ``empty`` (the output's
        columns, no row: readers find the schema). ``empty=None`` abandons the buffers (a streaming
        pass that met a row out of order)."""
        try:
            if empty is not None:
                for split in SPLITS:
                    self._flush(split)
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        if empty is None:
            self.buffers = {split: [] for split in SPLITS}
            return
        for split in SPLITS:
            if not any(self.stages[split].glob("*.parquet")):
                path = self.stages[split] / "part-00000.parquet"
                empty.write_parquet(path, compression=self.config.compression)
                self.files.append((split, path.name))


@contextmanager
def staged_splits(output_dir: Path) -> Iterator[dict[str, Path]]:
    """One locked atomic folder output per split (:func:`memsafe.atomic.atomic_dir`).

    Yields ``{split: empty staging folder}``; on success each replaces ``<output_dir>/<split>``
    (one rename each, under that split's lock, so a crash between two leaves one split folder
    missing, never a partial one; the next run rebuilds it). On an error nothing is published.
    """
    with contextlib.ExitStack() as stack:
        yield {split: stack.enter_context(atomic_dir(output_dir / split)) for split in SPLITS}


def new_writer(stages: dict[str, Path], config) -> SplitWriter:
    """A writer into freshly emptied staging folders."""
    for stage in stages.values():
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
    return SplitWriter(stages, config)
