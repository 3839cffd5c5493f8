"""The benchmark harness end to end at a tiny scale, plus the baselines of the cases whose
pipelines land later (run here on tiny inputs so they cannot rot). No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.__main__ import main
from bench.cases import BASELINES, PROJECT_ROOT, Case
from bench.harness import child_env, run_once
from bench.report import merge


def test_run_once_reads_the_childs_own_peak_rss_and_cpu(tmp_path):
    # The child holds 300 MB more than this process' RSS; the harness does not, so only wait4's
    # per-child rusage can report it. (Linux carries a forked child's ru_maxrss over from its
    # parent's RSS at fork, across exec: after other tests this process may hold 600 MB, so the
    # child's allocation is sized above it.)
    mb = 300 + round(psutil.Process().memory_info().rss / 2**20)
    code = f"b = bytearray({mb} * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('{{\"n\": 1}}')"
    run = run_once([sys.executable, "-c", code], cwd=tmp_path, log_dir=tmp_path / "log")
    assert run.ok and run.stats == {"n": 1}
    assert mb <= run.peak_rss_mb < mb + 300
    assert run.cpu_s > 0 and run.wall_s >= run.cpu_s * 0.5


def test_run_once_reports_a_failing_child_with_its_stderr(tmp_path):
    run = run_once(
        [sys.executable, "-c", "raise SystemExit('out of memory, say')"], cwd=tmp_path, log_dir=tmp_path / "log"
    )
    assert not run.ok and run.returncode == 1
    assert "out of memory, say" in run.error


def test_run_once_kills_a_child_past_its_timeout(tmp_path):
    run = run_once(
        [sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path, log_dir=tmp_path / "log", timeout_s=1
    )
    assert run.error == "timeout after 1 s" and run.wall_s < 20


def test_a_case_without_its_pipeline_is_reported_not_present():
    class Absent(Case):
        key, title, pipeline_module = "absent", "Absent", "no_such_package.cli"

    assert Absent().missing() == "pipeline not present (no module no_such_package.cli)"


def test_csv_to_parquet_end_to_end_at_a_tiny_scale(tmp_path, capsys):
    # scale 0.002 -> 2, 4 and 8 pricing nodes for 2024 (~2, ~4 and ~8 MB of CSV)
    assert (
        main(
            ["--scale", "0.002", "--cases", "csv_parquet", "--reps", "1", "--warmup", "0", "--work-dir", str(tmp_path)]
        )
        == 0
    )
    [json_path] = tmp_path.glob("results-*.json")
    [md_path] = tmp_path.glob("results-*.md")
    doc = json.loads(json_path.read_text())
    rows = doc["results"]
    tools = {
        "converter",
        "converter_warm_index",
        "converter_incremental",
        "duckdb",
        "polars",
        "pyarrow",
        "pandas_chunked",
        "pandas_all",
        "polars_same_job",
    }
    assert {(r["size"], r["tool"]) for r in rows} == {(s, t) for s in ("1x", "2x", "4x") for t in tools}
    for r in rows:
        assert r["error"] is None, (r["tool"], r["error"])
        assert r["wall_s"]["median"] > 0 and r["cpu_s"]["median"] > 0 and r["peak_rss_mb"]["median"] > 0
        assert r["input_mb"] > 0 and r["mb_per_s"] > 0
    by = {(r["size"], r["tool"]): r for r in rows}
    for size, nodes in (("1x", 2), ("2x", 4), ("4x", 8)):
        # The converter keeps one row per node and 2024 hour; the baselines copy every data row
        # (overlap days and superseded revisions included), so they all agree with the input.
        assert by[(size, "converter")]["rows_out"] == nodes * 8784
        # The incremental run (December added to a converted year) ends with the same partition.
        assert by[(size, "converter_incremental")]["rows_out"] == nodes * 8784
        copies = tools - {"converter", "converter_warm_index", "converter_incremental", "polars_same_job"}
        assert {by[(size, t)]["rows_out"] for t in copies} == {by[(size, "converter")]["input_rows"]}
        assert by[(size, "polars_same_job")]["rows_out"] == nodes * 8784
    verdicts = doc["verdicts"]["csv_parquet"]
    assert [v["size"] for v in verdicts] == ["1x", "2x", "4x"]
    for v in verdicts:
        assert v["ratio"] > 0 and v["cpu_ratio"] > 0 and v["reference"] == "polars_same_job"
        assert "vs plain polars" in v["detail"] and "incremental (one month added)" in v["detail"]
        assert v["met"] in (True, False)
    assert set(doc["skipped"]) <= {
        "Probe-row grouping (measurements -> one row per probe)",
        "Stratified split (200 columns, 40 shards)",
        "Pod usage daily summary (koku CSV line items)",
    }
    # polars_same_job does the converter's whole job: the same rows and values.
    order = ["interval_start_utc", "location_id", "location_type"]
    for size in ("1x", "2x"):
        runs = tmp_path / "runs" / "csv_parquet" / size
        ours = pl.read_parquet(runs / "converter" / "year=2024" / "*.parquet")
        theirs = pl.read_parquet(runs / "polars_same_job" / "data.parquet")
        assert theirs.columns == ours.columns
        assert theirs.cast(ours.schema).sort(order).equals(ours.sort(order)), size
    md = md_path.read_text()
    assert "| 1x (" in md and "**converter**" in md and ("met" in md or "MISSED" in md)
    assert list(tmp_path.glob("memory-*.png"))  # several sizes: the memory plot is drawn
    # Result files of separate runs (e.g. one per --sizes) merge into one table and plot.
    merged_md, merged_png = merge([json_path], tmp_path)
    assert merged_png is not None and "**converter**" in merged_md.read_text()


def _run_baseline(script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(BASELINES / script), *args],
        cwd=PROJECT_ROOT,
        env=child_env(PROJECT_ROOT),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def probe_shards(tmp_path):
    # 3 probes x 4 measurements over 2 shards, shuffled so the order inside lists must be restored
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        (f"10.0.0.{p}", "192.0.2.1", t0 + timedelta(minutes=m), float(p * 10 + m)) for p in range(3) for m in range(4)
    ]
    rows = rows[::-1]
    folder = tmp_path / "probes"
    folder.mkdir()
    for i, part in enumerate((rows[:6], rows[6:])):
        src, dst, when, rtt = zip(*part, strict=True)
        when = pa.array(when, pa.timestamp("us", "UTC"))
        pq.write_table(
            pa.table({"src_addr": src, "dst_addr": dst, "event_time": when, "rtt_ms": rtt}), folder / f"m-{i}.parquet"
        )
    return folder


@pytest.mark.parametrize(
    "script,args",
    [
        ("probe_duckdb.py", ("--memory-limit", "256MB")),
        ("probe_polars.py", ()),
    ],
    ids=["duckdb-limited", "polars"],
)
def test_probe_baselines_group_each_probe_in_time_order(probe_shards, tmp_path, script, args):
    out = tmp_path / "grouped.parquet"
    stats = _run_baseline(script, "--input", str(probe_shards), "--output", str(out), *args)
    assert stats["rows_out"] == 3
    table = pq.read_table(out).to_pylist()
    for row in table:
        times = [m["event_time"] for m in row["measurements"]]
        assert len(times) == 4 and times == sorted(times)


@pytest.mark.parametrize(
    "script,args",
    [
        ("tabular_duckdb.py", ()),
        ("tabular_duckdb.py", ("--memory-limit", "256MB")),
        ("tabular_pandas.py", ()),
    ],
    ids=["duckdb-unlimited", "duckdb-limited", "pandas-all"],
)
def test_tabular_baselines_split_every_row_once(tmp_path, script, args):
    folder = tmp_path / "shards"
    folder.mkdir()
    for i in range(3):
        n = 1000
        pq.write_table(
            pa.table(
                {"label": (["low"] * 8 + ["mid", "high"]) * (n // 10), "f_0000": pa.array(range(i * n, (i + 1) * n))}
            ),
            folder / f"s-{i}.parquet",
        )
    out = tmp_path / "split"
    stats = _run_baseline(script, "--input", str(folder), "--output", str(out), *args)
    written = pa.concat_tables([pq.read_table(f).select(["f_0000"]) for f in out.rglob("*.parquet")])
    assert stats["rows_out"] == 3000
    assert sorted(written.column("f_0000").to_pylist()) == list(range(3000))
    assert len(list(out.rglob("*.parquet"))) >= 3  # train, val and test each get rows
