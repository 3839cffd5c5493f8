"""memsafe: budgets, atomic writes and peak-memory measurement."""

from __future__ import annotations

import logging
import threading
import time

import dagster as dg
import duckdb
import pytest

from memsafe.atomic import atomic_dir, atomic_output, atomic_path, remove_stale_temps, target_lock
from memsafe.budget import (
    COLUMN_STATE_MB,
    MAX_BATCH_MB,
    Budget,
    BudgetError,
    batch_rows_for,
    check_fits_machine,
    row_bytes,
)
from memsafe.csv_source import CsvHeaderError, find_header
from memsafe.memory import PeakMemory, duckdb_probe
from memsafe.progress import duckdb_progress
from memsafe.resources import step_logging
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
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit','threads','temp_directory')"
        ).fetchall()
    )
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


def test_atomic_output_cleans_only_its_own_targets_leftovers(tmp_path):
    mine, other = tmp_path / "2019-01.parquet", tmp_path / "2019-02.parquet"
    (tmp_path / ".2019-01.parquet.deadbeef0000.tmp").write_text("killed writer of mine")
    (tmp_path / ".2019-01.parquet.deadbeef0001.old.tmp").mkdir()  # a killed folder swap
    (tmp_path / ".2019-02.parquet.deadbeef0000.tmp").write_text("other target, maybe mid-write")
    with atomic_output(mine) as staged:
        assert staged.stale_removed == 2
        staged.path.write_text("v1")
    assert mine.read_text() == "v1" and not other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".2019-02.parquet.deadbeef0000.tmp", "2019-01.parquet"]


def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path):
    final = tmp_path / "splits"
    with atomic_dir(final) as staging:
        (staging / "a.parquet").write_text("v1")
    with pytest.raises(RuntimeError), atomic_dir(final) as staging:
        (staging / "b.parquet").write_text("half")
        raise RuntimeError("writer died")
    assert [p.name for p in final.iterdir()] == ["a.parquet"]
    with atomic_dir(final) as staging:
        (staging / "c.parquet").write_text("v2")
    assert [p.name for p in final.iterdir()] == ["c.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["splits"]  # no staging folder, no lock file


def test_writers_of_one_target_take_turns_and_others_do_not_wait(tmp_path):
    target = tmp_path / "data.parquet"
    order: list[str] = []

    def second() -> None:
        with target_lock(target):
            order.append("second")

    with target_lock(target):
        thread = threading.Thread(target=second)
        thread.start()
        with target_lock(tmp_path / "other.parquet"):  # another target: not blocked
            order.append("other")
        time.sleep(0.2)
        order.append("first")
    thread.join(timeout=10)
    assert order == ["other", "first", "second"]
    assert list(tmp_path.iterdir()) == []  # lock files are removed on release


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


def test_materialize_result_speaks_the_shared_vocabulary(tmp_path):
    import dagster as dg
    import pyarrow as pa
    import pyarrow.parquet as pq

    from memsafe.memory import MemoryReport
    from memsafe.metadata import PEAK_CHECK, materialize_result

    out = tmp_path / "data.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", None]}), out)
    report = MemoryReport(baseline_rss_mb=100, peak_rss_mb=600, engine_peak_mb=200, spill_peak_mb=0, seconds=1.5)
    result = materialize_result(
        path=out,
        rows=3,
        seconds=2.0,
        memory=report,
        budget_mb=512,
        started_at=1e9,
        extra={"files_read": 1, "index_at": 1.5e9},
        check_asset="x",
    )
    md = result.metadata
    assert md["path"] == dg.MetadataValue.path(str(out))
    assert md["dagster/row_count"] == 3 and md["rows_per_s"] == 1.5 and md["seconds"] == 2.0
    assert [(c.name, c.type) for c in md["dagster/column_schema"].columns] == [("a", "int64"), ("b", "string")]
    assert isinstance(md["started_at"], dg.TimestampMetadataValue) and md["started_at"].value == 1e9
    assert isinstance(md["index_at"], dg.TimestampMetadataValue) and md["files_read"] == 1
    assert (md["peak_rss_mb"], md["engine_peak_mb"], md["memory_budget_mb"]) == (600, 200, 512)
    [check] = result.check_results
    assert (check.check_name, check.passed, check.severity) == (PEAK_CHECK, False, dg.AssetCheckSeverity.WARN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A preamble of two lines, then the header: skip counts the lines before it.
        ("report\n\nA,B,C\n1,2,3\n", (("A", "B", "C"), 2)),
        # Fields are stripped and a UTF-8 BOM ignored.
        ("\ufeff A , B ,C\n1,2,3\n", (("A", "B", "C"), 0)),
    ],
    ids=["preamble", "bom-and-spaces"],
)
def test_find_header_finds_the_line_with_the_required_columns(tmp_path, text, expected):
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    assert find_header(path, ["A", "B"]) == expected


@pytest.mark.parametrize(
    ("text", "reason", "closest_line", "closest_missing"),
    [
        ("", "empty", 0, []),
        ("<!DOCTYPE html><html>error</html>", "html", 0, []),
        # Line 2 holds two known columns (line 1 one): it is the closest, lacking B.
        ("title,A\nA,C,x\n1,2,3\n", "no_header", 2, ["B"]),
        # No known column anywhere: no closest line, every required column missing.
        ("x,y\n1,2\n", "no_header", 0, ["A", "B"]),
    ],
    ids=["empty", "html", "closest-header-like-line", "nothing-like-a-header"],
)
def test_find_header_error_says_why_and_names_the_closest_line(tmp_path, text, reason, closest_line, closest_missing):
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CsvHeaderError) as err:
        find_header(path, ["A", "B"], known=["A", "B", "C"])
    assert err.value.reason == reason
    assert err.value.path == str(path)
    if reason == "no_header":
        assert (err.value.closest_line, err.value.closest_missing) == (closest_line, closest_missing)
        assert err.value.first_line == text.splitlines()[0]


