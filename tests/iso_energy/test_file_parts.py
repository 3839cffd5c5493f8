"""Pass 1 reads a file in parts (byte ranges of whole lines) when there are fewer files than
engine threads: the result is the one of reading it whole, and a bad line in any part (or in
any parse block of a file read whole) still fails with the file and line named."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from iso_energy.isos import ISOS, stream
from iso_energy.isos.schema import RawFileError
from iso_energy.sample import generate
from memsafe.budget import Budget


def test_line_spans_cover_every_data_line_once(tmp_path):
    lines = [f"{i},{'x' * (i % 37)},{i * 1.5}" for i in range(2_000)]
    for ending, last in (("\r\n", ""), ("\n", "\n")):
        path = tmp_path / "f.csv"
        path.write_bytes(("preamble" + ending + "a,b,c" + ending + ending.join(lines) + last).encode())
        data = path.read_bytes().split(b"a,b,c" + ending.encode(), 1)[1]
        for parts in range(1, 9):
            spans = stream.line_spans(path, skip=1, parts=parts)
            assert len(spans) == parts
            raw = path.read_bytes()
            assert b"".join(raw[a:b] for a, b in spans) == data
            assert all(raw[a - 1 : a] == b"\n" for a, _ in spans)
            assert all(b1 == a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("a,b,c\n1,2,3\n")
    assert stream.line_spans(tiny, skip=0, parts=4) == [(6, 12)]


@pytest.fixture
def small_blocks(monkeypatch):
    # Parts are at least one parse block: small blocks (and parts) make a small file worth cutting.
    monkeypatch.setattr(stream, "BLOCK_BYTES", 16 << 10)
    monkeypatch.setattr(stream, "PART_BYTES", 1 << 40)
    return monkeypatch


def convert(files: list[Path], out: Path, threads: int, tmp_path: Path, dataset: str = "lmp_da", iso: str = "pjm"):
    budget = Budget(memory_mb=512, threads=threads, spill_dir=str(tmp_path / "spill"))
    stats = ISOS[iso].convert_year(files, dataset, 2024, out, budget)
    return stats, pl.read_parquet(sorted(out.glob("*.parquet")))


def test_one_file_read_in_parts_equals_read_whole(tmp_path, small_blocks):
    # One monthly export (a superseded revision, the one-day overlap into February): as the
    # only file of a conversion on four threads it is read in four parts.
    files = [
        f
        for f in generate(tmp_path / "raw", date(2024, 1, 1), date(2024, 2, 1), nodes=6, isos=["pjm"])
        if "da_" in f.name
    ]
    assert len(files) == 1 and files[0].stat().st_size > 4 * stream.BLOCK_BYTES
    units = ISOS["pjm"]._pass1_units({files[0]: ISOS["pjm"].sniff(files[0], "lmp_da")}, "lmp_da", threads=4)
    assert [u[2:] for u in units] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    whole_stats, whole = convert(files, tmp_path / "whole", 1, tmp_path)  # one thread: one part
    parts_stats, parts = convert(files, tmp_path / "parts", 4, tmp_path)
    assert parts.equals(whole) and parts.height == whole_stats.rows_out > 0
    for field in ("rows_in_year", "rows_out", "exact_duplicates", "conflicting_revisions", "file_counts"):
        assert getattr(parts_stats, field) == getattr(whole_stats, field), field
    assert (
        pq.read_metadata(tmp_path / "parts" / "2024-01.parquet").num_rows
        == whole.filter(pl.col("interval_start_utc").dt.month() == 1).height
    )


def test_a_format_that_pivots_is_never_cut(tmp_path, small_blocks):
    files = generate(tmp_path / "raw", date(2024, 1, 1), date(2024, 1, 8), nodes=6, isos=["caiso"], datasets=["lmp_da"])
    conv = ISOS["caiso"]
    assert conv.datasets["lmp_da"].group_by_sql and files[0].stat().st_size > 4 * stream.BLOCK_BYTES
    units = conv._pass1_units({files[0]: conv.sniff(files[0], "lmp_da")}, "lmp_da", threads=4)
    assert units == [(files[0], None, 0, 1)]


@pytest.mark.parametrize("threads", [1, 4])
def test_a_bad_line_in_a_later_part_is_named(tmp_path, small_blocks, threads):
    # threads=1: the file whole, the bad line in a later parse block (an Arrow stream error
    # there used to escape as a bare OSError instead of naming the line); 4: in the last part.
    files = [
        f
        for f in generate(tmp_path / "raw", date(2024, 1, 1), date(2024, 2, 1), nodes=6, isos=["pjm"])
        if "da_" in f.name
    ]
    lines = files[0].read_text().splitlines(keepends=True)
    bad = len(lines) - 10  # in the last part
    lines[bad] = lines[bad].replace(",True,", ",maybe,", 1)
    files[0].write_text("".join(lines))
    with pytest.raises(RawFileError) as err:
        convert(files, tmp_path / "out", threads, tmp_path)
    assert f"line {bad + 1}" in str(err.value) and files[0].name in str(err.value)
    assert not (tmp_path / "out").exists()


def test_an_added_month_read_in_parts_equals_a_full_reconversion(tmp_path, small_blocks):
    # January converted (cut into 64 KB parts, their months in the manifest), then February's
    # export added: February is read in parts, and of January (unchanged, but holding 1 February
    # through the one-day overlap) only the parts holding February rows are read again.
    small_blocks.setattr(stream, "PART_BYTES", 64 << 10)
    files = [
        f
        for f in generate(tmp_path / "raw", date(2024, 1, 1), date(2024, 3, 1), nodes=6, isos=["pjm"])
        if "da_" in f.name
    ]
    assert len(files) == 2
    out = tmp_path / "year=2024"
    convert(files[:1], out, 4, tmp_path)
    spans = json.loads((out / "_manifest.json").read_text())["files"]
    (jan,) = spans.values()
    assert len(jan["spans"]) > 2 and jan["spans"][0][2] == [1] and 2 in jan["spans"][-1][2]
    stats, incremental = convert(files, out, 4, tmp_path)
    assert (stats.months_carried, stats.months_written) == (1, 2)
    february_spans = sum(b - a for a, b, months in jan["spans"] if 2 in months)
    assert stats.bytes_read == files[1].stat().st_size + february_spans < sum(f.stat().st_size for f in files)
    full_stats, full = convert(files, tmp_path / "full", 1, tmp_path)
    assert incremental.equals(full) and stats.rows_out == full_stats.rows_out
    assert stats.exact_duplicates == full_stats.exact_duplicates > 0


@pytest.mark.parametrize(
    "share,estimate,midway", [(0.0, True, False), (4e-4, True, False), (4e-4, False, True), (2e-3, False, True)]
)
def test_day_pieces_on_disk_or_turned_to_disk_midway_give_the_same_partition(
    tmp_path, small_blocks, share, estimate, midway
):
    # Default: this small year (1.4 MB of CSV) is held in memory. share 0: every piece goes to a
    # file. 4e-4 of the 256 MB engine memory (about 100 KB): with the raw bytes announced
    # (DaySpill.expect), the spill is on disk from the start; with the estimate ignored (as when
    # it is too low), a few pieces are held, then the spill turns to files (pieces in flight
    # writing theirs first); 2e-3: some files committed in memory, then written out when a
    # later piece passes the share.
    files = generate(tmp_path / "raw", date(2024, 1, 1), date(2024, 4, 1), nodes=6, isos=["pjm"], datasets=["lmp_da"])
    held_stats, held = convert(files, tmp_path / "held", 2, tmp_path)
    if not estimate:
        small_blocks.setattr(stream.DaySpill, "expect", lambda self, nbytes: None)
    flushed = []  # held batches written out: committed pieces (write_file) or in flight (_to_files)
    real_file, real_to = stream.DaySpill.write_file, stream.FileSpill._to_files
    small_blocks.setattr(stream.DaySpill, "write_file", lambda self, *a: flushed.append(a[:3]) or real_file(self, *a))
    small_blocks.setattr(
        stream.FileSpill,
        "_to_files",
        lambda self: (flushed.append(len(self._held)) if self._held else None, real_to(self)),
    )
    small_blocks.setattr(stream, "HELD_SHARE", share)
    opened = []
    real_writer = stream.FileSpill._writer
    small_blocks.setattr(stream.FileSpill, "_writer", lambda self, day: opened.append(day) or real_writer(self, day))
    disk_stats, disk = convert(files, tmp_path / "disk", 2, tmp_path)
    assert disk.equals(held) and held.height == held_stats.rows_out > 0
    for field in ("rows_out", "exact_duplicates", "conflicting_revisions", "file_counts"):
        assert getattr(disk_stats, field) == getattr(held_stats, field), field
    assert opened, "no piece was written to a file"
    assert bool(flushed) == midway, "held pieces are written out only when the spill turns to files midway"
