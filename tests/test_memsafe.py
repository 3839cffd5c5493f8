"""memsafe: budgets, atomic writes and peak-memory measurement."""

from __future__ import annotations

import time

import pytest

from memsafe.atomic import atomic_path, remove_stale_temps
from memsafe.budget import Budget, BudgetError, check_fits_machine
from memsafe.memory import PeakMemory, duckdb_probe
from memsafe.settings import PROJECT_ROOT, data_dir


@pytest.mark.parametrize(
    ("budget_mb", "concurrent", "machine_mb", "fits"),
    [
        (2048, 2, 8192, True),  # 4 GB + 1.5 GB Dagster stack on 8 GB
        (4096, 2, 8192, False),  # 8 GB + 1.5 GB > 8 GB
        (3328, 2, 8192, True),  # exactly fits: 6.5 GB + 1.5 GB
        (3329, 2, 8192, False),  # one MB over
        (0, 2, 8192, False),  # nonsense budget
    ],
    ids=["fits", "too-big", "exact", "one-over", "zero"],
)
def test_check_fits_machine(budget_mb, concurrent, machine_mb, fits):
    if fits:
        check_fits_machine(budget_mb, concurrent, machine_mb=machine_mb)
    else:
        with pytest.raises(BudgetError, match="MB"):
            check_fits_machine(budget_mb, concurrent, machine_mb=machine_mb)


def test_budget_applies_limits_to_duckdb(tmp_path):
    con = Budget(memory_mb=768, threads=1, spill_dir=str(tmp_path / "spill")).connect()
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit','threads','temp_directory')"
    ).fetchall())
    assert settings["threads"] == "1"
    assert settings["temp_directory"] == str(tmp_path / "spill")
    assert settings["memory_limit"].startswith("488.2")  # 768 - 256 MB baseline = 512 MB = 488.2 MiB


def test_atomic_path_replaces_only_on_success(tmp_path):
    final = tmp_path / "p" / "data.parquet"
    with atomic_path(final) as tmp:
        tmp.write_text("v1")
    assert final.read_text() == "v1"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert final.read_text() == "v1"
    assert [p.name for p in final.parent.iterdir()] == ["data.parquet"]


def test_remove_stale_temps_only_touches_hidden_temps(tmp_path):
    (tmp_path / ".data.parquet.abc.tmp").write_text("x")
    (tmp_path / "data.parquet").write_text("keep")
    assert remove_stale_temps(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


def test_peak_memory_sees_an_allocation():
    with PeakMemory(interval=0.005) as pm:
        block = bytearray(200 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        time.sleep(0.1)  # a sampler sees what lives longer than its interval
        del block
    assert pm.report.rss_delta_mb > 150


def test_duckdb_probe_reports_engine_memory():
    con = Budget(memory_mb=1024).connect()
    with PeakMemory(engine_probe=duckdb_probe(con)) as pm:
        con.execute("CREATE TABLE t AS SELECT range AS i, range::VARCHAR AS s FROM range(3000000)")
    assert pm.report.engine_peak_mb is not None and pm.report.engine_peak_mb > 10


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMSAFE_DATA_DIR", raising=False)
    assert data_dir() == PROJECT_ROOT / "data"
    monkeypatch.setenv("MEMSAFE_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert data_dir("rel") == PROJECT_ROOT / "rel"  # relative to the project, not the cwd
