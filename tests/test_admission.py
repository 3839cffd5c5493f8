"""memsafe.admission: the node-local counting semaphore of lock files."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from memsafe.admission import admit, node_slots, read_windows
from tests.overlap import max_overlap

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("budget_mb", "limit", "machine_mb", "slots"),
    [
        (2048, 2, 24576, 2),  # the limit caps a large node
        (2048, 6, 8192, 4),  # a small node caps a large limit
        (4096, 2, 4096, 1),  # exactly one fits
        (8192, 2, 4096, 1),  # never zero: the machine-fit check refuses oversize budgets earlier
    ],
    ids=["limit", "memory", "one", "at-least-one"],
)
def test_node_slots(budget_mb, limit, machine_mb, slots):
    assert node_slots(budget_mb, limit, machine_mb=machine_mb) == slots


def test_node_slots_refuses_nonsense(monkeypatch):
    with pytest.raises(ValueError, match="positive"):
        node_slots(0, 2)
    monkeypatch.setenv("MEMSAFE_NODE_MEMORY_MB", "4 GB")
    with pytest.raises(ValueError, match="MEMSAFE_NODE_MEMORY_MB"):
        node_slots(2048, 2)


def test_node_memory_can_be_capped(monkeypatch):
    monkeypatch.setenv("MEMSAFE_NODE_MEMORY_MB", "4096")
    assert node_slots(2048, 6) == 2


def test_threads_never_exceed_the_slots_and_waiting_is_logged(tmp_path, caplog):
    def work():
        with admit("pool_a", 2, folder=tmp_path):
            time.sleep(0.2)

    threads = [threading.Thread(target=work) for _ in range(6)]
    with caplog.at_level(logging.INFO, logger="memsafe.admission"):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    messages = [r.getMessage() for r in caplog.records if r.name == "memsafe.admission"]
    windows = read_windows("pool_a", tmp_path)
    assert len(windows) == 6
    assert max_overlap(windows) == 2
    assert any("waiting for one of 2 places of pool 'pool_a'" in m for m in messages)
    assert any(m.startswith("admitted to place") for m in messages)


def test_pools_are_independent(tmp_path):
    with admit("one", 1, folder=tmp_path), admit("two", 1, folder=tmp_path, timeout=1):
        pass


def test_timeout_names_the_pool(tmp_path):
    with (
        admit("busy", 1, folder=tmp_path),
        pytest.raises(TimeoutError, match="pool 'busy'"),
        admit("busy", 1, folder=tmp_path, timeout=0.3),
    ):
        pass


HOLDER = """
import sys, time
from pathlib import Path
from memsafe.admission import admit
with admit("pool_k", 1, folder=Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def test_sigkilled_holder_frees_its_place_at_once(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TimeoutError), admit("pool_k", 1, folder=tmp_path, timeout=0.3):
            pass  # really held by the other process
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        t0 = time.monotonic()
        with admit("pool_k", 1, folder=tmp_path, timeout=2) as place:
            waited = time.monotonic() - t0
        assert place.index == 0
        assert waited < 0.5, f"the dead holder's place took {waited:.2f} s to free"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    # The dead holder never released: its acquire has no matching release, so only ours is a window.
    assert len(read_windows("pool_k", tmp_path)) == 1
