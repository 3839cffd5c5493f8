"""The README's demo: ``make demo`` (or ``python -m memsafe.demo`` with DAGSTER_HOME set).

Runs every code location's demo through Dagster on generated sample data (or your own raw
files under ``$MEMSAFE_DATA_DIR/raw``) against the instance in ``$DAGSTER_HOME``, then prints one
summary table: partitions, rows, bytes, seconds and peak memory.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time

import dagster as dg

from memsafe.settings import data_dir

# Each module exposes run(instance, root) -> list of summary rows.
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
    line = lambda cells: "  ".join(c.rjust(w) if i >= 3 else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


def main() -> int:
    root = data_dir()
    rows: list[dict] = []
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        for name in DEMOS:
            if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None or importlib.util.find_spec(name) is None:
                continue
            print(f"== {name}", flush=True)
            rows += importlib.import_module(name).run(instance, root)
    print()
    print(format_table(rows))
    failed = [r for r in rows if r.get("error")]
    print(f"\n{len(rows)} materialisations in {time.perf_counter() - t0:.1f} s; data under {root}; "
          f"runs recorded in {instance.root_directory if hasattr(instance, 'root_directory') else 'DAGSTER_HOME'}")
    if failed:
        print(f"{len(failed)} run(s) failed: open the UI (make ui) for their logs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
