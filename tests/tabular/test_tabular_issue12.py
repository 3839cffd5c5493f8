"""Issue 12 item 4: a MODS file every CSV reader accepts, dropped rows reported on the CLI line,
a bad date named in one error, and ``--column-types`` on the command line."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tabular.cli import main
from tabular.io import TabularInputError, iter_file_batches
from tabular.loading import LoadSpec, load_dataset
from tabular.splits import SplitConfigError, SplitSpec, split_dataset


def test_mods_is_valid_csv_with_tz_timestamp_decimal_and_list(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    utc = dt.UTC
    pq.write_table(
        pa.table(
            {
                "event": pa.array(
                    [dt.datetime(2024, 1, 1, tzinfo=utc), None, dt.datetime(2024, 3, 1, tzinfo=utc)],
                    pa.timestamp("us", tz="UTC"),
                ),
                "amount": pa.array([decimal.Decimal("1.25"), decimal.Decimal("-3.50"), None], pa.decimal128(12, 2)),
                "tags": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
                "plan": ["a", "b", "a"],
                "label": [0, 1, 0],
            }
        ),
        raw / "part.parquet",
    )
    result = load_dataset(raw, tmp_path / "loaded", LoadSpec(label="label"))
    mods = pd.read_csv(tmp_path / "loaded" / "_mods.csv")
    assert list(mods.columns) == ["varname", "iscategory", "datatype"]
    assert mods["varname"].tolist() == ["event", "amount", "tags", "plan", "label"]
    assert mods["iscategory"].tolist() == [False, False, False, True, False]
    # Types with commas survive the round trip whole (they are quoted on disk).
    assert mods["datatype"].tolist() == [
        "timestamp[us, tz=UTC]",
        "decimal128(12, 2)",
        "list<element: int64>",
        "string",
        "int64",
    ]
    assert '"timestamp[us, tz=UTC]"' in (tmp_path / "loaded" / "_mods.csv").read_text()
    # Decimal statistics are computed (in float64), not a crash.
    assert result.stats["columns"]["amount"]["min"] == -3.5 and result.stats["columns"]["amount"]["nulls"] == 1
    # CSV shards cannot hold a list: a named configuration error before anything is written.
    with pytest.raises(TabularInputError, match=r"nested column\(s\) tags \(list<element: int64>\)"):
        load_dataset(raw, tmp_path / "csv", LoadSpec(label="label", output_format="csv"))
    assert not (tmp_path / "csv").exists()


def _temporal_rows(folder, dates):
    folder.mkdir()
    rows = ["cust,month,label,x"] + [f"{c},{d},{lab},1" for c, d, lab in dates]
    (folder / "d.csv").write_text("\n".join(rows) + "\n")


def test_split_cli_line_reports_rows_dropped_and_why(tmp_path, capsys):
    _temporal_rows(
        tmp_path / "raw",
        [
            ("a", "2018-02-01", 1),
            ("b", "2018-03-01", 0),
            ("c", "2019-01-01", 1),
            ("a", "2019-05-01", 0),
            ("", "2018-02-01", 0),  # no customer id
            ("e", "", 1),  # a customer never dated
            ("d", "2019-04-01", ""),  # missing label
        ],
    )
    assert (
        main(
            [
                "split",
                "--input",
                str(tmp_path / "raw"),
                "--output",
                str(tmp_path / "s"),
                "--label",
                "label",
                "--mode",
                "temporal",
                "--customer-column",
                "cust",
                "--date-column",
                "month",
                "--cutoffs",
                "2018-06-01",
            ]
        )
        == 0
    )
    line = json.loads(capsys.readouterr().out)
    assert line["rows"] == 7
    assert line["split_rows"] == {"train": 3, "test": 1}
    assert line["rows_dropped"] == 3
    assert line["dropped"] == {"no_customer_or_date": 2, "missing_label": 1}
    assert sum(line["split_rows"].values()) + line["rows_dropped"] == line["rows"]


def test_stratified_cli_line_reports_missing_labels(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "d.csv").write_text("x,label\n" + "".join(f"{i},{'' if i % 10 == 0 else i % 2}\n" for i in range(100)))
    assert main(["split", "--input", str(raw), "--output", str(tmp_path / "s"), "--label", "label"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["rows"], line["rows_dropped"], line["dropped"]) == (100, 10, {"missing_label": 10})
    assert sum(line["split_rows"].values()) == 90


@pytest.mark.parametrize("processing", ["streaming", "batch"])
def test_bad_date_value_names_column_value_and_setting(tmp_path, processing):
    _temporal_rows(tmp_path / "raw", [("a", "2018-02-01", 1), ("b", "Feb-2018", 0), ("c", "2019-01-01", 1)])
    spec = SplitSpec(
        label="label",
        mode="temporal",
        customer_column="cust",
        date_column="month",
        cutoffs=("2018-06-01",),
        processing=processing,
    )
    with pytest.raises(SplitConfigError) as err:
        split_dataset(tmp_path / "raw", tmp_path / "s", spec)
    msg = str(err.value)
    assert "date_column 'month'" in msg and "'Feb-2018'" in msg and "--date-column" in msg
    assert not (tmp_path / "s").exists()


def test_iso_text_dates_with_and_without_time_of_day_are_accepted(tmp_path):
    # Text dates (a CSV column pyarrow did not infer as a timestamp) are parsed, not compared as text.
    _temporal_rows(
        tmp_path / "raw",
        [
            ("a", "2018-12-01T10:00:00", 1),
            ("b", "2018-02-01", 0),
            ("c", "2019-03-01", 1),
            ("a", "2018-05-31 23:00:00", 0),
        ],
    )
    spec = SplitSpec(
        label="label", mode="temporal", customer_column="cust", date_column="month", cutoffs=("2018-06-01",)
    )
    result = split_dataset(tmp_path / "raw", tmp_path / "s", spec)
    assert result.rows == {"train": 3, "test": 1}  # a (first seen 2018-05-31) and b before the cutoff


def test_column_types_on_the_cli_and_named_in_the_error(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "d.csv").write_text("zip,label\n01234,1\n00501,0\n")
    assert (
        main(
            [
                "load",
                "--input",
                str(raw),
                "--output",
                str(tmp_path / "l"),
                "--label",
                "label",
                "--column-types",
                "zip=string",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["rows"] == 2
    zips = pq.read_table(tmp_path / "l" / "part-00000.parquet").column("zip").to_pylist()
    assert zips == ["01234", "00501"]  # inferred as int64 they would be 1234 and 501
    with pytest.raises(SystemExit):
        main(["load", "--input", str(raw), "--output", str(tmp_path / "l"), "--column-types", "zip=strng"])
    assert "'strng' is not an Arrow type name" in capsys.readouterr().err
    # The reader's type error tells the user which flag to set.
    (raw / "d.csv").write_text("zip,label\n1234,1\nAB12,0\n")
    with pytest.raises(TabularInputError, match=r"--column-types name=type"):
        list(iter_file_batches(raw / "d.csv", 10, column_types={"zip": pa.int64()}))


def test_iso_text_dates_with_a_zone_offset_are_converted_to_utc(tmp_path):
    rows = [("a", "2018-06-01T01:00:00+02:00", 1), ("b", "2018-06-01T00:00:00Z", 0), ("c", "2019-03-01T00:00:00Z", 1)]
    _temporal_rows(tmp_path / "raw", rows)
    spec = SplitSpec(
        label="label", mode="temporal", customer_column="cust", date_column="month", cutoffs=("2018-06-01",)
    )
    # a: 2018-05-31T23:00Z, before the cutoff; b: exactly at the cutoff (not before it); c: after.
    assert split_dataset(tmp_path / "raw", tmp_path / "s", spec).rows == {"train": 1, "test": 2}
