"""The pod usage part of the demo: sample koku exports -> the daily summary, through Dagster.

Where ``<root>/raw/pod_usage/`` holds no CSV, writes two report periods of generated line items:
2024-01 in the koku column order plus a re-upload of 1% of its line items (duplicates to drop),
and 2024-02 in the newer export's order with ``node_role``. Then materialises one partition per
report period found (from each file's first line item) on the given instance.
"""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg

from memsafe.resources import DataDirResource, MemoryBudgetResource
from pod_usage.assets import pod_usage_daily_summary
from pod_usage.format import list_files, parse_go_timestamp
from pod_usage.generate import generate

SAMPLE_ROWS = 200_000  # per report period: a few seconds on 2 cores
DEMO_MEMORY_MB = 512


def write_sample(folder: Path, rows: int = SAMPLE_ROWS) -> list[Path]:
    """Generate the demo's two report periods under ``folder``."""
    jan = generate(folder, rows, period="2024-01", files=2, seed=1, duplicate_fraction=0.01)
    feb = generate(folder, rows, period="2024-02", files=1, seed=2, newer_format=True)
    return jan.files + feb.files


def report_periods(files: list[Path]) -> list[str]:
    """``YYYY-MM`` of each file's first line item (a cheap look, enough to pick partitions)."""
    periods = set()
    for path in files:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = next(csv.DictReader(fh), None)
        if first and first.get("report_period_start"):
            periods.add(parse_go_timestamp(first["report_period_start"]).strftime("%Y-%m"))
    return sorted(periods)


def planned(root: Path) -> int:
    """How many materialisations :func:`run` reports: one per report period (the sample has 2)."""
    files = list_files(root / "raw" / "pod_usage")
    return len(report_periods(files)) if files else 2


def run(instance: dg.DagsterInstance, root: Path, rows: int = SAMPLE_ROWS) -> list[dict]:
    """Materialise every report period of the sample; one summary row per partition."""
    folder = root / "raw" / "pod_usage"
    files = list_files(folder)
    if not files:
        files = write_sample(folder, rows)
        print(f"generated {len(files)} pod usage sample files under {folder}")
    resources = {"data": DataDirResource(data_dir=str(root)), "budget": MemoryBudgetResource(memory_mb=DEMO_MEMORY_MB)}
    out = []
    for period in report_periods(files):
        result = dg.materialize(
            [pod_usage_daily_summary],
            instance=instance,
            resources=resources,
            partition_key=period,
            raise_on_error=False,
        )
        row = {
            "location": "pod_usage",
            "asset": "pod_usage_daily_summary",
            "partition": period,
            "rows": None,
            "bytes": None,
            "seconds": None,
            "peak_rss_mb": None,
        }
        for ev in result.get_asset_materialization_events():
            md = {k: v.value for k, v in ev.materialization.metadata.items()}
            row.update(
                rows=md["rows_out"],
                bytes=md["bytes_out"],
                seconds=md["seconds"],
                peak_rss_mb=md["peak_rss_mb"],
                rows_in=md["rows_in"],
                duplicate_line_items=md["duplicate_line_items"],
                rows_per_s=md["rows_per_s"],
            )
        if not result.success:
            row["error"] = "run failed"
        out.append(row)
    return out
