"""RIPE Atlas samples (real files, read in place) imported and grouped; importer rules and errors."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from memsafe.budget import Budget
from probe_rows.grouping import GroupConfig, group_probes
from probe_rows.ripe_atlas import AtlasFormatError, AtlasImportConfig, import_file, import_files
from tests.probe_rows.probe_rows_testdata import ATLAS_PING, ATLAS_TRACEROUTE

UTC = dt.UTC


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """Both samples imported with the default rules (probe = `from`, failed pings kept) and grouped."""
    root = tmp_path_factory.mktemp("atlas")
    stats = import_files([ATLAS_PING, ATLAS_TRACEROUTE], root / "shards")
    group = group_probes(
        root / "shards",
        root / "out",
        Budget(memory_mb=512, spill_dir=str(root / "spill")),
        GroupConfig(test_fraction=0.25),
    )
    rows = pl.read_parquet(str(root / "out" / "*" / "*.parquet"))
    return {s.name: v for s, v in stats.items()}, group, rows


def test_import_counts(grouped):
    stats, _, _ = grouped
    ping = stats["ripe_atlas_ping_msm1001.parquet"]
    trace = stats["ripe_atlas_traceroute_googlenews.parquet"]
    # 100 ping results, 2 of them failed (avg -1): kept with a null RTT.
    assert (ping.results, ping.measurements, ping.failed_kept, ping.no_destination) == (100, 100, 2, 0)
    # 696 traceroutes, 2 with "name resolution failed" and no dst_addr: dropped.
    assert (trace.results, trace.measurements, trace.no_destination, trace.failed_kept) == (696, 694, 2, 0)


def test_grouped_probe_counts(grouped):
    _, group, rows = grouped
    # 97 distinct `from` addresses in the ping sample + 34 in the traceroute sample, none shared.
    assert group.probes_in == rows.height == 131
    assert group.measurements_out == rows["n_measurements"].sum() == 794
    assert group.probes_train + group.probes_test == 131 and group.probes_test > 0
    # 25 probes answered all 24 rounds; 2 of them lost one to a failed name resolution (dropped).
    assert rows.filter(pl.col("n_measurements") == 24).height == 23


def test_known_probes_first_measurements(grouped):
    _, _, rows = grouped
    by_addr = {r["src_addr"]: r for r in rows.to_dicts()}
    trace = by_addr["84.45.155.58"]  # prb_id 11813, the first traceroute of the file
    assert trace["n_measurements"] == 24
    first = trace["measurements"][0]
    assert first["event_time"] == dt.datetime(2024, 9, 13, 22, 48, 45, tzinfo=UTC)  # timestamp 1726267725
    assert (first["dst_addr"], first["rtt_ms"], first["prb_id"], first["hop_count"]) == (
        "172.217.169.78",
        10.409,
        11813,
        10,
    )  # min of 10.409, 10.634, 33.625 from the destination
    times = [m["event_time"] for m in trace["measurements"]]
    assert times == sorted(times) and len(set(times)) == 24
    ping = by_addr["80.57.152.161"]  # prb_id 1: lines 1 and 4 of the NDJSON
    got = [(m["event_time"].timestamp(), m["rtt_ms"], m["sent"], m["rcvd"]) for m in ping["measurements"]]
    assert got == [(1422662503, 8.7103333333, 3, 3), (1422662507, 7.082, 3, 3)]


def test_failed_pings_drop_rule(tmp_path):
    kept = import_file(ATLAS_PING, tmp_path / "kept.parquet")
    dropped = import_file(ATLAS_PING, tmp_path / "dropped.parquet", AtlasImportConfig(failed="drop"))
    assert (kept.measurements, dropped.measurements, dropped.failed_dropped) == (100, 98, 2)
    nulls = pl.read_parquet(tmp_path / "kept.parquet").filter(pl.col("rtt_ms").is_null())
    assert nulls.height == 2 and set(nulls["rcvd"]) == {0}
    assert pl.read_parquet(tmp_path / "dropped.parquet")["rtt_ms"].null_count() == 0


def test_src_addr_choice_merges_probes_behind_nat(tmp_path):
    # With the probe's own interface address, three probes behind Docker NAT (172.17.0.2) become one.
    import_files([ATLAS_TRACEROUTE], tmp_path / "shards", AtlasImportConfig(address_field="src_addr"))
    group_probes(tmp_path / "shards", tmp_path / "out", Budget(memory_mb=512, spill_dir=str(tmp_path / "s")))
    rows = pl.read_parquet(str(tmp_path / "out" / "*" / "*.parquet"))
    merged = rows.filter(pl.col("src_addr") == "172.17.0.2")
    assert merged["n_measurements"].to_list() == [72]
    assert len({m["prb_id"] for m in merged["measurements"].to_list()[0]}) == 3
    assert rows.height == 27  # vs 34 `from` addresses


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"type": "ping", "timestamp": 1, "dst_addr": "1.1.1.1"}\n{"type": "ping", oops}\n', "line 2"),
        ('{"type": "dns", "timestamp": 1, "dst_addr": "1.1.1.1"}\n', "not ping or traceroute"),
        ('{"type": "ping", "timestamp": "yesterday", "dst_addr": "1.1.1.1"}\n', "Unix seconds"),
        ('{"a": [], "b": []}', "exactly one list"),
    ],
    ids=["bad-json-line", "unknown-type", "text-timestamp", "ambiguous-wrapper"],
)
def test_bad_atlas_files_name_file_and_place(tmp_path, content, message):
    src = tmp_path / "bad.json"
    src.write_text(content)
    with pytest.raises(AtlasFormatError, match=message) as err:
        import_file(src, tmp_path / "out" / "bad.parquet")
    assert "bad.json" in str(err.value)
    assert not any((tmp_path / "out").iterdir())  # atomic: no shard, no temporary


def test_json_array_form(tmp_path):
    src = tmp_path / "array.json"
    src.write_text(json.dumps([json.loads(ATLAS_PING.read_text().splitlines()[0])]))
    assert import_file(src, tmp_path / "a.parquet").measurements == 1
    assert pl.read_parquet(tmp_path / "a.parquet")["src_addr"].to_list() == ["80.57.152.161"]
