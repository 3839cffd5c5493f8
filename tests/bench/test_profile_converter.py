"""The converter profile's variants on a tiny generated sample: the proposed dedup gives the same file."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq

from bench import profile_converter
from iso_energy.isos import ISOS
from iso_energy.sample import generate
from memsafe.budget import Budget


def test_sort_stream_dedup_writes_exactly_what_the_converter_query_writes(tmp_path):
    # Three monthly files overlapping by a day, each with a superseded revision of its first row.
    generate(tmp_path, date(2024, 1, 1), date(2024, 4, 1), nodes=3, isos=["pjm"], datasets=["lmp_da"])
    conv = ISOS["pjm"]
    groups = conv.sniff_all(conv.raw_files(tmp_path / "raw", "lmp_da"), "lmp_da")
    norm = conv.normalised_sql("lmp_da", groups)
    params = {**conv._params(groups), "year": 2024}
    con = Budget(memory_mb=512, spill_dir=str(tmp_path / "spill")).connect()
    query = profile_converter.conversion_sql(norm, dedup="window", order=True)
    expected = con.sql(query, params=params).to_arrow_table()
    out = tmp_path / "stream.parquet"
    # batches of 7 rows: duplicates straddle batch boundaries
    rows = profile_converter.sort_stream_dedup(con, norm, {**params, "out": str(out)}, str(out), batch_rows=7)
    got = pq.read_table(out)
    assert rows == expected.num_rows == 3 * ((31 + 29 + 31) * 24 - 1)  # 2024-03-10 has 23 hours
    assert got.equals(expected)


def test_every_profile_step_runs(tmp_path, capsys):
    generate(tmp_path, date(2024, 1, 1), date(2024, 3, 1), nodes=2, isos=["pjm"], datasets=["lmp_da"])
    assert profile_converter.main(["--data-dir", str(tmp_path), "--memory-mb", "512"]) == 0
    lines = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert [ln["step"] for ln in lines] == list(profile_converter.STEPS)
    out = {ln["step"]: ln["result"] for ln in lines}
    deduped = 2 * (31 + 29) * 24
    deduping = ("as_is", "no_order", "dedup_arg_max", "file_rank", "distinct_on", "sort_stream_dedup")
    assert {out[s] for s in deduping} == {deduped}
    assert out["index_one_pass"] == {"rows": out["index_rows"]["rows"], "2024": out["index_years"]["2024"]}
