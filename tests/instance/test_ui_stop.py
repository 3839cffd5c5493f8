"""``make ui`` (``python -m memsafe.ui``) stops every Dagster process on SIGTERM, even when started
the way scripts start it: in the background, with SIGINT ignored, where plain ``dagster dev``
ignores SIGTERM and leaves its webserver, daemon and code servers running."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest

from tests.instance.dagster_procs import REPO, DagsterDev, kill_session, make_home, service_env, session_pids, wait_for

pytestmark = pytest.mark.instance


def _ignore_sigint() -> None:  # what `cmd &` in a non-interactive shell does to the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_sigterm_stops_the_whole_ui(tmp_path):
    dev = DagsterDev(make_home(tmp_path / "home"), tmp_path / "data", tmp_path / "ui.log")
    log = open(dev.log_path, "wb")  # noqa: SIM115 - closed below
    dev.proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "memsafe.ui",
            "--grace",
            "90",
            "-w",
            str(REPO / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(dev.port),
        ],
        cwd=REPO,
        env=service_env(dev.home, dev.data),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        dev.wait_ready()
        [dev_proc] = psutil.Process(dev.proc.pid).children()  # dagster dev, in a session of its own
        assert len(session_pids(dev_proc.pid)) >= 3  # dagster dev, webserver, daemon, code servers
        dev.proc.send_signal(signal.SIGTERM)  # the wrapper alone, as a service manager would
        assert dev.proc.wait(timeout=150) == 0, dev.log_tail()
        wait_for(
            lambda: not session_pids(dev_proc.pid),
            30,
            "every process of dagster dev's session to exit",
            on_timeout=dev.log_tail,
        )
        assert "Shutting down Dagster services" in dev.log_path.read_text(errors="replace")
    finally:
        leftover = kill_session(dev.proc)
        log.close()
    assert not leftover
