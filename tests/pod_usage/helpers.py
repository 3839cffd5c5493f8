"""Helpers for the pod usage tests: where the real koku sample is, and small inline CSVs."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from pod_usage.format import KOKU_COLUMNS

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PATH = Path("shared", "data", "real", "pod_usage", "koku_ocp_pod_usage_2019-02.csv")


def real_sample_path() -> Path:
    """``<repo>/../shared/...``; a git worktree one level deeper (``wt/issueN``) finds the same
    folder one level further up."""
    for base in (REPO.parent, REPO.parent.parent):
        if (base / SAMPLE_PATH).is_file():
            return base / SAMPLE_PATH
    return REPO.parent / SAMPLE_PATH


def go(day: int, hour: int) -> str:
    return f"2019-02-{day:02d} {hour:02d}:00:00 +0000 UTC"


def line_item(
    pod: str,
    namespace: str,
    node: str,
    day: int,
    hour: int,
    *,
    usage_cpu: object = 1800,
    request_cpu: object = 3600,
    limit_cpu: object = 7200,
    usage_mem: object = 2**30 * 3600,
    request_mem: object = 2**31 * 3600,
    limit_mem: object = 2**32 * 3600,
    cores: int = 4,
    mem_bytes: int = 16 * 2**30,
    end_hour: int | None = None,
) -> dict[str, object]:
    """One koku line item of report period 2019-02 (defaults: 0.5 core used of 1 requested,
    1 GiB used of 2 requested, on a 4-core 16 GiB node)."""
    end = go(day, end_hour) if end_hour is not None else (go(day, hour + 1) if hour < 23 else go(day + 1, 0))
    return {
        "report_period_start": "2019-02-01 00:00:00 +0000 UTC",
        "report_period_end": "2019-03-01 00:00:00 +0000 UTC",
        "interval_start": go(day, hour),
        "interval_end": end,
        "node": node,
        "namespace": namespace,
        "pod": pod,
        "pod_usage_cpu_core_seconds": usage_cpu,
        "pod_request_cpu_core_seconds": request_cpu,
        "pod_limit_cpu_core_seconds": limit_cpu,
        "pod_usage_memory_byte_seconds": usage_mem,
        "pod_request_memory_byte_seconds": request_mem,
        "pod_limit_memory_byte_seconds": limit_mem,
        "node_capacity_cpu_cores": cores,
        "node_capacity_cpu_core_seconds": cores * 3600,
        "node_capacity_memory_bytes": mem_bytes,
        "node_capacity_memory_byte_seconds": mem_bytes * 3600,
        "resource_id": "i-1",
        "pod_labels": "app:x",
    }


def write_items(path: Path, items: list[dict[str, object]], columns: tuple[str, ...] = KOKU_COLUMNS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for item in items:
            writer.writerow(item)
    return path


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Make a parquet-read summary and a pandas-built one comparable (same logical types)."""
    frame = frame.copy()
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    for col in ("namespace", "node"):
        frame[col] = frame[col].astype(str)
    return frame
