"""The CLI as a separate process (one JSON line per run) and the demo through Dagster."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import polars as pl

from probe_rows.demo import DEMO_MEASUREMENTS, DEMO_PROBES, DEMO_SHARDS, run
from tests.probe_rows.probe_rows_testdata import REPO


def _cli(*args: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "probe_rows.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_cli_generate_and_group_agree_with_the_baselines(tmp_path):
    [gen] = _cli(
        "generate",
        "--output",
        str(tmp_path / "in"),
        "--measurements",
        "20000",
        "--probes",
        "50",
        "--shards",
        "2",
        "--order",
        "shuffled",
    )
    assert gen["shards"] == 2
    [stats] = _cli(
        "group",
        "--input",
        str(tmp_path / "in"),
        "--output",
        str(tmp_path / "out"),
        "--memory-mb",
        "512",
        "--spill-dir",
        str(tmp_path / "spill"),
        "--min-measurements",
        "2",
    )
    assert (stats["measurements"], stats["probes"], stats["path"]) == (20_000, 50, "bucketed")
    assert stats["peak_rss_mb"] > 50 and stats["seconds"] > 0 and stats["measurements_per_second"] > 0
    ours = pl.read_parquet(str(tmp_path / "out" / "*" / "*.parquet")).sort("src_addr")
    # The benchmark's baselines (scripts in bench/baselines/) agree with the grouping.
    for engine in ("polars", "duckdb"):
        out = tmp_path / f"{engine}.parquet"
        done = subprocess.run(
            [sys.executable, str(REPO / "bench" / "baselines" / f"probe_{engine}.py"), "--input", str(tmp_path / "in")]
            + ["--output", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert json.loads(done.stdout)["rows_out"] == 50
        theirs = pl.read_parquet(out).sort("src_addr")
        fields = [f.name for f in ours.schema["measurements"].inner.fields]
        theirs = theirs.with_columns(pl.col("measurements").list.eval(pl.struct(pl.element().struct.field(*fields))))
        # Same probes, same lists in the same time order (generated times are distinct per probe).
        assert theirs["src_addr"].equals(ours["src_addr"])
        assert theirs["measurements"].equals(ours["measurements"])


def test_demo_runs_through_dagster(tmp_path):
    with dg.instance_for_test() as instance:
        rows = run(instance, tmp_path)
        assert len(instance.get_dynamic_partitions("measurement_shards")) == DEMO_SHARDS
    assert [r["asset"] for r in rows] == ["measurement_shards"] * DEMO_SHARDS + ["probe_rows"]
    assert sum(r["rows"] for r in rows[:-1]) == DEMO_MEASUREMENTS
    assert rows[-1]["rows"] == DEMO_PROBES and rows[-1]["partition"] is None
    for r in rows:
        assert set(r) == {"location", "asset", "partition", "rows", "bytes", "seconds", "peak_rss_mb"}
        assert r["location"] == "probe_rows" and r["bytes"] > 0 and r["peak_rss_mb"] > 0
    assert (tmp_path / "parquet" / "probe_rows" / "train").is_dir()
