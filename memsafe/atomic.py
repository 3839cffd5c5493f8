"""Atomic, idempotent outputs: write to a hidden temporary name, then rename.

Readers glob ``*.parquet``; temporary files start with ``.`` and end in ``.tmp``, so a reader
never sees a half-written file, and a killed writer leaves the previous output in place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"


def temp_name(final: Path) -> Path:
    """A unique hidden temporary path beside ``final`` (same filesystem, so rename is atomic)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}")


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files a killed writer left in ``folder``; return how many.

    Call it only while holding :func:`partition_lock` on ``folder``: otherwise it would delete
    the temporary file of a writer still at work.
    """
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it over ``final``.

    On an exception the temporary file is removed and ``final`` (if it existed) is untouched.
    The rename is ``os.replace``: atomic on POSIX within one filesystem.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writer produced no file at {tmp}")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def partition_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on one output folder (``.<name>.lock`` beside it, ``fcntl.flock``).

    Two writers of the same partition (a sensor run and a backfill, say) then take turns instead
    of deleting each other's temporary files; writers of other partitions are not affected. The
    lock is released by the kernel if the holder dies, so a killed writer never blocks the next.
    """
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    # Beside the folder, not in it: the partition folder holds only its published file.
    with open(folder.parent / f".{folder.name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
