"""Two report periods written at once into the one folder every monthly partition shares.

The monthly pool lets two months run together. Each must clean only its own leftovers, under its
own lock: an unlocked sweep of the shared folder would delete the other month's temporary file
while it is being written, and that month would then fail (or publish nothing).
"""

from __future__ import annotations

import threading

import pyarrow.parquet as pq

from memsafe.atomic import atomic_path
from pod_usage.summary import summarize_files
from tests.pod_usage.helpers import line_item, write_items


def test_two_months_writing_at_once_both_survive(tmp_path, budget):
    raw = write_items(tmp_path / "raw" / "a.csv", [line_item("a", "ns", "n1", 1, h) for h in range(3)])
    folder = tmp_path / "daily_summary"
    january, february = folder / "2019-01.parquet", folder / "2019-02.parquet"
    # January is mid-write (its temporary file exists, not yet renamed) when February runs.
    with atomic_path(january) as tmp:
        tmp.write_bytes(b"january, half written")
        stats = summarize_files([raw], february, budget, report_period="2019-02")
        assert tmp.read_bytes() == b"january, half written"  # February left it alone
        tmp.write_bytes(b"january, done")
    assert january.read_bytes() == b"january, done"
    assert pq.read_metadata(february).num_rows == stats.rows_out == 1
    assert sorted(p.name for p in folder.iterdir()) == ["2019-01.parquet", "2019-02.parquet"]


def test_two_real_months_in_threads_both_publish(tmp_path, budget):
    items = [line_item("a", "ns", "n1", 1, h) for h in range(3)]
    march = [{**i, "report_period_start": "2019-03-01 00:00:00 +0000 UTC"} for i in items]
    raw = [write_items(tmp_path / "raw" / "feb.csv", items), write_items(tmp_path / "raw" / "mar.csv", march)]
    folder = tmp_path / "daily_summary"
    errors: list[BaseException] = []

    def run(period: str) -> None:
        try:
            for _ in range(5):
                summarize_files(raw, folder / f"{period}.parquet", budget, report_period=period)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in ("2019-02", "2019-03")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(p.name for p in folder.iterdir()) == ["2019-02.parquet", "2019-03.parquet"]
