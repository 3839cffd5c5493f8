"""``make ui``: ``dagster dev`` that stops cleanly on Ctrl-C *and* SIGTERM.

``dagster dev`` shuts its webserver, daemon and code servers down on SIGINT. Started from a
non-interactive shell or a service manager, SIGINT arrives ignored (``&`` in a script sets it
to SIG_IGN, and Python keeps an inherited SIG_IGN), so SIGTERM, which it maps to the same
handler, did nothing and left every service running (../shared/notes/dagster-1.13.md, section 6).
This wrapper starts it in its own session with SIGINT restored, forwards SIGINT/SIGTERM/SIGHUP
to it as SIGINT, waits for its orderly shutdown, and kills what is left of its session after
``--grace`` seconds. Exit status: ``dagster dev``'s, or 128 + signal when it had to be killed.

    python -m memsafe.ui [--grace 60] [dagster dev options, e.g. -w workspace.yaml -p 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _restore_sigint() -> None:  # runs in the child before exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def session_alive(sid: int) -> bool:
    """True while any non-zombie process of session ``sid`` exists (Linux ``/proc``)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != sid:
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (OSError, ProcessLookupError):
            continue
        if not stat[stat.rindex(")") + 2 :].startswith("Z"):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    # No -h/--help of its own: -h is dagster dev's --host.
    p = argparse.ArgumentParser(prog="python -m memsafe.ui", description=__doc__.splitlines()[0], add_help=False)
    p.add_argument("--grace", type=float, default=60.0, help="seconds to wait for a clean shutdown")
    args, dev_args = p.parse_known_args(argv)
    dagster = Path(sys.executable).with_name("dagster")
    child = subprocess.Popen([str(dagster), "dev", *dev_args], start_new_session=True, preexec_fn=_restore_sigint)
    stopping: list[int] = []

    def forward(signum: int, _frame) -> None:
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while child.poll() is None and not stopping:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)
    deadline = time.monotonic() + args.grace
    while (child.poll() is None or session_alive(child.pid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if child.poll() is None or session_alive(child.pid):
        print(f"dagster dev did not stop within {args.grace:.0f} s: killing its processes", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return 128 + signal.SIGKILL
    return child.returncode if not stopping else 0


if __name__ == "__main__":
    raise SystemExit(main())
