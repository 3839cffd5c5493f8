"""``make demo``'s terminal gets only its own lines: what runs and step processes write goes to the
log file (file descriptors 1 and 2 are redirected, so child processes inherit the log)."""

from __future__ import annotations

import subprocess
import sys

from memsafe.demo import format_table, quiet_fds


def test_child_output_goes_to_the_log_and_progress_to_the_terminal(tmp_path, capfd):
    log = tmp_path / "demo.log"
    with quiet_fds(log):
        print("[ 1/2] progress line")
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; print('child stdout'); "
                "print('2026 - dagster - DEBUG - STEP_WORKER_STARTED', file=sys.stderr)",
            ],
            check=True,
        )
        print("stderr of the demo process", file=sys.stderr)
    print("after")
    out = capfd.readouterr()
    assert out.out == "[ 1/2] progress line\nafter\n" and out.err == ""
    text = log.read_text()
    assert "child stdout" in text and "STEP_WORKER_STARTED" in text and "stderr of the demo process" in text


def test_table_has_one_line_per_row():
    rows = [
        {
            "location": "iso_energy",
            "asset": "lmp_da",
            "partition": "pjm|2024",
            "rows": 5685,
            "bytes": 150_000,
            "seconds": 0.42,
            "peak_rss_mb": 259.0,
        }
    ]
    lines = format_table(rows).splitlines()
    assert len(lines) == 3 and "pjm|2024" in lines[2] and "5,685" in lines[2] and "0.15 MB" in lines[2]
