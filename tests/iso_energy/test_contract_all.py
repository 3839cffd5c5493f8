"""The converter contract, for every registered operator and LMP dataset.

Generated native-format files around both 2024 DST transitions (spring forward 10 March, fall
back 3 November in the US zones) go through the base pipeline; the output must have exactly
the normalised schema, unique keys, the right number of hours per operating day and pass the
asset checks.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from iso_energy.checks import lmp_checks, lmp_component_check
from iso_energy.convert import convert_partition, partition_path
from iso_energy.isos import ISOS
from iso_energy.isos.schema import LMP_KEY, LMP_SCHEMA
from iso_energy.sample import WRITERS
from memsafe.budget import Budget

CASES = [(iso, ds) for iso, conv in ISOS.items() for ds in ("lmp_da", "lmp_rt") if ds in conv.datasets]
WINDOWS = [(date(2024, 3, 9), date(2024, 3, 12)), (date(2024, 11, 2), date(2024, 11, 5))]
NODES = 2


def test_every_operator_has_a_sample_writer_and_both_lmp_datasets():
    assert set(WRITERS) == set(ISOS)
    assert set(ISOS) == {"pjm", "caiso", "ercot", "miso", "nyiso", "isone", "spp"}
    for conv in ISOS.values():
        assert {"lmp_da", "lmp_rt"} <= set(conv.datasets)


@pytest.mark.parametrize(("iso", "dataset"), CASES, ids=[f"{i}-{d}" for i, d in CASES])
def test_contract(tmp_path: Path, iso: str, dataset: str):
    conv = ISOS[iso]
    for start, end in WINDOWS:
        WRITERS[iso](tmp_path / "raw", dataset, start, end, NODES, 0)
    budget = Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))
    stats = convert_partition(conv, dataset, 2024, tmp_path, budget)

    assert stats.output == partition_path(tmp_path, dataset, iso, 2024)
    schema = pq.read_table(stats.output).schema
    assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in LMP_SCHEMA]

    con = duckdb.connect()
    p = {"p": str(stats.output)}
    rows, distinct = con.execute(
        f"SELECT count(*), count(DISTINCT ({', '.join(LMP_KEY)})) FROM read_parquet($p)", p
    ).fetchone()
    assert rows == distinct == stats.rows_out > 0
    assert con.execute("SELECT DISTINCT iso, market FROM read_parquet($p)", p).fetchall() == [
        (iso, conv.datasets[dataset].market)
    ]
    # Hours per location and operating day: every day of both windows, fully covered.
    hours = dict(
        con.execute(
            "SELECT operating_date, sum(epoch(interval_end_utc - interval_start_utc)) / 3600 / count(DISTINCT "
            "location_id) FROM read_parquet($p) GROUP BY 1",
            p,
        ).fetchall()
    )
    fixed_offset = conv.timezone.startswith("Etc/")  # MISO: EST all year
    assert hours == {
        date(2024, 3, 9): 24,
        date(2024, 3, 10): 24 if fixed_offset else 23,
        date(2024, 3, 11): 24,
        date(2024, 11, 2): 24,
        date(2024, 11, 3): 24 if fixed_offset else 25,
        date(2024, 11, 4): 24,
    }
    assert con.execute("SELECT count(DISTINCT location_id) FROM read_parquet($p)", p).fetchone()[0] == NODES
    # Intervals are contiguous per location: no gap or overlap across the DST hours.
    gaps = con.execute(
        "SELECT count(*) FROM (SELECT interval_start_utc, lag(interval_end_utc) OVER (PARTITION BY location_id "
        "ORDER BY interval_start_utc) AS prev_end, operating_date, lag(operating_date) OVER (PARTITION BY "
        "location_id ORDER BY interval_start_utc) AS prev_day FROM read_parquet($p)) "
        "WHERE prev_end IS NOT NULL AND prev_end <> interval_start_utc AND prev_day = operating_date",
        p,
    ).fetchone()[0]
    assert gaps == 0
    for outcome in [
        *lmp_checks(stats.output, conv.timezone, budget),
        lmp_component_check(stats.output, conv.component_tolerance, budget),
    ]:
        assert outcome.passed, (outcome.name, outcome.metadata)
    # Key columns are never null; ERCOT's prices are settlement point prices, the others LMPs.
    assert con.execute(
        "SELECT count(*) FILTER (WHERE location_type IS NULL OR price_type IS NULL), "
        "list(DISTINCT price_type) FROM read_parquet($p)",
        p,
    ).fetchone() == (0, ["SPP" if iso == "ercot" else "LMP"])
