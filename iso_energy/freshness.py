"""Is a converted partition up to date with its raw files? The sensor's "nothing to do" test.

Plain logic (no Dagster). Each conversion of a (dataset, operator, year) partition records, after
its output is published, which raw file versions it read and which output it wrote::

    <data root>/state/outputs/<dataset>/<iso>/<year>.json
    {"output": [size, mtime_ns], "inputs": {"<path under raw/>": [size, mtime_ns], ...}}

The partition is up to date when its output file still has the recorded signature and the raw
files that hold its year now (from :mod:`iso_energy.file_index`) are exactly the recorded ones,
unchanged. A new file holding the year, a changed file, a file that no longer holds the year, a
deleted or replaced output, or a missing record all make it stale, so the sensor asks for it. A
crash between publishing the output and writing the record leaves the old record: the partition
is converted once more, never skipped wrongly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from iso_energy.file_index import IndexedFile
from memsafe.atomic import atomic_path

Signature = list[int]  # [size, mtime_ns]


def record_path(root: Path, dataset: str, iso: str, year: int) -> Path:
    """``<root>/state/outputs/<dataset>/<iso>/<year>.json``."""
    return root / "state" / "outputs" / dataset / iso / f"{year}.json"


def _inputs(root: Path, files: Iterable[IndexedFile]) -> dict[str, Signature]:
    raw = root / "raw"
    return {Path(f.path).relative_to(raw).as_posix(): [f.size, f.mtime_ns] for f in files}


def _signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def record(root: Path, dataset: str, iso: str, year: int, output: Path, files: Iterable[IndexedFile]) -> None:
    """Remember that ``output`` was just written from ``files`` (index entries of the raw files read).

    Raises:
        FileNotFoundError: ``output`` does not exist.
    """
    out_sig = _signature(output)
    if out_sig is None:
        raise FileNotFoundError(f"cannot record the inputs of {output}: it does not exist")
    with atomic_path(record_path(root, dataset, iso, year)) as tmp:
        tmp.write_text(json.dumps({"output": out_sig, "inputs": _inputs(root, files)}, sort_keys=True))


def is_up_to_date(root: Path, dataset: str, iso: str, year: int, output: Path, files: Iterable[IndexedFile]) -> bool:
    """True when ``output`` and the raw files now holding ``year`` (``files``) are exactly those of
    the last recorded conversion; False for anything else, including an unreadable record."""
    try:
        rec = json.loads(record_path(root, dataset, iso, year).read_text())
        return rec["output"] == _signature(output) and rec["inputs"] == _inputs(root, files)
    except (OSError, ValueError, KeyError, TypeError):
        return False
