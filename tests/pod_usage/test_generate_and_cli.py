"""The generator (size, realism knobs, determinism) and the command line the benchmark runs."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from bench.baselines.pod_usage_pandas import main as pandas_main
from pod_usage.cli import main
from pod_usage.format import KOKU_COLUMNS, sniff
from pod_usage.generate import NEWER_COLUMNS, generate


def test_generator_shapes(tmp_path):
    sample = generate(tmp_path / "a", 20_000, files=2, seed=3, duplicate_fraction=0.05)
    assert len(sample.files) == 3 and sample.duplicates > 0
    frame = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in sample.files])
    assert len(frame) == sample.rows == 20_000 + sample.duplicates
    assert tuple(frame.columns) == KOKU_COLUMNS
    assert frame.duplicated(["namespace", "pod", "interval_start"]).sum() == sample.duplicates
    assert (frame["pod_usage_cpu_core_seconds"] == "").any()  # completed pods: usage empty
    assert (frame["pod_request_cpu_core_seconds"] != "").all()
    assert frame["namespace"].nunique() >= 3 and frame["pod"].nunique() > 50
    starts = frame.groupby("pod")["interval_start"].min()
    assert starts.nunique() > 10  # pods start at different hours
    # Capacity is a property of the node: one value per node.
    assert (frame.groupby("node")["node_capacity_cpu_cores"].nunique() == 1).all()
    assert frame["interval_start"].iloc[0].endswith(" +0000 UTC")
    again = generate(tmp_path / "b", 20_000, files=2, seed=3, duplicate_fraction=0.05)
    assert [f.read_bytes() for f in again.files] == [f.read_bytes() for f in sample.files]


def test_generator_newer_format(tmp_path):
    sample = generate(tmp_path, 500, newer_format=True)
    assert sniff(sample.files[0]).header == NEWER_COLUMNS
    with open(sample.files[0], newline="") as fh:
        assert sum(1 for _ in csv.reader(fh)) == 501


def test_cli_summary_equals_the_pandas_baseline(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "out"
    assert main(["generate", "--rows", "20000", "--out", str(raw), "--files", "2", "--duplicate-fraction", "0.01"]) == 0
    generated = json.loads(capsys.readouterr().out)
    assert generated["rows"] > 20_000
    assert (
        main(
            [
                "summarize",
                "--input",
                str(raw),
                "--output",
                str(out),
                "--memory-mb",
                "512",
                "--spill-dir",
                str(tmp_path / "spill"),
            ]
        )
        == 0
    )
    stats = {"duckdb": json.loads(capsys.readouterr().out.strip().splitlines()[-1])}
    # The benchmark's in-memory baseline, a script in bench/baselines/, as the benchmark runs it.
    pandas_main(["--input", str(raw), "--output", str(out)])
    stats["pandas"] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for s in stats.values():
        assert {"rows_in", "rows_out", "seconds", "rows_per_s", "peak_rss_mb", "max_rss_mb"} <= set(s)
        assert s["rows_in"] == generated["rows"]
    assert stats["duckdb"]["rows_out"] == stats["pandas"]["rows_out"] > 0
    pair = [str(out / "daily_summary.parquet"), str(out / "daily_summary_pandas.parquet")]
    assert main(["compare", *pair]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True


def test_cli_compare_detects_a_difference(tmp_path, capsys):
    a = pd.DataFrame({"usage_date": ["2024-01-01"], "namespace": ["x"], "node": ["n"], "v": [1.0]})
    a.to_parquet(tmp_path / "a.parquet")
    a.assign(v=1.0 + 2**-52).to_parquet(tmp_path / "b.parquet")  # one ulp apart
    assert main(["compare", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]) == 1
    assert json.loads(capsys.readouterr().out)["equal"] is False


def test_generator_rejects_no_rows(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        generate(tmp_path, 0)
