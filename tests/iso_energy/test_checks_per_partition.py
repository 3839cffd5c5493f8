"""Asset checks belong to their (operator, year) partition: one partition's failure stays visible
after another partition passes; every check has a description; descriptions survive Markdown."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from iso_energy import assets
from iso_energy.checks import CheckOutcome
from iso_energy.definitions import defs
from iso_energy.sample import WRITERS
from memsafe.resources import DataDirResource
from tests.iso_energy.helpers import materialize_lmp


def test_a_failing_partition_is_not_hidden_by_a_later_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    WRITERS["spp"](tmp_path / "raw", "lmp_da", date(2024, 3, 1), date(2024, 3, 3), 1)
    WRITERS["pjm"](tmp_path / "raw", "lmp_da", date(2024, 3, 1), date(2024, 3, 3), 1)
    real = assets.lmp_checks

    def failing_for_pjm(path, timezone, budget):  # pjm's data made to fail unique_key
        out = real(path, timezone, budget)
        if "iso=pjm" in str(path):
            out = [
                CheckOutcome(o.name, False, o.description, {**o.metadata, "duplicate_keys": 3})
                if o.name == "unique_key"
                else o
                for o in out
            ]
        return out

    monkeypatch.setattr(assets, "lmp_checks", failing_for_pjm)
    with dg.instance_for_test() as instance:
        first = materialize_lmp(tmp_path, "lmp_da", "pjm|2024", instance)
        [ev] = [e for e in first.get_asset_check_evaluations() if e.check_name == "unique_key"]
        assert not ev.passed and ev.metadata["partition"].value == "pjm|2024"
        materialize_lmp(tmp_path, "lmp_da", "spp|2024", instance)  # passes everything

        key = dg.AssetCheckKey(dg.AssetKey("lmp_da"), "unique_key")
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
        latest = {}
        for rec in history:  # newest first
            latest.setdefault(rec.partition, rec.event.dagster_event.event_specific_data.passed)
        assert latest == {"pjm|2024": False, "spp|2024": True}
        info = {
            i.partition_key: i.latest_execution_status.value
            for i in instance.event_log_storage.get_asset_check_partition_info([key])
        }
        assert info == {"pjm|2024": "FAILED", "spp|2024": "SUCCEEDED"}


@pytest.mark.parametrize("name", ["lmp_da", "lmp_rt", "as_prices"])
def test_every_check_is_partitioned_and_described(name: str):
    asset = defs.resolve_assets_def(name)
    for spec in asset.check_specs:
        assert spec.partitions_def == asset.partitions_def
        assert spec.description and len(spec.description) > 20
    # `<iso>` outside backticks would be eaten by the UI's Markdown as an HTML tag.
    text = asset.descriptions_by_key[asset.key]
    assert "`parquet/dataset=" in text and "<iso>" in text.split("`")[1]


def test_catalog_follows_converted_partitions_by_declarative_automation(tmp_path: Path):
    WRITERS["spp"](tmp_path / "raw", "lmp_da", date(2024, 3, 1), date(2024, 3, 3), 1)
    sensors = {s.name: s for s in defs.sensors}
    assert sensors["price_catalog_automation"].default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        idle = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert idle.total_requested == 0  # nothing converted yet
        materialize_lmp(tmp_path, "lmp_da", "spp|2024", instance)  # one partition of 14 lands
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)
        assert after.total_requested == 1
        assert after.get_requested_partitions(dg.AssetKey("price_catalog")) == {None}
        dg.materialize(
            [assets.price_catalog],
            instance=instance,
            resources={**defs.resources, "data": DataDirResource(data_dir=str(tmp_path))},
        )
        assert (tmp_path / "catalog.duckdb").is_file()
        done = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert done.total_requested == 0


def test_conversion_progress_lines_reach_the_dagster_log(tmp_path: Path):
    # convert_partition logs through `logging`; the step forwards it to context.log.
    WRITERS["spp"](tmp_path / "raw", "lmp_da", date(2024, 3, 1), date(2024, 3, 2), 1)
    with dg.instance_for_test() as instance:
        result = materialize_lmp(tmp_path, "lmp_da", "spp|2024", instance)
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("raw file(s) under" in m and "converting 1 that hold 2024" in m for m in messages)
    assert any(" rows (" in m and "peak RSS" in m for m in messages)
