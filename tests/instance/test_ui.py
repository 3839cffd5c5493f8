"""UI smoke test: the real webserver's pages in headless Chromium (Debian's ``chromium``).

Loads the global asset graph and the partitions page of ``lmp_da`` as a user's browser would,
checks the assets and their operator x year partitions are rendered, and keeps screenshots
under ``test-artifacts/instance/``. Runs after the backfill test when the whole module set runs,
so the partitions page then also shows the backfilled partitions as materialised.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from iso_energy.isos import ISOS
from tests.instance.dagster_procs import ARTIFACTS, kill_session

pytestmark = pytest.mark.instance

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
]


def chromium(url: str, *args: str, budget_ms: int = 20_000, timeout: float = 120) -> str:
    """Run headless Chromium on ``url`` in its own session (killed as a group); return stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *args, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out = ""
        finally:
            assert not kill_session(proc, grace=5)
    return out


def visible_text(dom: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text)


def page_text(url: str, must: list[str]) -> str:
    """The rendered page's text; retried with more virtual time if the SPA had not rendered yet."""
    text = ""
    for budget in (20_000, 60_000):
        text = visible_text(chromium(url, "--dump-dom", budget_ms=budget))
        if all(m in text for m in must):
            break
    return text


@pytest.fixture(scope="module")
def ui(dagster_dev):
    if CHROMIUM is None:
        if os.environ.get("MEMSAFE_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required (MEMSAFE_REQUIRE_CHROMIUM is set) but not installed")
        pytest.skip("headless Chromium not installed (`apt-get install chromium`; .ci/run installs it)")
    # What clicking "Skip" on the first-visit community dialog does, so screenshots show the page.
    dagster_dev.graphql("mutation { setNuxSeen }")
    return dagster_dev


def test_asset_graph_and_partitions_render(ui):
    from iso_energy.definitions import defs

    n_partitions = len(defs.get_assets_def("lmp_da").partitions_def.get_partition_keys())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # The iso_energy group's own lineage page: the global graph collapses groups once the three
    # locations hold several groups each.
    graph_url = f"{ui.url}/locations/iso_energy/asset-groups/iso_energy"
    graph = page_text(graph_url, ["lmp_da", "lmp_rt", "partitions"])
    for asset in ("lmp_da", "lmp_rt"):
        assert asset in graph, graph[:2000]
    assert f"{n_partitions} partitions" in graph, graph[:2000]
    chromium(graph_url, f"--screenshot={ARTIFACTS / 'ui-asset-graph.png'}")

    with dg.DagsterInstance.from_config(str(ui.home)) as instance:
        materialized = len(instance.get_materialized_partitions(dg.AssetKey("lmp_da")))
    page_url = f"{ui.url}/assets/lmp_da?view=partitions"
    page = page_text(page_url, ["Partitions", f"Materialized ({materialized})", "2024"])
    assert f"{n_partitions} Partitions" in page, page[:2000]
    assert f"Materialized ({materialized})" in page, page[:2000]
    for iso in ISOS:
        assert iso in page, page[:2000]
    for year in ("2023", "2024"):
        assert year in page, page[:2000]
    shot = ARTIFACTS / "ui-lmp_da-partitions.png"
    chromium(page_url, f"--screenshot={shot}")
    assert Path(shot).stat().st_size > 10_000
