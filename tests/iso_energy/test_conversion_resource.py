"""The conversion budget at run time: it never rewrites the operator's pool limit, records its host,
fails a budget too big for the node inside the step (a STEP_FAILURE, so the slot is freed), and
holds a node-local admission place while converting."""

from __future__ import annotations

import json
import socket
from datetime import date

import dagster as dg
import pytest

from iso_energy.resources import POOL, pool_limit
from iso_energy.sample import generate
from memsafe.admission import read_windows
from memsafe.resources import STEP_HOSTS_TAG
from tests.iso_energy.helpers import materialize_lmp

KEY = "nyiso|2024"


@pytest.fixture
def sample(data_root):
    generate(data_root, date(2024, 1, 1), date(2024, 1, 3), nodes=2, isos=["nyiso"], datasets=["lmp_da"])
    return data_root


def test_the_operator_s_limit_is_kept_and_the_step_holds_a_place(sample, node_admission_dir):
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 6)  # the operator's figure
        before = len(read_windows(POOL, node_admission_dir)) if (node_admission_dir / f"{POOL}.log").exists() else 0
        result = materialize_lmp(sample, "lmp_da", KEY, instance=instance)
        assert result.success
        assert pool_limit(instance) == 6
        run = instance.get_run_by_id(result.run_id)
        hosts = json.loads(run.tags[STEP_HOSTS_TAG])
    assert list(hosts) == [socket.gethostname()] and hosts[socket.gethostname()]
    assert len(read_windows(POOL, node_admission_dir)) == before + 1


def test_a_budget_larger_than_the_node_fails_the_step_not_the_setup(sample):
    with dg.instance_for_test() as instance:
        result = materialize_lmp(sample, "lmp_da", KEY, instance=instance, memory_mb=50_000_000, raise_on_error=False)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert "this node has" in failure.step_failure_data.error.cause.message
