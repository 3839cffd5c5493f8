"""Measurements that are not RIPE Atlas JSON: any CSV/TSV/parquet table mapped to shards, which
``group`` then reads as it reads every shard."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memsafe.budget import Budget
from probe_rows.cli import main
from probe_rows.csv_import import (
    CsvImportConfig,
    MeasurementCsvError,
    import_table,
    import_tables,
    parse_mapping,
)
from probe_rows.grouping import group_probes
from probe_rows.shards import NoShardsError, check_shard

# A latency matrix as published by network-coordinate data sets: node ids, probe size, RTT in ms,
# no timestamp. Row 5 has no destination, row 6 a failed measurement.
MATRIX = "source,dest,size,time\n0,1,64,12.5\n0,2,64,30.1\n1,0,64,12.7\n2,0,1500,31.0\n2,,64,5.0\n1,2,64,\n"


def _group(shards, out, tmp_path):
    group_probes(shards, out, Budget(memory_mb=512, spill_dir=str(tmp_path / "spill")), measure=False)
    return pl.read_parquet(str(out / "*" / "*.parquet")).sort("src_addr")


def test_latency_matrix_through_the_cli_then_group(tmp_path, capsys):
    src = tmp_path / "matrix.csv"
    src.write_text(MATRIX)
    shards = tmp_path / "shards"
    assert (
        main(["import-csv", "--output", str(shards), "--map", "src_addr=source,dst_addr=dest,rtt_ms=time", str(src)])
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert stats["shard"] == str(shards / "matrix.parquet")
    assert (stats["rows_read"], stats["measurements"], stats["no_destination"], stats["null_rtt"]) == (6, 5, 1, 1)
    assert stats["event_time_rule"] == "row-order" and stats["extra_columns"] == ["size"]
    shard = check_shard(shards / "matrix.parquet")  # the shard contract group relies on
    assert shard.rows == 5 and shard.numeric_extras == ("size",)
    table = pq.read_table(shards / "matrix.parquet")
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    # Row order rule: event_time = epoch + data row position (0-based, dropped rows counted) seconds.
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert table.column("event_time").to_pylist() == [epoch + dt.timedelta(seconds=s) for s in (0, 1, 2, 3, 5)]
    assert table.column("src_addr").to_pylist() == ["0", "0", "1", "2", "1"]
    rows = _group(shards, tmp_path / "out", tmp_path)
    assert rows["src_addr"].to_list() == ["0", "1", "2"]
    by_probe = {r["src_addr"]: r["measurements"] for r in rows.to_dicts()}
    assert [m["dst_addr"] for m in by_probe["0"]] == ["1", "2"]  # the file's order
    assert [m["rtt_ms"] for m in by_probe["1"]] == [12.7, None]
    assert by_probe["2"][0]["size"] == 1500


def test_row_order_continues_across_files(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.tsv"
    a.write_text("src,dst,rtt\nx,y,1\nx,z,2\n")
    b.write_text("src\tdst\trtt\nx\ty\t3\n")
    stats = import_tables(
        [a, b], tmp_path / "s", CsvImportConfig(parse_mapping("src_addr=src,dst_addr=dst,rtt_ms=rtt"))
    )
    assert [s.rows_read for s in stats.values()] == [2, 1]
    times = pq.read_table(tmp_path / "s" / "b.parquet").column("event_time").to_pylist()
    assert times == [dt.datetime(1970, 1, 1, 0, 0, 2, tzinfo=dt.UTC)]


def test_constant_time_rule(tmp_path):
    src = tmp_path / "m.csv"
    src.write_text(MATRIX)
    config = CsvImportConfig(parse_mapping("src_addr=source,dst_addr=dest,rtt_ms=time"), time_rule="2024-05-01T12:00")
    stats = import_table(src, tmp_path / "s" / "m.parquet", config)
    assert stats.event_time_rule == "2024-05-01T12:00"
    times = set(pq.read_table(tmp_path / "s" / "m.parquet").column("event_time").to_pylist())
    assert times == {dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)}
    # Ties are ordered by the struct's other fields: dst_addr first.
    rows = _group(tmp_path / "s", tmp_path / "out", tmp_path)
    assert [m["dst_addr"] for m in rows.filter(pl.col("src_addr") == "0")["measurements"][0]] == ["1", "2"]


@pytest.mark.parametrize(
    ("column", "unit", "expected"),
    [
        pytest.param(pa.array([1_700_000_000, 1_700_000_060]), "s", 0, id="unix-seconds"),
        pytest.param(pa.array([1_700_000_000_000, 1_700_000_060_000]), "ms", 0, id="unix-millis"),
        pytest.param(pa.array(["2023-11-14T22:13:20", "2023-11-14 22:14:20"]), "s", 0, id="iso-naive-is-utc"),
        pytest.param(pa.array(["2023-11-14T23:13:20+01:00", "2023-11-14T22:14:20Z"]), "s", 0, id="iso-offset"),
        pytest.param(
            pa.array(
                [dt.datetime(2023, 11, 14, 22, 13, 20), dt.datetime(2023, 11, 14, 22, 14, 20)], pa.timestamp("ms")
            ),
            "s",
            0,
            id="parquet-timestamp",
        ),
    ],
)
def test_time_column_from_parquet(tmp_path, column, unit, expected):
    src = tmp_path / "pings.parquet"
    pq.write_table(pa.table({"probe": ["p1", "p1"], "target": ["t", "t"], "ts": column, "rtt": [1, 2]}), src)
    config = CsvImportConfig(parse_mapping("src_addr=probe,dst_addr=target,rtt_ms=rtt,event_time=ts"), time_unit=unit)
    stats = import_table(src, tmp_path / "s" / "pings.parquet", config)
    assert stats.event_time_rule == "column ts" and stats.extra_columns == []
    times = pq.read_table(tmp_path / "s" / "pings.parquet").column("event_time").to_pylist()
    start = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert times == [start, start + dt.timedelta(minutes=1)]


def test_unmapped_columns_of_the_shard_names_are_used_as_is(tmp_path):
    src = tmp_path / "ready.csv"
    src.write_text("src_addr,dst_addr,event_time,rtt_ms,hops\na,b,2024-01-01T00:00:00,3.5,4\n")
    stats = import_table(src, tmp_path / "s" / "ready.parquet")
    assert stats.measurements == 1 and stats.event_time_rule == "column event_time" and stats.extra_columns == ["hops"]


@pytest.mark.parametrize(
    ("text", "config", "message"),
    [
        pytest.param(
            MATRIX,
            {"mapping": "src_addr=source,dst_addr=dst,rtt_ms=time"},
            r"column 'dst' \(mapped to dst_addr\) is missing; columns are \['source', 'dest'",
            id="missing",
        ),
        pytest.param(
            MATRIX,
            {"mapping": "src_addr=source,dst_addr=dest"},
            r"no column for rtt_ms; map one with --map rtt_ms=<column>",
            id="unmapped",
        ),
        pytest.param(
            "s,d,t\na,b,fast\n",
            {"mapping": "src_addr=s,dst_addr=d,rtt_ms=t"},
            r"column 't' \(rtt_ms\): value 'fast' is not double",
            id="bad-rtt",
        ),
        pytest.param(
            "s,d,t,ts\na,b,1,Feb-2018\n",
            {"mapping": "src_addr=s,dst_addr=d,rtt_ms=t,event_time=ts"},
            r"column 'ts' \(event_time, ISO 8601\): value 'Feb-2018'",
            id="bad-time",
        ),
        pytest.param(
            "s,d,t,ts\na,b,1,2018-01-01\n",
            {"mapping": "src_addr=s,dst_addr=d,rtt_ms=t,event_time=ts", "time_rule": "2020-01-01"},
            r"--time 2020-01-01 is for tables without a time column",
            id="time-twice",
        ),
        pytest.param(
            MATRIX,
            {"mapping": "src_addr=source,dst_addr=dest,rtt_ms=time", "extra_columns": ("dest",)},
            r"extra column 'dest' is missing, mapped, or not numeric",
            id="bad-extra",
        ),
    ],
)
def test_bad_tables_name_file_column_and_value(tmp_path, text, config, message):
    src = tmp_path / "in.csv"
    src.write_text(text)
    kwargs = {k: v for k, v in config.items() if k != "mapping"}
    with pytest.raises(MeasurementCsvError, match=message) as err:
        import_table(src, tmp_path / "s" / "in.parquet", CsvImportConfig(parse_mapping(config["mapping"]), **kwargs))
    assert str(src) in str(err.value)
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())  # nothing half-written


@pytest.mark.parametrize(
    ("text", "message"),
    [("src_addr", "expected shard_column=input_column"), ("rtt=time", "'rtt' is not a shard column")],
)
def test_bad_map_is_named(text, message):
    with pytest.raises(MeasurementCsvError, match=message):
        parse_mapping(text)


def test_large_csv_streams_in_blocks(tmp_path):
    # About 9 MB of text: the reader parses ~4 MB blocks, each written as its own row group, so the
    # file is never held whole.
    src = tmp_path / "big.csv"
    with src.open("w") as fh:
        fh.write("source,dest,size,time\n")
        for i in range(400_000):
            fh.write(f"node-{i % 997:05d},node-{i % 991:05d},64,{i % 300}.25\n")
    stats = import_table(
        src, tmp_path / "s" / "big.parquet", CsvImportConfig(parse_mapping("src_addr=source,dst_addr=dest,rtt_ms=time"))
    )
    assert stats.measurements == 400_000
    meta = pq.read_metadata(tmp_path / "s" / "big.parquet")
    assert meta.num_rows == 400_000 and meta.num_row_groups >= 2
    last = pq.read_table(tmp_path / "s" / "big.parquet").slice(399_999)
    assert last.column("event_time")[0].as_py() == dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=399_999
    )


def test_group_on_a_folder_of_csvs_names_what_it_expected(tmp_path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    for name in ("a.csv", "b.tsv"):
        (folder / name).write_text(MATRIX)
    with pytest.raises(NoShardsError) as err:
        group_probes(folder, tmp_path / "out", Budget(memory_mb=512), measure=False)
    msg = str(err.value)
    assert "expected *.parquet files with columns src_addr, dst_addr, event_time, rtt_ms" in msg
    assert "2 other file(s), ignored: a.csv, b.tsv" in msg and "import-csv" in msg
