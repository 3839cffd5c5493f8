"""Which operating years each raw file holds, cached per file version.

A conversion of year Y must read only the files that can hold Y, and the new-file sensor must
know which (dataset, year) partitions a changed file affects. Exports do not reliably say
their range in their names (PJM Data Miner names are user-chosen; CAISO OASIS files are sorted
by price component, not time), so each file is scanned once with DuckDB through its operator's
own normalising SQL (years and row counts), and the result is cached under
``<data root>/state/file_index/<iso>/<dataset>.json`` keyed on (size, mtime_ns). A changed file
is rescanned; an unchanged one costs one ``stat``.

Index writes are atomic; two conversions refreshing at once compute the same entries, so
whichever write lands last is complete.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from iso_energy.isos.base import IsoConverter
from memsafe.atomic import atomic_path


@dataclass(frozen=True)
class IndexedFile:
    path: Path
    size: int
    mtime_ns: int
    rows: int
    years: dict[str, int]  # operating year -> current rows of that year


def index_path(root: Path, iso: str, dataset: str) -> Path:
    return root / "state" / "file_index" / iso / f"{dataset}.json"


def _load(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        return {}  # a corrupt cache is rebuilt, never trusted


def _signature(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def cached_years(root: Path, iso: str, dataset: str) -> dict[Path, set[int]]:
    """The operating years each indexed file held when it was last scanned (no file is read)."""
    return {Path(k): {int(y) for y in v["years"]} for k, v in _load(index_path(root, iso, dataset)).items()}


def stale_files(root: Path, iso: str, dataset: str, files: Iterable[Path]) -> list[Path]:
    """Files whose cached entry is missing or older than the file (no file is read)."""
    cached = _load(index_path(root, iso, dataset))
    out = []
    for f in files:
        entry = cached.get(str(f))
        if entry is None or (entry["size"], entry["mtime_ns"]) != _signature(f):
            out.append(f)
    return out


def refresh(root: Path, converter: IsoConverter, dataset: str, files: Sequence[Path],
            con: duckdb.DuckDBPyConnection, *, errors: dict[Path, Exception] | None = None,
            deadline: float | None = None) -> dict[Path, IndexedFile]:
    """Return the index entry of every file in ``files``, scanning only stale ones.

    For the new-file sensor, which must carry on past a bad file and finish within its tick:
    with ``errors`` given, a stale file that cannot be read is recorded there (and left out of
    the result) instead of raising; with ``deadline`` (a ``time.monotonic()`` value), stale
    files not reached by then are left out of the result, unscanned, for a later call.

    Raises:
        RawFileError: a stale file is not the operator's format (it is not cached); only
            when ``errors`` is None.
    """
    ipath = index_path(root, converter.iso_id, dataset)
    cached = _load(ipath)
    changed = False
    left_out: set[Path] = set()
    for f in files:
        size, mtime = _signature(f)
        entry = cached.get(str(f))
        if entry is None or (entry["size"], entry["mtime_ns"]) != (size, mtime):
            if deadline is not None and time.monotonic() > deadline:
                left_out.add(f)
                continue
            try:
                counts = converter.file_year_counts(con, f, dataset)
            except (ValueError, OSError, duckdb.Error) as exc:  # RawFileError is a ValueError
                if errors is None:
                    raise
                errors[f] = exc
                if cached.pop(str(f), None) is not None:
                    changed = True
                left_out.add(f)
                continue
            cached[str(f)] = {"size": size, "mtime_ns": mtime, **counts}
            changed = True
    # Forget files that no longer exist, so the index does not grow without bound.
    live = {str(f) for f in files}
    folder = str(root / "raw" / converter.iso_id / dataset)
    for key in [k for k in cached if k.startswith(folder) and k not in live]:
        del cached[key]
        changed = True
    if changed:
        with atomic_path(ipath) as tmp:
            tmp.write_text(json.dumps(cached, indent=0, sort_keys=True))
    return {
        f: IndexedFile(path=f, size=cached[str(f)]["size"], mtime_ns=cached[str(f)]["mtime_ns"],
                       rows=cached[str(f)]["rows"], years=cached[str(f)]["years"])
        for f in files if f not in left_out
    }


def files_for_year(entries: dict[Path, IndexedFile], year: int) -> list[IndexedFile]:
    """The indexed files holding at least one row of operating ``year``, in path order."""
    return sorted((e for e in entries.values() if e.years.get(str(year))), key=lambda e: e.path)
