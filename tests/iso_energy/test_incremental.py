"""Incremental re-conversion: only the months that new, changed or removed raw files touch are
rewritten; the others are carried over (same inode), and the partition equals a full
reconversion of the same files, row for row and figure for figure."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iso_energy.convert import convert_partition, partition_path
from iso_energy.isos import ISOS, partition
from iso_energy.isos.base import ConversionStats
from iso_energy.sample import generate
from memsafe.budget import Budget

YEAR = 2024


def budget(root: Path) -> Budget:
    return Budget(memory_mb=512, threads=2, spill_dir=str(root / "spill"))


def months(folder: Path) -> dict[str, os.stat_result]:
    """Month file name -> its stat (inode and mtime tell a carried file from a rewritten one)."""
    return {p.name: p.stat() for p in sorted(folder.glob("*.parquet"))}


def table(folder: Path) -> pa.Table:
    """The partition's rows, month files in name (= time) order."""
    return pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("*.parquet"))])


def figures(s: ConversionStats) -> tuple:
    return s.rows_out, s.rows_in_year, s.exact_duplicates, s.conflicting_revisions, s.conflict_example


def assert_equals_full(root: Path, iso: str, dataset: str, inc: ConversionStats, tmp: Path) -> None:
    """The incremental partition equals a full conversion of the same raw files (elsewhere)."""
    full = convert_partition(ISOS[iso], dataset, YEAR, root, budget(root), output=tmp / "full")
    assert full.months_carried == 0
    assert [p.name for p in sorted(inc.output.glob("*.parquet"))] == [
        p.name for p in sorted(full.output.glob("*.parquet"))
    ]
    assert table(inc.output).equals(table(full.output)), (iso, dataset)
    assert figures(inc) == figures(full)


def rewritten(before: dict[str, os.stat_result], after: dict[str, os.stat_result]) -> list[str]:
    """Month files new or rewritten since ``before`` (a carried file keeps its inode and mtime)."""
    return sorted(
        n
        for n, st in after.items()
        if n not in before or (st.st_ino, st.st_mtime_ns) != (before[n].st_ino, before[n].st_mtime_ns)
    )


CASES = [(iso, "lmp_da") for iso in sorted(ISOS)] + [("nyiso", "lmp_rt"), ("ercot", "as")]


@pytest.mark.parametrize("iso,dataset", CASES, ids=[f"{i}-{d}" for i, d in CASES])
def test_a_new_month_rewrites_only_that_month(tmp_path, iso, dataset):
    # January..November converted, then December's export arrives.
    root = tmp_path / "data"
    generate(root, date(YEAR, 1, 1), date(YEAR, 12, 1), nodes=1, isos=[iso], datasets=[dataset])
    first = convert_partition(ISOS[iso], dataset, YEAR, root, budget(root))
    folder = partition_path(root, dataset, iso, YEAR)
    assert first.output == folder and first.months_written == len(months(folder)) >= 11
    before = months(folder)
    generate(root, date(YEAR, 12, 1), date(YEAR + 1, 1, 1), nodes=1, isos=[iso], datasets=[dataset])
    inc = convert_partition(ISOS[iso], dataset, YEAR, root, budget(root))
    after = months(folder)
    assert sorted(after) == [partition.month_file(YEAR, m) for m in range(1, 13)]
    # Only December is written (a file of 30 November may end on 1 December UTC: still December).
    assert rewritten(before, after) == [f"{YEAR}-12.parquet"]
    assert (inc.months_written, inc.months_carried) == (1, 11)
    assert_equals_full(root, iso, dataset, inc, tmp_path)


def test_daily_files_of_one_week_republished(tmp_path):
    # MISO publishes one file per market day: a week of June republished with other prices.
    root = tmp_path / "data"
    generate(root, date(YEAR, 1, 1), date(YEAR + 1, 1, 1), nodes=2, isos=["miso"], datasets=["lmp_da"])
    convert_partition(ISOS["miso"], "lmp_da", YEAR, root, budget(root))
    folder = partition_path(root, "lmp_da", "miso", YEAR)
    before = months(folder)
    republished = generate(
        root, date(YEAR, 6, 10), date(YEAR, 6, 17), nodes=2, isos=["miso"], datasets=["lmp_da"], seed=7
    )
    assert len(republished) == 7
    inc = convert_partition(ISOS["miso"], "lmp_da", YEAR, root, budget(root))
    assert rewritten(before, months(folder)) == [f"{YEAR}-06.parquet"]
    # Read: the 7 changed files, and the other files holding June (UTC) for June's rows: the
    # other 23 days of June and 31 May (EST all year: its last 5 hours are 1 June UTC).
    assert inc.files_read == 7 + 23 + 1
    assert_equals_full(root, "miso", "lmp_da", inc, tmp_path)


