"""The CLI prints one JSON line per command, so a benchmark can run each step as its own process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.tabular.tabular_samples import REPO


def _cli(*args: str) -> dict:
    out = (
        subprocess.run(
            [sys.executable, "-m", "tabular.cli", *args], cwd=REPO, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()
    )
    assert len(out) == 1, out
    return json.loads(out[0])


def test_generate_then_stratified_split_as_processes(tmp_path):
    gen = _cli("generate", "--out", str(tmp_path / "wide"), "--rows", "4000", "--cols", "20", "--files", "4")
    assert gen["files"] == 4 and gen["rows"] == 4_000
    res = _cli(
        "split",
        "--input",
        str(tmp_path / "wide"),
        "--output",
        str(tmp_path / "splits"),
        "--label",
        "label",
        "--mode",
        "stratified",
        "--memory-mb",
        "512",
        "--ratios",
        "train=0.5,test=0.25,val=0.25",
    )
    assert res["rows"] == 4_000
    assert abs(res["split_rows"]["train"] - 2_000) <= 3  # 3 classes, each within one row
    assert res["seconds"] > 0 and 0 < res["peak_rss_mb"] < 512
    summary = json.loads((tmp_path / "splits" / "_splits.json").read_text())
    for label, quota in summary["quotas"].items():
        assert summary["class_counts_by_split"]["test"][label] == quota["test"]
