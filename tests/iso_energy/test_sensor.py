"""The new-file sensor: exact run requests for new/changed files, nothing twice, and a broken
file reported without stopping the others. Evaluated directly and as a full tick validated
against the code location's Definitions."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from iso_energy import file_index
from iso_energy.convert import convert_partition, partition_path
from iso_energy.definitions import defs, raw_files_sensor
from iso_energy.isos import ISOS
from iso_energy.raw_watch import decode_state, encode_state, watch
from iso_energy.sample import WRITERS, ancillary
from memsafe.budget import Budget
from memsafe.resources import DataDirResource


def evaluate(instance, root: Path, cursor: str | None):
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"data": DataDirResource(data_dir=str(root))}
    )
    return raw_files_sensor(ctx)


def requested(result) -> set[tuple[str, str]]:
    out = set()
    for r in result.run_requests:
        assert len(r.asset_selection) == 1
        asset = r.asset_selection[0].to_user_string()
        assert r.job_name == ("as_job" if asset == "as_prices" else "lmp_job")
        out.add((asset, str(r.partition_key)))
    return out


def test_new_file_requests_exact_partitions_once(tmp_path: Path, capfd: pytest.CaptureFixture):
    raw = tmp_path / "raw"
    WRITERS["pjm"](raw, "lmp_da", date(2023, 12, 30), date(2024, 1, 2), 1)  # 2023 and 2024
    WRITERS["isone"](raw, "lmp_rt", date(2024, 11, 2), date(2024, 11, 4), 1)  # 2024
    ancillary.write("ercot", raw, date(2022, 12, 31), date(2023, 1, 1), 1)  # AS, 2022
    with dg.instance_for_test() as instance:
        first = evaluate(instance, tmp_path, None)
        assert requested(first) == {
            ("lmp_da", "pjm|2023"),
            ("lmp_da", "pjm|2024"),
            ("lmp_rt", "isone|2024"),
            ("as_prices", "ercot|2022"),
        }
        assert len({r.run_key for r in first.run_requests}) == 4

        second = evaluate(instance, tmp_path, first.cursor)
        assert second.run_requests == []

        # A new month for NYISO day-ahead, a broken file beside it, and a new PJM file whose
        # operating days fall in 2024 only: exactly nyiso|2024 and pjm|2024 for lmp_da.
        WRITERS["nyiso"](raw, "lmp_da", date(2024, 5, 1), date(2024, 5, 3), 1)
        broken = raw / "nyiso" / "lmp_da" / "20240601damlbmp_zone.csv"
        broken.write_text("File does not exist")
        WRITERS["pjm"](raw, "lmp_da", date(2024, 2, 1), date(2024, 2, 3), 1)
        third = evaluate(instance, tmp_path, second.cursor)
        assert requested(third) == {("lmp_da", "nyiso|2024"), ("lmp_da", "pjm|2024")}
        logged = capfd.readouterr().err
        assert f"unreadable raw file skipped (reported once, rescanned when it changes): {broken}" in logged
        # The broken file is remembered (reported once), not retried on every tick.
        assert "nyiso/lmp_da/20240601damlbmp_zone.csv" in decode_state(third.cursor)

        fourth = evaluate(instance, tmp_path, third.cursor)
        assert fourth.run_requests == []

        # Fixing the broken file (it changes) is picked up, alone.
        WRITERS["nyiso"](tmp_path / "fix", "lmp_da", date(2024, 6, 1), date(2024, 6, 2), 1)
        os.replace(next((tmp_path / "fix" / "nyiso" / "lmp_da").iterdir()), broken)
        fifth = evaluate(instance, tmp_path, fourth.cursor)
        assert requested(fifth) == {("lmp_da", "nyiso|2024")}
        assert fifth.run_requests[0].run_key != third.run_requests[0].run_key


def test_changed_file_also_requests_the_years_it_no_longer_holds(tmp_path: Path):
    raw = tmp_path / "raw"
    [f] = WRITERS["spp"](raw, "lmp_da", date(2023, 12, 1), date(2023, 12, 3), 1)
    with dg.instance_for_test() as instance:
        first = evaluate(instance, tmp_path, None)
        assert requested(first) == {("lmp_da", "spp|2023")}
        # The file is replaced by one holding 2024 only: 2023 must reconvert too (it lost rows).
        WRITERS["spp"](tmp_path / "new", "lmp_da", date(2024, 12, 1), date(2024, 12, 3), 1)
        os.replace(next((tmp_path / "new" / "spp" / "lmp_da").iterdir()), f)
        second = evaluate(instance, tmp_path, first.cursor)
        assert requested(second) == {("lmp_da", "spp|2023"), ("lmp_da", "spp|2024")}


def test_broken_file_is_reported_and_others_carry_on(tmp_path: Path):
    raw = tmp_path / "raw"
    WRITERS["miso"](raw, "lmp_rt", date(2024, 1, 1), date(2024, 1, 2), 1)
    bad = raw / "miso" / "lmp_rt" / "20240102_rt_lmp_final.csv"
    bad.write_text("<html><body>Service unavailable</body></html>")
    budget = Budget(memory_mb=256, threads=1, spill_dir=str(tmp_path / "spill"))
    result = watch(tmp_path, ISOS, {"lmp_rt"}, {}, budget, deadline=float("inf"))
    assert result.partitions == {("lmp_rt", "miso", 2024): ["miso/lmp_rt/20240101_rt_lmp_final.csv"]}
    assert list(result.errors) == ["miso/lmp_rt/20240102_rt_lmp_final.csv"]
    assert str(bad) in result.errors["miso/lmp_rt/20240102_rt_lmp_final.csv"]
    # The scan filled the conversions' file index, so they will not scan the good file again.
    assert file_index.cached_years(tmp_path, "miso", "lmp_rt") == {
        raw / "miso" / "lmp_rt" / "20240101_rt_lmp_final.csv": {2024}
    }


def test_unchanged_files_are_only_stated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    raw = tmp_path / "raw"
    WRITERS["ercot"](raw, "lmp_da", date(2024, 1, 1), date(2024, 3, 1), 1)
    budget = Budget(memory_mb=256, threads=1, spill_dir=str(tmp_path / "spill"))
    state = watch(tmp_path, ISOS, {"lmp_da"}, {}, budget, deadline=float("inf")).seen
    assert len(state) == 2

    def no_scan(*_a, **_k):
        raise AssertionError("an unchanged file was scanned")

    monkeypatch.setattr(ISOS["ercot"].__class__, "file_year_counts", no_scan)
    again = watch(tmp_path, ISOS, {"lmp_da"}, decode_state(encode_state(state)), budget, deadline=float("inf"))
    assert again.partitions == {} and again.seen == state


def test_deadline_defers_scanning_to_the_next_tick(tmp_path: Path):
    WRITERS["caiso"](tmp_path / "raw", "lmp_da", date(2024, 1, 30), date(2024, 2, 2), 1)  # two files
    budget = Budget(memory_mb=256, threads=1, spill_dir=str(tmp_path / "spill"))
    late = watch(tmp_path, ISOS, {"lmp_da"}, {}, budget, deadline=0.0)  # already past
    assert late.deferred == 2 and late.partitions == {} and late.seen == {}
    on_time = watch(tmp_path, ISOS, {"lmp_da"}, late.seen, budget, deadline=float("inf"))
    assert set(on_time.partitions) == {("lmp_da", "caiso", 2024)} and on_time.deferred == 0


def test_full_tick_validates_against_definitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEMSAFE_DATA_DIR", str(tmp_path))
    WRITERS["isone"](tmp_path / "raw", "lmp_da", date(2024, 7, 1), date(2024, 7, 2), 1)
    assert defs.resolve_sensor_def("raw_files_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance, dg.partition_loading_context(dynamic_partitions_store=instance):
        data = raw_files_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs, resources=dict(defs.resources))
        )
    assert [(r.partition_key, r.asset_selection) for r in data.run_requests] == [
        ("isone|2024", [dg.AssetKey("lmp_da")])
    ]


def test_up_to_date_outputs_are_not_requested(tmp_path: Path):
    """After every partition is converted, a tick with an empty cursor (a new sensor, or the first
    tick after ``make demo``) requests nothing; touching one file requests exactly its partitions."""
    raw = tmp_path / "raw"
    WRITERS["pjm"](raw, "lmp_da", date(2023, 12, 30), date(2024, 1, 2), 1)  # 2023 and 2024
    [spp] = WRITERS["spp"](raw, "lmp_rt", date(2024, 3, 1), date(2024, 3, 2), 1)
    ancillary.write("ercot", raw, date(2024, 5, 1), date(2024, 5, 2), 1)
    budget = Budget(memory_mb=256, threads=1, spill_dir=str(tmp_path / "spill"))
    for iso, dataset, year in [
        ("pjm", "lmp_da", 2023),
        ("pjm", "lmp_da", 2024),
        ("spp", "lmp_rt", 2024),
        ("ercot", "as", 2024),
    ]:
        convert_partition(ISOS[iso], dataset, year, tmp_path, budget)
    with dg.instance_for_test() as instance:
        fresh = evaluate(instance, tmp_path, None)
        assert fresh.run_requests == []
        assert len(decode_state(fresh.cursor)) == len([f for f in raw.rglob("*") if f.is_file()])

        os.utime(spp, ns=(spp.stat().st_atime_ns, spp.stat().st_mtime_ns + 1_000_000_000))  # touched
        assert requested(evaluate(instance, tmp_path, None)) == {("lmp_rt", "spp|2024")}
        assert requested(evaluate(instance, tmp_path, fresh.cursor)) == {("lmp_rt", "spp|2024")}

        # A deleted output is not up to date, whatever the files.
        convert_partition(ISOS["spp"], "lmp_rt", 2024, tmp_path, budget)
        assert evaluate(instance, tmp_path, None).run_requests == []
        shutil.rmtree(partition_path(tmp_path, "as", "ercot", 2024))
        assert requested(evaluate(instance, tmp_path, None)) == {("as_prices", "ercot|2024")}

        # A new file holding 2023 only: pjm|2023 is stale, pjm|2024 stays up to date.
        WRITERS["pjm"](tmp_path / "new", "lmp_da", date(2023, 6, 1), date(2023, 6, 2), 1)
        for f in (tmp_path / "new" / "pjm" / "lmp_da").iterdir():
            os.replace(f, raw / "pjm" / "lmp_da" / f"june-{f.name}")
        assert requested(evaluate(instance, tmp_path, None)) == {("lmp_da", "pjm|2023"), ("as_prices", "ercot|2024")}
