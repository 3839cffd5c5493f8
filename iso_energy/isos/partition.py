"""One converted partition on disk: month files, their manifest, and what a re-conversion rewrites.

A partition (operator, dataset, operating year) is a folder of one parquet file per month plus a
manifest::

    year=2024/
        2024-01.parquet ... 2024-12.parquet   rows in time order within a file, files in month order
        _manifest.json                        per raw file: size, mtime_ns, rows per month;
                                              per month: rows in/out and duplicates dropped;
                                              the converter version that wrote it

A month is the UTC month of ``interval_start_utc``, with the UTC days of the neighbouring years
that belong to operating ``year`` folded into its first and last month (a CAISO operating day
31 December ends on 1 January UTC). Months are unions of UTC days, and rows collide only within
a UTC day (the key holds ``interval_start_utc``), so each month is deduplicated on its own and the
folder holds exactly the rows of a whole-year conversion.

Readers glob ``*.parquet`` (``_manifest.json`` and the hidden temporaries are not matched;
pyarrow skips names starting with ``_`` or ``.``), so the catalog's hive glob
``year=*/*.parquet`` still prunes on ``year``.

:func:`plan` compares the manifest with the raw files now holding the year: a new or changed
file is read whole; a removed or changed file makes the months it held affected; unchanged files
are read only for the affected months; every other month file is carried over by hard link. A
manifest written by another converter version (:func:`converter_version`) is ignored: full
rebuild. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MANIFEST = "_manifest.json"
# Bump when the engine's output changes for the same inputs and operator code (it is also in
# converter_version's digest, with the source of every converter module).
FORMAT_VERSION = 1
_EPOCH = dt.date(1970, 1, 1)


def month_file(year: int, month: int) -> str:
    """``<year>-<MM>.parquet``: the file of ``month`` (1..12) in a partition folder."""
    return f"{year}-{month:02d}.parquet"


def months_of_days(days: np.ndarray, year: int) -> np.ndarray:
    """Month (1..12, int8) of each UTC day (days since 1970-01-01) in partition ``year``: days
    before the year count in January, after it in December (edges of the operating year)."""
    ym = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month = ym - (year - 1970) * 12 + 1
    return np.clip(month, 1, 12).astype(np.int8)


@functools.lru_cache(maxsize=4096)
def month_of_day(day: int, year: int) -> int:
    """:func:`months_of_days` for one day (cached: pass 2 asks it for every spilled day of every
    month, 12 x 366 numpy calls a year otherwise)."""
    try:
        d = _EPOCH + dt.timedelta(days=day)
    except OverflowError:  # e.g. the null-time sentinel 2**31 - 1: far after (or before) the year
        return 12 if day > 0 else 1
    return min(12, max(1, (d.year - year) * 12 + d.month))


def parquet_glob(path: Path) -> str:
    """What DuckDB's ``read_parquet`` reads for an output: ``<folder>/*.parquet`` for a partition
    folder, the path itself for a single file."""
    return str(Path(path) / "*.parquet") if Path(path).is_dir() else str(path)


def month_files(path: Path) -> list[Path]:
    """The parquet files of an output in month order: a partition folder's month files, or
    ``[path]`` for a single file."""
    path = Path(path)
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


@functools.cache
def converter_version() -> str:
    """Digest of :data:`FORMAT_VERSION` and the source of every module under ``iso_energy/isos/``
    (engine, contract, operators): a manifest written by other code is not trusted."""
    h = hashlib.sha256(str(FORMAT_VERSION).encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class MonthResult:
    """One written month: rows spilled for it, rows written, duplicates dropped by kind."""

    rows_in: int
    rows_out: int
    exact_duplicates: int = 0
    conflicting_revisions: int = 0
    conflict_example: str | None = None


@dataclass
class Manifest:
    """What a partition folder holds (``_manifest.json``).

    ``files``: raw file key (path relative to the data root, else absolute) -> ``{"size",
    "mtime_ns", "months": {"MM": rows of that month spilled from the file}}`` for every file the
    partition was converted from (a file holding no row of the year has no months).
    ``months``: ``"MM"`` -> :class:`MonthResult` fields of the month file ``<year>-<MM>.parquet``.
    """

    version: str
    year: int
    files: dict[str, dict] = field(default_factory=dict)
    months: dict[str, dict] = field(default_factory=dict)

    def totals(self) -> MonthResult:
        """The partition's figures: sums over months; the first month's conflict example."""
        out = MonthResult(0, 0)
        for m in sorted(self.months):
            r = self.months[m]
            out.rows_in += r["rows_in"]
            out.rows_out += r["rows_out"]
            out.exact_duplicates += r["exact_duplicates"]
            out.conflicting_revisions += r["conflicting_revisions"]
            out.conflict_example = out.conflict_example or r["conflict_example"]
        return out

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(
            json.dumps({"version": self.version, "year": self.year, "files": self.files, "months": self.months})
        )


def load(folder: Path, year: int) -> Manifest | None:
    """The manifest of the partition ``folder``, or None when there is none, it is unreadable, it
    is another year's or another converter version's, or a month file it lists is missing (then
    the partition is rebuilt whole)."""
    try:
        raw = json.loads((folder / MANIFEST).read_text())
        m = Manifest(version=raw["version"], year=int(raw["year"]), files=raw["files"], months=raw["months"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if m.version != converter_version() or m.year != year:
        return None
    if not all((folder / month_file(year, int(k))).is_file() for k in m.months):
        return None
    return m


def file_key(path: Path, root: Path | None) -> str:
    """A raw file's manifest key: its path relative to ``root`` (the data root, so the root can
    move), else absolute."""
    if root is not None:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return str(Path(path).absolute())


@dataclass
class Plan:
    """What a conversion reads and rewrites.

    ``changed``: files to read whole (new, changed, or every file when ``old`` is None);
    ``unchanged``: file -> the months it contributed last time (read for the affected ones only);
    ``affected``: months held by changed or removed files before (the months changed files hold
    now are added once pass 1 has read them).
    """

    old: Manifest | None
    changed: list[Path]
    unchanged: dict[Path, set[int]]
    affected: set[int]


def plan(old: Manifest | None, files: Sequence[Path], keys: dict[Path, str]) -> Plan:
    """Compare ``old`` with ``files`` (the raw files that may hold the year now; ``keys``: their
    manifest keys) by (size, mtime_ns)."""
    if old is None:
        return Plan(None, list(files), {}, set())
    changed, unchanged = [], {}
    affected: set[int] = set()
    now = set()
    for f in files:
        k = keys[f]
        now.add(k)
        entry = old.files.get(k)
        st = os.stat(f)
        if entry is not None and (entry["size"], entry["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
            unchanged[f] = {int(m) for m in entry["months"]}
        else:
            changed.append(f)
            if entry is not None:
                affected |= {int(m) for m in entry["months"]}
    for k, entry in old.files.items():
        if k not in now:  # removed (or no longer holding the year)
            affected |= {int(m) for m in entry["months"]}
    return Plan(old, changed, unchanged, affected)


def carry(old_folder: Path, new_folder: Path, year: int, months: Iterable[int]) -> None:
    """Hard-link the month files ``months`` of ``old_folder`` into ``new_folder`` (a copy where
    the filesystem has no hard links): an unaffected month is not rewritten."""
    for m in months:
        src, dst = old_folder / month_file(year, m), new_folder / month_file(year, m)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def signature(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns
