"""The DuckDB catalog: views over every parquet partition, pruned on operator and year."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from iso_energy.assets import price_catalog
from iso_energy.convert import convert_partition
from iso_energy.isos import ISOS
from iso_energy.isos.schema import AS_SCHEMA, LMP_SCHEMA
from iso_energy.resources import CatalogDuckDBResource
from iso_energy.sample import WRITERS
from memsafe.budget import Budget
from memsafe.resources import DataDirResource


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every operator's day-ahead LMP for a few days of 2023 and 2024 (1 location), plus NYISO RT."""
    root = tmp_path_factory.mktemp("catalog")
    budget = Budget(memory_mb=512, threads=1, spill_dir=str(root / "spill"))
    for iso in ISOS:
        WRITERS[iso](root / "raw", "lmp_da", date(2023, 12, 30), date(2024, 1, 2), 1, 0)
        for year in (2023, 2024):
            convert_partition(ISOS[iso], "lmp_da", year, root, budget)
    WRITERS["nyiso"](root / "raw", "lmp_rt", date(2024, 1, 1), date(2024, 1, 2), 1, 0)
    convert_partition(ISOS["nyiso"], "lmp_rt", 2024, root, budget)
    return root


def materialize_catalog(root: Path) -> dg.MaterializeResult:
    result = dg.materialize(
        [price_catalog], resources={"data": DataDirResource(data_dir=str(root)), "catalog_db": CatalogDuckDBResource()}
    )
    assert result.success
    return result.get_asset_materialization_events()[0].materialization


def test_catalog_views_answer_per_operator_and_year(converted: Path):
    mat = materialize_catalog(converted)
    db = converted / "catalog.duckdb"
    assert mat.metadata["path"].value == str(db)
    assert mat.metadata["lmp_files"].value == 15  # 7 operators x 2 years + NYISO RT 2024
    assert mat.metadata["lmp_isos"].value == ", ".join(sorted(ISOS))
    con = duckdb.connect(str(db), read_only=True)
    try:
        per_iso = dict(
            con.execute("SELECT iso, count(*) FROM lmp WHERE year = 2024 AND market = 'DA' GROUP BY iso").fetchall()
        )
        assert per_iso == {iso: 24 for iso in ISOS}  # 1 January, one location
        # The query from the README, for every operator
        for iso in ISOS:
            n = con.execute("SELECT count(*) FROM lmp WHERE iso = ? AND year = 2024", [iso]).fetchone()[0]
            assert n == (24 + 24 * 12 if iso == "nyiso" else 24), iso
        # `iso` is in the files and in the paths: one column, consistent with the path.
        cols = [r[0] for r in con.execute("DESCRIBE lmp").fetchall()]
        assert cols.count("iso") == 1 and {"dataset", "year"} <= set(cols)
        assert set(cols) == {f.name for f in LMP_SCHEMA} | {"dataset", "year"}
        assert con.execute("SELECT DISTINCT dataset FROM lmp WHERE iso = 'nyiso' ORDER BY 1").fetchall() == [
            ("lmp_da",),
            ("lmp_rt",),
        ]
        # price_type tells ERCOT's settlement point prices from LMPs; no key column is null.
        assert dict(con.execute("SELECT iso, list(DISTINCT price_type) FROM lmp GROUP BY iso").fetchall()) == {
            iso: ["SPP" if iso == "ercot" else "LMP"] for iso in ISOS
        }
        assert con.execute("SELECT count(*) FROM lmp WHERE location_type IS NULL OR price_type IS NULL").fetchone() == (
            0,
        )
        assert con.execute("SELECT count(*) FROM lmp WHERE price_type = 'LMP' AND iso = 'ercot'").fetchone() == (0,)
        # No AS partition yet: an empty view with the AS columns, not an error.
        assert con.execute("SELECT count(*) FROM ancillary_services").fetchone()[0] == 0
        as_cols = {r[0] for r in con.execute("DESCRIBE ancillary_services").fetchall()}
        assert as_cols == {f.name for f in AS_SCHEMA} | {"dataset", "year"}
    finally:
        con.close()


def scanning_files(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, int]:
    plan = "\n".join(row[1] for row in con.execute("EXPLAIN " + sql).fetchall())
    m = re.search(r"Scanning Files:\s*(\d+)/(\d+)", plan)
    assert m, plan
    return int(m.group(1)), int(m.group(2))


def test_catalog_prunes_files_on_operator_and_year(converted: Path):
    materialize_catalog(converted)
    con = duckdb.connect(str(converted / "catalog.duckdb"), read_only=True)
    try:
        q = "SELECT avg(lmp_usd_per_mwh) FROM lmp WHERE iso = 'nyiso' AND year = 2024"
        assert scanning_files(con, q) == (2, 15)  # nyiso 2024: lmp_da and lmp_rt only
        assert scanning_files(con, "SELECT * FROM lmp WHERE iso = 'spp' AND year = 2023") == (1, 15)
        assert scanning_files(con, "SELECT * FROM lmp WHERE year = 2023") == (7, 15)
        # and the plan is what runs: the profiled query reads exactly those files
        profile = "\n".join(r[1] for r in con.execute("EXPLAIN ANALYZE " + q).fetchall())
        assert re.search(r"Total Files Read:\s*2\b", profile), profile
    finally:
        con.close()


def test_views_see_partitions_converted_after_the_catalog(converted: Path, tmp_path: Path):
    materialize_catalog(converted)
    budget = Budget(memory_mb=512, threads=1, spill_dir=str(tmp_path / "spill"))
    WRITERS["spp"](converted / "raw", "lmp_rt", date(2024, 1, 1), date(2024, 1, 2), 1, 0)
    convert_partition(ISOS["spp"], "lmp_rt", 2024, converted, budget)
    try:
        con = duckdb.connect(str(converted / "catalog.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM lmp WHERE iso = 'spp' AND dataset = 'lmp_rt'").fetchone()[0] == 288
        con.close()
    finally:
        shutil.rmtree(converted / "parquet" / "dataset=lmp_rt" / "iso=spp" / "year=2024")
