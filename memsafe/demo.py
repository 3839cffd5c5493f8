"""The README's demo: ``make demo`` (or ``python -m memsafe.demo`` with DAGSTER_HOME set).

Runs every code location's demo through Dagster on generated sample data (or your own raw
files under ``$MEMSAFE_DATA_DIR/raw``) against the instance in ``$DAGSTER_HOME``, printing one
progress line per materialisation (``[n/N]``), then one summary table: partitions, rows,
bytes, seconds and peak memory.

The terminal gets only those lines: everything the runs themselves write (Dagster's event lines,
including the DEBUG "step worker started" lines a step process logs before any run config
applies, and the step processes' own output) goes to ``<data root>/demo.log``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import dagster as dg

from memsafe.settings import data_dir

# Each module exposes run(instance, root[, progress]) -> list of summary rows, and optionally
# planned(root) -> how many rows run() will report, and close() to stop what it started.
DEMOS = ["iso_energy.demo", "iso_energy.demo_ancillary", "probe_rows.demo", "tabular.demo", "pod_usage.demo"]
COLUMNS = ("location", "asset", "partition", "rows", "bytes", "seconds", "peak_rss_mb")


def format_table(rows: list[dict]) -> str:
    def cell(row: dict, col: str) -> str:
        v = row.get(col)
        if v is None:
            return "-"
        if col == "bytes":
            return f"{v / 1e6:.2f} MB"
        if isinstance(v, float):
            return f"{v:,.2f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    header = ["location", "asset", "partition", "rows", "size", "seconds", "peak RSS MB"]
    body = [[cell(r, c) for c in COLUMNS] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


@contextlib.contextmanager
def quiet_fds(log_path: Path) -> Iterator[TextIO]:
    """Point file descriptors 1 and 2 (inherited by every worker and step process) and
    ``sys.stderr`` at ``log_path``; yield a stream to the real terminal, which ``sys.stdout``
    also writes to meanwhile."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    term = open(os.dup(saved[0]), "w", buffering=1)  # noqa: SIM115 - closed below
    old_stdout, old_stderr = sys.stdout, sys.stderr
    with open(log_path, "w", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout, sys.stderr = term, log  # this process's loggers too, whatever sys.stderr was
        try:
            yield term
        finally:
            sys.stdout, sys.stderr = old_stdout, old_stderr
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            term.close()


def _modules() -> list:
    out = []
    for name in DEMOS:
        if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None or importlib.util.find_spec(name) is None:
            continue
        out.append(importlib.import_module(name))
    return out


def main() -> int:
    root = data_dir()
    log_path = root / "demo.log"
    rows: list[dict] = []
    t0 = time.perf_counter()
    modules = _modules()
    total = sum(m.planned(root) for m in modules if hasattr(m, "planned"))
    total_text = str(total) if all(hasattr(m, "planned") for m in modules) else "?"

    def progress(row: dict) -> None:
        rows.append(row)
        secs = "-" if row.get("seconds") is None else f"{row['seconds']:.2f} s"
        n_rows = "-" if row.get("rows") is None else f"{row['rows']:,} rows"
        status = f"FAILED: {row['error']}" if row.get("error") else f"{n_rows}, {secs}"
        print(
            f"[{len(rows):>2}/{total_text}] {time.perf_counter() - t0:6.1f}s  {row['location']} "
            f"{row['asset']} {row['partition'] or '-'}: {status}",
            flush=True,
        )

    with dg.DagsterInstance.get() as instance, quiet_fds(log_path):
        print(f"Dagster's own log lines go to {log_path}")
        for module in modules:
            try:
                if "progress" in inspect.signature(module.run).parameters:
                    module.run(instance, root, progress=progress)
                else:
                    for row in module.run(instance, root):
                        progress(row)
            finally:
                if hasattr(module, "close"):
                    module.close()
        home = getattr(instance, "root_directory", None) or "DAGSTER_HOME"
    print()
    print(format_table(rows))
    failed = [r for r in rows if r.get("error")]
    print(
        f"\n{len(rows)} materialisations in {time.perf_counter() - t0:.1f} s; data under {root}; "
        f"runs recorded in {home}; Dagster's log: {log_path}"
    )
    if failed:
        print(f"{len(failed)} run(s) failed: see {log_path}, or open the UI (make ui) for their logs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
