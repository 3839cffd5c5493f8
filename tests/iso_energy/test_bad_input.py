"""Bad raw files fail the partition with the file, line and problem named, and leave the previous
good output in place with nothing half-written beside it."""

from __future__ import annotations

import errno
from datetime import date
from pathlib import Path

import pytest

from iso_energy.convert import partition_path
from iso_energy.isos import ISOS
from iso_energy.isos.schema import NoInputError, RawFileError
from iso_energy.isos.stream import FileSpill
from iso_energy.sample import generate
from memsafe.budget import Budget, BudgetError
from tests.iso_energy.helpers import materialize_lmp, no_temporaries, snapshot, step_error

GOOD_LINE = "11/1/2023 4:00:00 AM,11/1/2023 12:00:00 AM,51200,WESTERN HUB,,,HUB,,26.79,29.5,2.2,0.4,True,1"
PJM_HEADER = (
    "datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,voltage,equipment,type,zone,"
    "system_energy_price_da,total_lmp_da,congestion_price_da,marginal_loss_price_da,row_is_current,version_nbr"
)
CASES = {
    # name: (file content, words the error must contain, line it must name or None)
    "html-page": ("<!DOCTYPE html>\n<html><body>Data Miner is down</body></html>\n", ["HTML"], 1),
    "file-does-not-exist": (
        "File does not exist",
        ["no PJM Data Miner 2 da_hrl_lmps header", "'File does not exist'"],
        1,
    ),
    "header-of-another-dataset": (PJM_HEADER.replace("_da", "_rt") + "\n", ["total_lmp_da"], 1),
    "truncated-last-line": (f"{PJM_HEADER}\n{GOOD_LINE}\n11/1/2023 5:00:00 AM,11/1/2023 1:0", ["Expected"], 3),
    "non-numeric-price": (
        f"{PJM_HEADER}\n{GOOD_LINE}\n{GOOD_LINE.replace('29.5', 'n/a')}\n",
        ["total_lmp_da", "n/a"],
        3,
    ),
    "bad-timestamp": (f"{PJM_HEADER}\n{GOOD_LINE.replace('4:00:00 AM', '25:00')}\n", ["datetime_beginning_utc"], 2),
    "empty-file": ("", ["empty"], None),
}


@pytest.fixture
def good_root(data_root):
    generate(data_root, date(2023, 11, 1), date(2023, 11, 3), nodes=2, isos=["pjm"], datasets=["lmp_da"])
    assert materialize_lmp(data_root, "lmp_da", "pjm|2023").success
    return data_root


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_fails_and_keeps_previous_output(good_root, case):
    content, words, line = CASES[case]
    out = partition_path(good_root, "lmp_da", "pjm", 2023)
    before = snapshot(out)
    bad = good_root / "raw" / "pjm" / "lmp_da" / f"zz_{case}.csv"
    bad.write_text(content)
    result = materialize_lmp(good_root, "lmp_da", "pjm|2023", raise_on_error=False)
    assert not result.success
    err = step_error(result)
    assert str(bad) in err, err
    for word in words:
        assert word in err, err
    if line is not None:
        assert f"line {line}" in err, err
    assert snapshot(out) == before  # the previous good output is intact
    assert no_temporaries(out)  # nothing half-written


@pytest.mark.parametrize("case", ["non-numeric-price", "truncated-last-line"])
def test_plain_converter_raises_raw_file_error(tmp_path, case):
    content, _, line = CASES[case]
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(RawFileError) as info:
        ISOS["pjm"].convert_year([path], "lmp_da", 2023, tmp_path / "out" / "year=2023", Budget(memory_mb=512))
    assert info.value.path == str(path) and info.value.line == line
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []  # no output, no temporary file left


def test_empty_raw_folder_is_an_error_not_an_empty_success(data_root):
    (data_root / "raw" / "pjm" / "lmp_da").mkdir(parents=True)
    result = materialize_lmp(data_root, "lmp_da", "pjm|2023", raise_on_error=False)
    assert not result.success
    assert "no raw pjm lmp_da files under" in step_error(result)
    assert not partition_path(data_root, "lmp_da", "pjm", 2023).exists()
    with pytest.raises(NoInputError):
        ISOS["pjm"].convert_year([], "lmp_da", 2023, Path(data_root) / "x.parquet", Budget())


def test_spill_space_exhausted_is_a_budget_error_at_once(tmp_path, monkeypatch):
    """Running out of spill space names the folder and the remedy, and leaves nothing behind."""
    files = generate(tmp_path, date(2024, 1, 1), date(2024, 2, 1), nodes=50, isos=["pjm"], datasets=["lmp_rt"])
    write = FileSpill._write
    calls = []

    def disk_full_after_a_few(self, day, batch):
        calls.append(day)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, day, batch)

    monkeypatch.setattr(FileSpill, "_write", disk_full_after_a_few)
    out = tmp_path / "out" / "year=2024"
    spill = tmp_path / "spill"
    with pytest.raises(BudgetError, match=r"spill files ran out of space .* spill_dir"):
        ISOS["pjm"].convert_year(files, "lmp_rt", 2024, out, Budget(memory_mb=256, threads=1, spill_dir=str(spill)))
    assert not out.exists() and list(out.parent.iterdir()) == []
    assert list(spill.iterdir()) == []  # the day spill files are removed
