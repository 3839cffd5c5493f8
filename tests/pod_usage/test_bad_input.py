"""Bad input: a clear error naming the file and the line, from both engines."""

from __future__ import annotations

import re

import pytest

from bench.baselines.pod_usage_pandas import summarize_in_memory
from pod_usage.format import KOKU_COLUMNS, NoPodUsageFiles, PodUsageInputError
from pod_usage.summary import summarize_files
from tests.pod_usage.helpers import line_item, write_items


def _good(n: int = 3) -> list[dict]:
    return [line_item(f"p{i}", "ns", "n1", 1, i) for i in range(n)]


def _bad_usage():
    items = _good()
    items[1]["pod_usage_cpu_core_seconds"] = "12,5"  # a decimal comma: quoted, not a number
    return items


def _ends_before_start():
    items = _good()
    items[2]["interval_end"] = "2019-02-01 01:00:00 +0000 UTC"  # starts at 02:00
    return items


def _empty_key():
    items = _good()
    items[0]["namespace"] = ""
    return items


def _other_zone():
    items = _good()
    items[1]["interval_start"] = "2019-02-01 01:00:00 +0100 CET"
    return items


CASES = [
    # (id, items, columns, line, message fragment)
    pytest.param(
        _good(),
        tuple(c for c in KOKU_COLUMNS if c != "pod_usage_cpu_core_seconds"),
        1,
        "missing required column.*pod_usage_cpu_core_seconds",
        id="missing-column",
    ),
    # line 3: header is line 1, the second line item is line 3
    pytest.param(_bad_usage(), KOKU_COLUMNS, 3, "pod_usage_cpu_core_seconds", id="non-numeric-usage"),
    pytest.param(
        _ends_before_start(), KOKU_COLUMNS, 4, "interval_end.*not after interval_start", id="interval-ends-before-start"
    ),
    pytest.param(_empty_key(), KOKU_COLUMNS, 2, "empty", id="empty-namespace"),
    # Only Go's UTC form is accepted: another zone is a parse error, not a silent shift.
    pytest.param(_other_zone(), KOKU_COLUMNS, 3, "interval_start", id="non-utc-timestamp"),
]


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
@pytest.mark.parametrize(("items", "columns", "line", "fragment"), CASES)
def test_bad_file_named_with_line(tmp_path, budget, real_sample, engine, items, columns, line, fragment):
    bad = write_items(tmp_path / "raw" / "bad.csv", items, columns)
    files = [real_sample, bad]  # a good file first: the error must still name the bad one
    with pytest.raises(PodUsageInputError) as err:
        if engine == "duckdb":
            summarize_files(files, tmp_path / "out" / "s.parquet", budget)
        else:
            summarize_in_memory(files)
    assert err.value.path == str(bad)
    assert err.value.line == line
    assert str(err.value).startswith(f"{bad}, line {line}: ")
    assert re.search(fragment, str(err.value)), str(err.value)
    assert not (tmp_path / "out" / "s.parquet").exists()


def test_empty_file(tmp_path, budget):
    empty = tmp_path / "raw" / "empty.csv"
    empty.parent.mkdir()
    empty.write_text("")
    with pytest.raises(PodUsageInputError, match="empty.csv, line 1: file is empty"):
        summarize_files([empty], tmp_path / "s.parquet", budget)


def test_no_files(tmp_path, budget):
    with pytest.raises(NoPodUsageFiles):
        summarize_files([], tmp_path / "s.parquet", budget)
