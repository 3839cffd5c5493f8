"""Which (dataset, operator, year) partitions new or changed raw files affect: the sensor's logic.

Plain logic (no Dagster). The state is the signature ``(size, mtime_ns)`` of every raw file
seen so far, kept by the caller (the sensor's cursor). One call:

1. lists ``<root>/raw/<iso>/<dataset>/`` for every registered operator and dataset and
   ``stat``s each file: an unchanged file costs exactly that, so a folder of thousands of files
   stays cheap;
2. scans only new or changed files, through :func:`iso_energy.file_index.refresh` (the same
   per-file cache the conversions use, so they will not scan them again), for the operating
   years they hold;
3. maps each such file to the partitions it can affect: the years it holds now, plus the years
   it held before if it changed (a corrected file that no longer holds a year must still
   reconvert that year);
4. drops the partitions whose output is up to date (:mod:`iso_energy.freshness`: the last
   conversion read exactly the file versions that hold the year now, and its output is still
   there), so a first call with an empty state after a full conversion requests nothing.

A file that cannot be read is reported in ``errors`` and remembered with its signature, so it
is reported once and rescanned only when it changes; the others carry on. Scanning stops at
``deadline``; files not reached are left for the next call (not remembered). Deleted files are
forgotten; they trigger nothing (a year whose last file was deleted keeps its last output).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iso_energy import file_index, freshness
from iso_energy.convert import partition_path
from iso_energy.isos.base import IsoConverter
from memsafe.budget import Budget

Signature = tuple[int, int]  # (size, mtime_ns)


@dataclass
class WatchResult:
    """``partitions``: (dataset, iso, year) -> the raw files (relative to ``raw/``) behind it;
    ``seen``: the new state; ``errors``: relative path -> problem; ``deferred``: files left for
    the next call; ``up_to_date``: affected partitions left out because their output is current."""

    partitions: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)
    seen: dict[str, Signature] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    deferred: int = 0
    files: int = 0
    scanned: int = 0
    up_to_date: int = 0

    def run_key(self, partition: tuple[str, str, int]) -> str:
        """Stable for one set of file versions: a retried tick does not launch twice, a later
        change to the same partition does."""
        digest = hashlib.sha1(
            json.dumps([[f, *self.seen[f]] for f in sorted(self.partitions[partition])]).encode()
        ).hexdigest()[:16]
        dataset, iso, year = partition
        return f"{dataset}:{iso}|{year}:{digest}"


def encode_state(seen: Mapping[str, Signature]) -> str:
    """Compact cursor text (zlib + base64 of JSON): thousands of files fit in a few tens of KB."""
    raw = json.dumps({k: list(v) for k, v in sorted(seen.items())}, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 6)).decode()


def decode_state(cursor: str | None) -> dict[str, Signature]:
    """The state in a cursor; an empty or unreadable cursor is an empty state (all files new)."""
    if not cursor:
        return {}
    try:
        return {k: (int(v[0]), int(v[1])) for k, v in json.loads(zlib.decompress(base64.b64decode(cursor))).items()}
    except (ValueError, zlib.error, TypeError, IndexError):
        return {}


def watch(
    root: Path,
    isos: Mapping[str, IsoConverter],
    datasets: set[str],
    seen: Mapping[str, Signature],
    budget: Budget,
    deadline: float,
) -> WatchResult:
    """Compare the raw folders with ``seen``; see the module docstring.

    Args:
        root: the data root (``<root>/raw/<iso>/<dataset>/``).
        isos: operator id -> converter (the registry).
        datasets: the datasets to watch (those an asset converts).
        seen: relative path -> signature from the previous call.
        budget: memory/threads of the DuckDB connection that scans new files.
        deadline: ``time.monotonic()`` after which no further file is scanned.
    """
    raw = root / "raw"
    out = WatchResult()
    con = None
    try:
        for iso, conv in isos.items():
            for dataset in sorted(datasets & set(conv.datasets)):
                files = conv.raw_files(raw, dataset)
                out.files += len(files)
                sigs = {}
                for f in files:
                    try:
                        st = os.stat(f)
                    except OSError:  # removed between listing and stat
                        continue
                    sigs[f] = (st.st_size, st.st_mtime_ns)
                changed = [f for f, sig in sigs.items() if seen.get(_rel(f, raw)) != sig]
                for f, sig in sigs.items():
                    if f not in changed:
                        out.seen[_rel(f, raw)] = sig
                if not changed:
                    continue
                before = file_index.cached_years(root, iso, dataset)
                if con is None:
                    con = budget.connect()
                errors: dict[Path, Exception] = {}
                # Changed files, plus the indexed ones so the index keeps them: an unchanged file
                # the index lacks (e.g. one already reported unreadable) is not rescanned.
                wanted = set(changed)
                to_index = [f for f in sigs if f in wanted or f in before]
                entries = file_index.refresh(root, conv, dataset, to_index, con, errors=errors, deadline=deadline)
                affected: dict[int, list[str]] = {}
                for f in changed:
                    rel = _rel(f, raw)
                    if f in errors:
                        out.errors[rel] = str(errors[f])
                        out.seen[rel] = sigs[f]
                    elif f not in entries:
                        out.deferred += 1
                    else:
                        out.scanned += 1
                        out.seen[rel] = sigs[f]
                        years = {int(y) for y in entries[f].years} | before.get(f, set())
                        for year in sorted(years):
                            affected.setdefault(year, []).append(rel)
                for year, rels in affected.items():
                    if freshness.is_up_to_date(
                        root,
                        dataset,
                        iso,
                        year,
                        partition_path(root, dataset, iso, year),
                        file_index.files_for_year(entries, year),
                    ):
                        out.up_to_date += 1
                    else:
                        out.partitions[(dataset, iso, year)] = rels
    finally:
        if con is not None:
            con.close()
    return out


def _rel(path: Path, raw: Path) -> str:
    return path.relative_to(raw).as_posix()


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds
