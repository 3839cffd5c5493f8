"""Every shell command in README.md runs as written on the demo's sample data.

Each ```bash block is run by bash in a scratch folder laid out like the repository (``.venv``,
``bench`` and ``workspace.yaml`` linked, ``dagster_home/dagster.yaml`` copied, ``../shared`` pointing at
the shared samples), with the demo's sample files under ``data/``. Only the sizes of the
benchmark-sized generators are scaled down (listed in SCALE); blocks that start the UI or the
whole demo/test suite are listed in NOT_RUN, so a new README block fails here until it is run
or consciously left out. The ``.venv/bin/...`` commands of the README's tables run too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iso_energy.demo import SAMPLE_END, SAMPLE_START
from iso_energy.sample import generate
from tests.conftest import REAL, REPO

README = REPO / "README.md"
# Blocks not run here, by a phrase they contain: they start the UI or run the demo/test suite.
NOT_RUN = {
    "make demo   #": "the demo and the whole test suite (make demo, make test)",
    "make ui": "starts the UI (tests/instance/test_ui_stop.py starts it)",
}
# Benchmark sizes -> test sizes (the commands are otherwise as written).
SCALE = {
    "--measurements 2000000": "--measurements 20000",
    "--rows 3000000": "--rows 3000",
    "--cols 200": "--cols 12",
    "--files 40": "--files 3",
    "--rows 10000000": "--rows 20000",
    "--files 10": "--files 2",
    "--memory-mb 1024": "--memory-mb 512",
}


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)


def table_commands() -> list[str]:
    return [c for c in re.findall(r"\| `(\.venv/bin/[^`]+)` \|", README.read_text())]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("readme")
    work = top / "repo"
    (work / "dagster_home").mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
    (work / ".venv").symlink_to(REPO / ".venv")
    (work / "workspace.yaml").symlink_to(REPO / "workspace.yaml")
    (work / "bench").symlink_to(REPO / "bench")  # the baseline scripts the README runs
    # ../shared/data/real/... as in the README ($MEMSAFE_SHARED_DIR where the checkout has no ../shared).
    shared = Path(os.environ.get("MEMSAFE_SHARED_DIR", REAL.parent.parent))
    assert (shared / "data" / "real" / "probe").is_dir(), f"no real samples under {shared}"
    (top / "shared").symlink_to(shared)
    generate(work / "data", SAMPLE_START, SAMPLE_END, datasets=("lmp_da", "lmp_rt", "as"))
    return work


def run(script: str, cwd: Path) -> subprocess.CompletedProcess:
    for big, small in SCALE.items():
        script = script.replace(big, small)
    script = script.replace("/tmp/", f"{cwd}/tmp/")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DAGSTER_HOME": str(cwd / "dagster_home"),
        "MEMSAFE_DATA_DIR": str(cwd / "data"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


def test_every_block_is_run_or_listed():
    for block in bash_blocks():
        assert any(p in block for p in NOT_RUN) or block.lstrip().startswith((".venv/bin/", "export ")), block


def test_readme_commands_run_as_written(scratch: Path):
    blocks = [b for b in bash_blocks() if not any(p in b for p in NOT_RUN)]
    assert len(blocks) >= 4
    # The catalog queries need the catalog: build it over the sample, as make demo does.
    setup = (
        ".venv/bin/dagster asset materialize -m iso_energy.definitions --select lmp_da --partition 'caiso|2024'\n"
        ".venv/bin/dagster asset materialize -m iso_energy.definitions --select price_catalog\n"
    )
    out = run(setup, scratch)
    assert out.returncode == 0, out.stderr[-3000:]
    for script in [*table_commands(), *blocks]:
        out = run(script, scratch)
        assert out.returncode == 0, f"{script}\n--- exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    # The backfill named only partitions the sample holds; its runs wait in the queue for the daemon.
    queued = run(
        '.venv/bin/python -c "import dagster as dg\n'
        "with dg.DagsterInstance.get() as i:\n"
        "    runs = i.get_runs()\n"
        "    print(sorted(r.tags['dagster/partition'] for r in runs if 'dagster/backfill' in r.tags))\"",
        scratch,
    )
    assert queued.stdout.strip() == str(sorted(["caiso|2023", "caiso|2024", "pjm|2023", "pjm|2024"])), queued.stderr
