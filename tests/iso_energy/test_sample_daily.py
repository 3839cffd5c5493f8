"""The sample generator's daily PJM layout (the seed-scale benchmark's pile of 366 daily files)
converts to the same rows as the monthly archives of the same days."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from iso_energy.convert import partition_path
from iso_energy.sample import generate, main
from memsafe.cli import CliUsageError
from tests.iso_energy.helpers import materialize_lmp, metadata


def test_daily_files_convert_like_monthly_ones(tmp_path):
    # 28 Feb - 12 Mar 2024: a month edge, 29 February and the spring-forward day (23 hours).
    start, end = date(2024, 2, 28), date(2024, 3, 13)
    daily, monthly = tmp_path / "daily", tmp_path / "monthly"
    files = generate(daily, start, end, nodes=3, isos=["pjm"], datasets=["lmp_da"], daily=True)
    generate(monthly, start, end, nodes=3, isos=["pjm"], datasets=["lmp_da"])
    assert sorted(f.name for f in files)[:2] == ["da_hrl_lmps_2024-02-28.csv", "da_hrl_lmps_2024-02-29.csv"]
    assert len(files) == (end - start).days
    spring = next(f for f in files if f.name.endswith("2024-03-10.csv"))
    assert len(spring.read_text().splitlines()) == 1 + 23 * 3 + 1  # header, 23 hours x 3 nodes, one revision

    md = metadata(materialize_lmp(daily, "lmp_da", "pjm|2024"))
    materialize_lmp(monthly, "lmp_da", "pjm|2024")
    got = pq.read_table(str(partition_path(daily, "lmp_da", "pjm", 2024)))
    want = pq.read_table(str(partition_path(monthly, "lmp_da", "pjm", 2024)))
    assert got.num_rows == (end - start).days * 24 * 3 - 3 == md["rows_out"]
    assert md["files_read"] == len(files)
    assert got.equals(want)


@pytest.mark.parametrize("argv", [["--daily"], ["--daily", "--iso", "pjm", "--iso", "ercot"]])
def test_daily_is_pjm_only(argv, tmp_path):
    with pytest.raises(CliUsageError, match="--daily needs --iso pjm"):
        main(["--data-dir", str(tmp_path), *argv])
