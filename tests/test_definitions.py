"""Every code location loads, with the expected assets, partitions and pools; the instance
configuration agrees with the conversion budget (one source of truth)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import dagster as dg
import pytest
import yaml

from iso_energy.definitions import CONVERSION
from iso_energy.instance import apply_pool_limit, apply_pools, location_pools
from iso_energy.isos import ISOS
from iso_energy.resources import POOL, ConversionBudgetResource, pool_limit
from memsafe.budget import DAGSTER_STACK_MB, BudgetError
from tests.conftest import REPO

LOCATIONS = ["iso_energy", "probe_rows", "tabular", "pod_usage"]


@pytest.mark.parametrize("location", LOCATIONS)
def test_location_loads(location):
    defs = importlib.import_module(f"{location}.definitions").defs
    assert isinstance(defs, dg.Definitions)
    defs.resolve_all_job_defs()  # resolves every job and its resources


def test_iso_energy_assets_partitions_and_pool():
    defs = importlib.import_module("iso_energy.definitions").defs
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"lmp_da", "lmp_rt"} <= keys
    for name in ("lmp_da", "lmp_rt"):
        asset = defs.resolve_assets_def(name)
        pdef = asset.partitions_def
        assert isinstance(pdef, dg.MultiPartitionsDefinition)
        dims = {d.name: d.partitions_def for d in pdef.partitions_defs}
        assert dims["iso"].get_partition_keys() == list(ISOS)
        assert {"2015", "2023", "2024"} <= set(dims["year"].get_partition_keys())
        assert asset.op.pool == POOL
        assert {c.name for c in asset.check_specs} >= {"unique_key", "no_null_lmp", "hours_per_operating_day"}
    assert defs.resolve_job_def("lmp_job").partitions_def is not None


def test_probe_rows_tabular_and_pod_usage_assets_partitions_and_pools():
    probe = importlib.import_module("probe_rows.definitions").defs
    assert {k.to_user_string() for k in probe.resolve_asset_graph().get_all_asset_keys()} == {
        "measurement_shards",
        "probe_rows",
    }
    shards = probe.resolve_assets_def("measurement_shards")
    assert isinstance(shards.partitions_def, dg.DynamicPartitionsDefinition)
    assert probe.resolve_assets_def("probe_rows").op.pool == "probe_rows"

    tabular = importlib.import_module("tabular.definitions").defs
    keys = {k.to_user_string() for k in tabular.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"tabular_shards", "tabular_train", "tabular_test", "tabular_val", "tabular_transformed"}
    for key in keys:
        asset = tabular.resolve_assets_def(key)
        assert asset.partitions_def == dg.DynamicPartitionsDefinition(name="tabular_datasets")
        assert asset.op.pool == "tabular"
    assert tabular.resolve_sensor_def("tabular_dataset_sensor").job_name == "tabular_job"

    pods = importlib.import_module("pod_usage.definitions").defs
    assert {k.to_user_string() for k in pods.resolve_asset_graph().get_all_asset_keys()} == {"pod_usage_daily_summary"}
    summary = pods.resolve_assets_def("pod_usage_daily_summary")
    assert isinstance(summary.partitions_def, dg.MonthlyPartitionsDefinition) and summary.op.pool == "pod_usage"


def test_instance_yaml_agrees_with_the_conversion_budget():
    config = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["granularity"] == "op"  # `run` would bypass CLI runs
    assert config["concurrency"]["pools"]["default_limit"] == CONVERSION.max_concurrent == 2


def test_pool_limit_applied_from_the_resource_and_oversized_budget_refused():
    with dg.instance_for_test() as instance:
        assert pool_limit(instance) is None
        assert apply_pool_limit(instance, CONVERSION) == 2 and pool_limit(instance) == 2
        with pytest.raises(BudgetError, match="this machine has"):
            apply_pool_limit(instance, ConversionBudgetResource(memory_mb=1_000_000, max_concurrent=2))
        assert pool_limit(instance) == 2  # a refused configuration changes nothing


@pytest.mark.parametrize("location", LOCATIONS)
def test_every_pool_is_declared_once_by_its_location(location):
    module = importlib.import_module(f"{location}.definitions")
    graph = module.defs.resolve_asset_graph()
    used = {a.op.pool for a in graph.assets_defs if a.is_executable} - {None}
    assert used == set(module.POOLS), "every pool an asset uses, and only those, is in the location's POOLS"


def test_make_instance_sets_every_pool_and_checks_their_sum(monkeypatch):
    pools = location_pools(REPO / "workspace.yaml")
    assert {POOL, "probe_rows", "tabular", "pod_usage"} <= set(pools)
    with dg.instance_for_test() as instance:
        limits = apply_pools(instance, pools)
        assert limits == {name: b.max_concurrent for name, b in pools.items()}
        need = sum(b.memory_mb * b.max_concurrent for b in pools.values())
        # One MB short of the pools plus the measured Dagster stack: refused, nothing changed.
        monkeypatch.setattr("memsafe.budget.machine_memory_mb", lambda: need + DAGSTER_STACK_MB - 1)
        bigger = {name: b.model_copy(update={"max_concurrent": 3}) for name, b in pools.items()}
        with pytest.raises(BudgetError, match="Dagster's own processes"):
            apply_pools(instance, bigger)
        assert pool_limit(instance) == CONVERSION.max_concurrent
        # A shared instance keeps the operator's limit and sets only the unset ones.
        instance.event_log_storage.set_concurrency_slots(POOL, 6)
        assert apply_pools(instance, bigger, single_machine=False)[POOL] == 6


def test_workspace_loads_every_location_with_the_dagster_cli(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster_home" / "dagster.yaml").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for location in LOCATIONS:
        assert f"Validation successful for code location {location}" in out.stdout + out.stderr
