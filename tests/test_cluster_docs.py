"""docs/beyond_one_machine.md shows the configuration the tests run, not a copy that can drift."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

DOC = REPO / "docs" / "beyond_one_machine.md"


def yaml_blocks() -> list[dict]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)]


def test_the_documented_postgres_storage_is_the_one_the_instance_tests_load():
    used = yaml.safe_load((REPO / "docs" / "cluster" / "storage-postgres.yaml").read_text())
    assert used in yaml_blocks()
    assert used["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_the_documented_run_monitoring_is_the_instance_s():
    instance = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text())
    assert {"run_monitoring": instance["run_monitoring"]} in yaml_blocks()
