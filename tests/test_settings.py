"""memsafe.settings: spill and catalog default to node-local paths, each overridable by one variable."""

from __future__ import annotations

from pathlib import Path

from memsafe.budget import Budget
from memsafe.resources import MemoryBudgetResource
from memsafe.settings import catalog_path, spill_dir


def test_spill_is_node_local_by_default_and_follows_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMSAFE_SPILL_DIR", raising=False)
    default = spill_dir()
    assert default.parts[:2] in {("/", "var"), ("/", "tmp")} and default.name == "spill"
    # Never under the (possibly shared) data root, whatever the resource is given.
    assert MemoryBudgetResource().budget(tmp_path / "data").spill_dir == str(default)
    monkeypatch.setenv("MEMSAFE_SPILL_DIR", str(tmp_path / "scratch"))
    assert Budget().spill_path() == tmp_path / "scratch"
    assert MemoryBudgetResource(spill_dir=str(tmp_path / "own")).budget().spill_dir == str(tmp_path / "own")


def test_catalog_follows_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMSAFE_CATALOG", raising=False)
    assert catalog_path(tmp_path) == tmp_path / "catalog.duckdb"
    monkeypatch.setenv("MEMSAFE_CATALOG", str(tmp_path / "node" / "c.duckdb"))
    assert catalog_path(Path("/shared/data")) == tmp_path / "node" / "c.duckdb"
