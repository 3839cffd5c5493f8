"""A rerun replaces exactly its partition; other partitions and their files are untouched."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pyarrow.parquet as pq

from iso_energy.convert import partition_path
from iso_energy.sample import generate
from tests.conftest import REPO
from tests.iso_energy.helpers import materialize_lmp, metadata, no_temporaries


def test_rerun_replaces_only_its_partition(data_root):
    generate(data_root, date(2023, 12, 30), date(2024, 1, 3), nodes=2, isos=["pjm"], datasets=["lmp_da"])
    materialize_lmp(data_root, "lmp_da", "pjm|2023")
    materialize_lmp(data_root, "lmp_da", "pjm|2024")
    p23, p24 = (partition_path(data_root, "lmp_da", "pjm", y) for y in (2023, 2024))
    stat24 = {p.name: p.stat() for p in p24.iterdir()}
    first = pq.read_table(p23)
    # A second, later export for December adds a node: only 2023 is affected.
    generate(data_root, date(2023, 12, 30), date(2024, 1, 1), nodes=3, isos=["pjm"], datasets=["lmp_da"], seed=0)
    again = materialize_lmp(data_root, "lmp_da", "pjm|2023")
    assert metadata(again)["rows_out"] == first.num_rows * 3 // 2
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in p24.iterdir()} == {
        n: (s.st_mtime_ns, s.st_ino) for n, s in stat24.items()
    }
    assert sorted(p.name for p in p23.iterdir()) == ["2023-12.parquet", "_manifest.json"]
    assert no_temporaries(p23)


def test_identical_rerun_gives_identical_rows(data_root):
    generate(data_root, date(2024, 3, 9), date(2024, 3, 11), nodes=2, isos=["ercot"], datasets=["lmp_rt"])
    materialize_lmp(data_root, "lmp_rt", "ercot|2024")
    path = partition_path(data_root, "lmp_rt", "ercot", 2024)
    first = pq.read_table(path)
    md = metadata(materialize_lmp(data_root, "lmp_rt", "ercot|2024"))
    assert pq.read_table(path).equals(first)  # ordered output: the same rows in the same order
    assert md["files_read"] == 0  # nothing changed: every month carried over
    assert (md["months_written"], md["months_carried"]) == (0, 1)


def test_two_writers_of_one_partition_take_turns(data_root):
    """A sensor run and a backfill converting the same partition must not delete each other's
    temporary file: the second writer starts while the first is writing; both succeed."""
    generate(data_root, date(2024, 1, 1), date(2024, 2, 1), nodes=500, isos=["pjm"], datasets=["lmp_rt"])
    cmd = [
        sys.executable,
        "-m",
        "iso_energy.convert",
        "--iso",
        "pjm",
        "--dataset",
        "lmp_rt",
        "--year",
        "2024",
        "--data-dir",
        str(data_root),
        "--memory-mb",
        "512",
        "--threads",
        "1",
    ]
    folder = partition_path(data_root, "lmp_rt", "pjm", 2024)
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (folder.parent.is_dir() and any(p.name.endswith(".tmp") for p in folder.parent.iterdir())):
        assert first.poll() is None and time.monotonic() < deadline, "the first writer never started writing"
        time.sleep(0.005)
    second = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [e[-800:] for _, e in outs]
    assert pq.read_table(folder).num_rows == 31 * 24 * 500
    assert sorted(p.name for p in folder.iterdir()) == ["2024-01.parquet", "2024-02.parquet", "_manifest.json"]
    assert no_temporaries(folder)


def test_a_killed_writers_temporary_file_is_removed_and_counted(data_root):
    generate(data_root, date(2024, 3, 9), date(2024, 3, 11), nodes=2, isos=["ercot"], datasets=["lmp_rt"])
    materialize_lmp(data_root, "lmp_rt", "ercot|2024")
    folder = partition_path(data_root, "lmp_rt", "ercot", 2024)
    (folder.parent / ".year=2024.deadbeef0000.tmp").mkdir()
    (folder.parent / ".year=2024.deadbeef0000.tmp" / "2024-03.parquet").write_bytes(b"half a parquet file")
    md = metadata(materialize_lmp(data_root, "lmp_rt", "ercot|2024"))
    assert md["stale_temps_removed"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["2024-03.parquet", "_manifest.json"]
    assert no_temporaries(folder)
