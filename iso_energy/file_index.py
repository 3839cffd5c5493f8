"""Which operating years each raw file holds, cached per file version.

A conversion of year Y must read only the files that can hold Y, and the new-file sensor must
know which (dataset, year) partitions a changed file affects. Exports do not reliably say
their range in their names (PJM Data Miner names are user-chosen; CAISO OASIS files are sorted
by price component, not time), so each file is scanned once with DuckDB through its operator's
own normalising SQL (years and row counts), and the result is cached under
``<data root>/state/file_index/<iso>/<dataset>.json``, keyed on the file's path relative to the
data root and checked against its (size, mtime_ns). A changed file is rescanned; an unchanged
one costs one ``stat``. A conversion records the files it read as a by-product (it counts every
file's years while streaming it), so a pile seen for the first time is read once, not twice.

Index writes are atomic and merged under a lock (:func:`memsafe.atomic.partition_lock`), so two
conversions or a conversion and the sensor updating at once lose no entry.
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
from memsafe.atomic import atomic_path, partition_lock


@dataclass(frozen=True)
class IndexedFile:
    path: Path
    size: int
    mtime_ns: int
    rows: int
    years: dict[str, int]  # operating year -> current rows of that year


def index_path(root: Path, iso: str, dataset: str) -> Path:
    return root / "state" / "file_index" / iso / f"{dataset}.json"


def _key(root: Path, path: Path) -> str:
    """The index key of ``path``: relative to the data root (so the root can move)."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _load(root: Path, path: Path) -> dict[str, dict]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        return {}  # a corrupt cache is rebuilt, never trusted
    # Entries written with absolute paths (before keys were relative) are kept, re-keyed.
    return {_key(root, Path(k)) if os.path.isabs(k) else k: v for k, v in raw.items()}


def _signature(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def cached_years(root: Path, iso: str, dataset: str) -> dict[Path, set[int]]:
    """The operating years each indexed file held when it was last scanned (no file is read)."""
    return {root / k: {int(y) for y in v["years"]} for k, v in _load(root, index_path(root, iso, dataset)).items()}


def stale_files(root: Path, iso: str, dataset: str, files: Iterable[Path]) -> list[Path]:
    """Files whose cached entry is missing or older than the file (no file is read)."""
    cached = _load(root, index_path(root, iso, dataset))
    out = []
    for f in files:
        entry = cached.get(_key(root, f))
        if entry is None or (entry["size"], entry["mtime_ns"]) != _signature(f):
            out.append(f)
    return out


def lookup(root: Path, iso: str, dataset: str, files: Sequence[Path]) -> tuple[dict[Path, IndexedFile], list[Path]]:
    """Split ``files`` into indexed ones (entry up to date) and stale ones; no file is read."""
    cached = _load(root, index_path(root, iso, dataset))
    fresh: dict[Path, IndexedFile] = {}
    stale: list[Path] = []
    for f in files:
        size, mtime = _signature(f)
        entry = cached.get(_key(root, f))
        if entry is None or (entry["size"], entry["mtime_ns"]) != (size, mtime):
            stale.append(f)
        else:
            fresh[f] = IndexedFile(path=f, size=size, mtime_ns=mtime, rows=entry["rows"], years=entry["years"])
    return fresh, stale


def record(
    root: Path,
    iso: str,
    dataset: str,
    counts: dict[Path, dict],
    signatures: dict[Path, tuple[int, int]] | None = None,
    forget: Iterable[Path] = (),
    live_folder: Path | None = None,
    live: Iterable[Path] | None = None,
) -> None:
    """Merge entries into the index under a lock, so concurrent conversions lose none.

    ``counts``: per file ``{"rows": .., "years": {..}}`` (e.g. ``ConversionStats.file_counts``);
    ``signatures``: the (size, mtime_ns) each was read at (default: stat now); ``forget``:
    entries to drop; with ``live_folder`` and ``live``, entries under the folder that are not
    in ``live`` (deleted files) are dropped too.
    """
    ipath = index_path(root, iso, dataset)
    with partition_lock(ipath.parent):
        cached = _load(root, ipath)
        for f, c in counts.items():
            size, mtime = (signatures or {}).get(f) or _signature(f)
            cached[_key(root, f)] = {
                "size": size,
                "mtime_ns": mtime,
                "rows": int(c["rows"]),
                "years": {str(y): int(n) for y, n in c["years"].items()},
            }
        for f in forget:
            cached.pop(_key(root, f), None)
        if live_folder is not None and live is not None:
            prefix = _key(root, live_folder) + "/"
            keep = {_key(root, f) for f in live}
            for k in [k for k in cached if k.startswith(prefix) and k not in keep]:
                del cached[k]
        with atomic_path(ipath) as tmp:
            tmp.write_text(json.dumps(cached, indent=0, sort_keys=True))


def refresh(
    root: Path,
    converter: IsoConverter,
    dataset: str,
    files: Sequence[Path],
    con: duckdb.DuckDBPyConnection,
    *,
    errors: dict[Path, Exception] | None = None,
    deadline: float | None = None,
) -> dict[Path, IndexedFile]:
    """Return the index entry of every file in ``files``, scanning only stale ones.

    For the new-file sensor, which must carry on past a bad file and finish within its tick:
    with ``errors`` given, a stale file that cannot be read is recorded there (and left out of
    the result) instead of raising; with ``deadline`` (a ``time.monotonic()`` value), stale
    files not reached by then are left out of the result, unscanned, for a later call.

    Raises:
        RawFileError: a stale file is not the operator's format (it is not cached); only
            when ``errors`` is None.
    """
    fresh, stale = lookup(root, converter.iso_id, dataset, files)
    scanned: dict[Path, dict] = {}
    sigs: dict[Path, tuple[int, int]] = {}
    failed: list[Path] = []
    for f in stale:
        if deadline is not None and time.monotonic() > deadline:
            continue
        sigs[f] = _signature(f)
        try:
            scanned[f] = converter.file_year_counts(con, f, dataset)
        except (ValueError, OSError, duckdb.Error) as exc:  # RawFileError is a ValueError
            if errors is None:
                raise
            errors[f] = exc
            failed.append(f)
    # Forget files that no longer exist, so the index does not grow without bound.
    record(
        root,
        converter.iso_id,
        dataset,
        scanned,
        sigs,
        forget=failed,
        live_folder=root / "raw" / converter.iso_id / dataset,
        live=files,
    )
    out = dict(fresh)
    for f, c in scanned.items():
        out[f] = IndexedFile(path=f, size=sigs[f][0], mtime_ns=sigs[f][1], rows=c["rows"], years=c["years"])
    return {f: out[f] for f in files if f in out}


def files_for_year(entries: dict[Path, IndexedFile], year: int) -> list[IndexedFile]:
    """The indexed files holding at least one row of operating ``year``, in path order."""
    return sorted((e for e in entries.values() if e.years.get(str(year))), key=lambda e: e.path)