def test_find_header_one_line_scan_names_the_missing_columns(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("A,C\n1,2\n", encoding="utf-8")
    with pytest.raises(CsvHeaderError, match=r"line 1: missing required column\(s\) \['B'\]; header is \['A', 'C'\]"):
        find_header(path, ["A", "B"], scan_lines=1)


def test_step_logging_forwards_plain_logic_records_to_the_dagster_log():
    before = logging.getLogger("memsafe").level

    @dg.asset
    def noisy(context) -> None:
        with step_logging(context):
            logging.getLogger("memsafe.example").info("progress 1 of 2")
            logging.getLogger("elsewhere").warning("a logger outside the project")
        logging.getLogger("memsafe.example").info("after the block")

    with dg.instance_for_test() as instance:
        result = dg.materialize([noisy], instance=instance)
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.endswith("progress 1 of 2") for m in messages)
    assert not any("outside the project" in m or "after the block" in m for m in messages)
    assert logging.getLogger("memsafe").level == before  # restored


def test_progress_logs_at_most_every_interval_and_a_final_line(caplog):
    from memsafe.progress import Progress

    logger = logging.getLogger("memsafe.test_progress")
    with caplog.at_level(logging.INFO, logger="memsafe.test_progress"):
        quiet = Progress(logger, "short step", 3, "files", every=3600)
        for _ in range(3):
            quiet.add(rows=10)
        quiet.done()
        assert caplog.records == []  # a short step logs nothing
        loud = Progress(logger, "pass 1", 2, "files", every=0)
        loud.add(rows=5, MB=1.5)
        loud.add(rows=7, MB=1.5)
        loud.done()  # the last count is already logged: not again
        late = Progress(logger, "pass 2", 2, "files", every=0)
        late.add()
        late.every = 3600  # the second unit is not logged by add: done() logs it
        late.add()
        late.done()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("pass 1: 1/2 files (5 rows, 2 MB), ")
    assert lines[1].startswith("pass 1: 2/2 files (12 rows, 3 MB), ")
    assert len(lines) == 4 and lines[2].startswith("pass 2: 1/2 files") and lines[3].startswith("pass 2: 2/2 files")


def test_duckdb_progress_logs_the_running_querys_percentage(caplog):
    # A query of a second or so on one thread, polled every 50 ms: lines with DuckDB's own
    # percentage, and the progress bar setting switched off again afterwards.
    con = duckdb.connect(config={"threads": 1})
    caplog.set_level(logging.INFO, logger="memsafe.test")
    with duckdb_progress(con, logging.getLogger("memsafe.test"), "test query", every=0.0, poll=0.05):
        con.execute("SELECT count(*) FROM (SELECT i % 1000 AS k, sum(i) FROM range(30000000) t(i) GROUP BY ALL)")
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(m.startswith("test query: query ") and "% done" in m for m in lines)
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False


def test_a_batch_holds_at_most_max_batch_mb_whatever_the_width():
    # An 831-column table like the seeds' and a 150-column one (floats, every tenth a string):
    # the narrow one stops at its row cap, the wide one at MAX_BATCH_MB, not at the budget's share.
    import pyarrow as pa

    def table(cols):
        return pa.schema([(f"f{i}", pa.string() if i % 10 == 0 else pa.float64()) for i in range(cols)])

    wide, narrow = table(831), table(150)
    assert batch_rows_for(narrow, 2048, 100_000) == 100_000
    rows = batch_rows_for(wide, 2048, 100_000)
    cap = (MAX_BATCH_MB << 20) - int(831 * COLUMN_STATE_MB * (1 << 20)) // 8
    assert rows * row_bytes(wide) <= cap < (rows + 1) * row_bytes(wide)
    # Below the cap, the budget still decides: 8 batches in 1024 - 256 MB, less the columns' share.
    share = (768 << 20) // 8 - int(831 * COLUMN_STATE_MB * (1 << 20)) // 8
    assert batch_rows_for(wide, 1024, 100_000) == share // row_bytes(wide)


def test_a_wide_batch_gives_up_its_share_of_the_per_column_state():
    # Issue 15: at the same budget, 831 columns hold a third of a MB each beside the batches
    # (the Parquet reader's per-column buffers), so their batch is smaller than MAX_BATCH_MB:
    # about 35 MB less, where 200 columns give up 8 MB. Before: both at MAX_BATCH_MB.
    import pyarrow as pa

    def mb(cols):
        schema = pa.schema([(f"f{i}", pa.float64()) for i in range(cols)])
        return batch_rows_for(schema, 2048, 10**9) * row_bytes(schema) / (1 << 20)

    assert MAX_BATCH_MB - 36 < mb(831) < MAX_BATCH_MB - 34
    assert MAX_BATCH_MB - 9 < mb(200) < MAX_BATCH_MB - 8
    # A table too wide for any share still gets MIN_BATCH_ROWS rows.
    assert batch_rows_for(pa.schema([(f"f{i}", pa.int8()) for i in range(20_000)]), 2048, 10**9) == 1024