def test_a_revision_file_and_its_removal(tmp_path):
    # PJM monthly exports overlap by a day; a later export revises one week of June (other prices,
    # same version: it is last in name order, so its rows win), then is withdrawn.
    root = tmp_path / "data"
    generate(root, date(YEAR, 1, 1), date(YEAR + 1, 1, 1), nodes=2, isos=["pjm"], datasets=["lmp_da"])
    convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    folder = partition_path(root, "lmp_da", "pjm", YEAR)
    before = months(folder)
    [week] = generate(tmp_path / "week", date(YEAR, 6, 10), date(YEAR, 6, 17), nodes=2, isos=["pjm"], seed=3,
                      datasets=["lmp_da"])  # fmt: skip
    revision = root / "raw" / "pjm" / "lmp_da" / "revised_week_2024-06-10.csv"
    shutil.copy(week, revision)
    inc = convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    assert rewritten(before, months(folder)) == [f"{YEAR}-06.parquet"]
    assert inc.files_read == 3  # the revision, June's export and May's (its overlap day is 1 June)
    assert inc.conflicting_revisions > 0  # the week's rows replaced June's
    assert_equals_full(root, "pjm", "lmp_da", inc, tmp_path / "with")

    # Removed: June comes back as it was; the other months are still the first run's files.
    revision.unlink()
    again = convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    after = months(folder)
    assert rewritten(before, after) == [f"{YEAR}-06.parquet"]
    assert (again.months_written, again.months_carried) == (1, 11)
    assert_equals_full(root, "pjm", "lmp_da", again, tmp_path / "without")


def test_a_changed_export_rewrites_the_months_it_held_and_holds(tmp_path):
    # June's export (June plus 1 July, the overlap day) republished with other prices.
    root = tmp_path / "data"
    generate(root, date(YEAR, 1, 1), date(YEAR + 1, 1, 1), nodes=2, isos=["pjm"], datasets=["lmp_da"])
    convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    folder = partition_path(root, "lmp_da", "pjm", YEAR)
    before = months(folder)
    june = root / "raw" / "pjm" / "lmp_da" / "da_hrl_lmps_2024-06.csv"
    assert june.is_file()
    text = june.read_text().replace(",True,1", ",True,2")  # a later version of every current row
    june.write_text(text)
    inc = convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    assert rewritten(before, months(folder)) == [f"{YEAR}-06.parquet", f"{YEAR}-07.parquet"]
    assert_equals_full(root, "pjm", "lmp_da", inc, tmp_path)


def test_a_new_converter_version_rebuilds_every_month(tmp_path, monkeypatch):
    root = tmp_path / "data"
    generate(root, date(YEAR, 1, 1), date(YEAR, 4, 1), nodes=1, isos=["pjm"], datasets=["lmp_da"])
    convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    folder = partition_path(root, "lmp_da", "pjm", YEAR)
    before = months(folder)
    same = convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    n = len(before)  # January..March, and 1 April (March's export overlaps it by a day)
    assert n == 4
    assert (same.files_read, same.months_written, same.months_carried) == (0, 0, n)  # nothing changed
    assert rewritten(before, months(folder)) == []
    monkeypatch.setattr(partition, "FORMAT_VERSION", partition.FORMAT_VERSION + 1)
    partition.converter_version.cache_clear()
    try:
        rebuilt = convert_partition(ISOS["pjm"], "lmp_da", YEAR, root, budget(root))
    finally:
        monkeypatch.undo()
        partition.converter_version.cache_clear()
    assert (rebuilt.files_read, rebuilt.months_written, rebuilt.months_carried) == (3, n, 0)
    assert rewritten(before, months(folder)) == sorted(before)
    assert table(folder).equals(pa.concat_tables([pq.read_table(folder / n) for n in sorted(before)]))


def test_months_written_in_parallel_equal_one_at_a_time(tmp_path):
    root = tmp_path / "data"
    generate(root, date(YEAR, 1, 1), date(YEAR, 5, 1), nodes=3, isos=["pjm"], datasets=["lmp_rt"])
    one = convert_partition(
        ISOS["pjm"],
        "lmp_rt",
        YEAR,
        root,
        Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "s")),
        output=tmp_path / "one",
    )
    two = convert_partition(
        ISOS["pjm"],
        "lmp_rt",
        YEAR,
        root,
        Budget(memory_mb=512, threads=2, spill_dir=str(tmp_path / "s")),
        output=tmp_path / "two",
    )
    assert one.months_written == two.months_written == 5  # April's export overlaps 1 May
    for name in months(one.output):
        assert pq.read_table(one.output / name).equals(pq.read_table(two.output / name))
    assert figures(one) == figures(two)
