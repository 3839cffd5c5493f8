"""Locked, atomic, idempotent outputs: the one way every writer publishes a file or a folder.

:func:`atomic_output` is the writer's whole protocol:

1. take the target's lock (``.<name>.lock`` beside the target, ``fcntl.flock``), so two writers
   of the same target (a sensor run and a backfill, say) take turns;
2. under the lock, delete the leftovers a killed writer of *this* target left
   (``.<name>.<12 hex>.tmp`` and ``.<name>.<12 hex>.old.tmp``), and nothing else: other targets in
   the same folder (another month's file, a sibling split) may be mid-write by other runs;
3. hand out a hidden temporary path beside the target (a file path to create, or an empty
   folder), on the same filesystem;
4. on success rename it over the target (``os.replace``: atomic on POSIX; a folder is swapped by
   two renames, old aside then new in); on an exception delete it, leaving the previous output.

Readers glob ``*.parquet`` (or list a published folder); temporary names start with ``.`` and end
in ``.tmp``, so a reader never sees a half-written output. The lock file is removed when the lock
is released, so a published folder holds only its outputs.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
LOCK_SUFFIX = ".lock"


def temp_name(final: Path, tag: str | None = None) -> Path:
    """A unique hidden temporary path beside ``final`` (same filesystem, so rename is atomic)."""
    return final.with_name(f".{final.name}.{tag or uuid.uuid4().hex[:12]}{TMP_SUFFIX}")


def _leftover_pattern(final: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(final.name)}\.[0-9a-f]{{12}}(\.old)?{re.escape(TMP_SUFFIX)}")


def remove_own_leftovers(final: Path) -> int:
    """Delete the temporary files/folders a killed writer of ``final`` left beside it; return how many.

    Only names made by :func:`temp_name` for ``final`` match; call it while holding
    :func:`target_lock` on ``final`` (:func:`atomic_output` does).
    """
    parent = final.parent
    if not parent.is_dir():
        return 0
    pattern = _leftover_pattern(final)
    removed = 0
    for entry in parent.iterdir():
        if pattern.fullmatch(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d leftover temporary output(s) of %s", removed, final)
    return removed


def remove_stale_temps(folder: Path) -> int:
    """Delete every hidden temporary *file* in ``folder``; return how many.

    Only safe when ``folder`` is one target's own folder and :func:`partition_lock` on it is held
    (the year-partition layout of iso_energy). Writers of a folder several targets share must use
    :func:`atomic_output`, which removes only its own target's leftovers.
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
def target_lock(final: Path) -> Iterator[None]:
    """Hold the exclusive lock of one output target: ``.<name>.lock`` beside it (``fcntl.flock``).

    Writers of other targets are not affected. The kernel releases the lock if the holder dies, so
    a killed writer never blocks the next. The holder unlinks the lock file before releasing it; a
    waiter that then wins the lock on the unlinked file sees the path gone (or a new file) and
    retries, so two writers never both hold the lock.
    """
    import fcntl

    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.with_name(f".{final.name}{LOCK_SUFFIX}")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # releases the flock


@contextmanager
def partition_lock(folder: Path) -> Iterator[None]:
    """:func:`target_lock` on a partition folder (``.<folder name>.lock`` beside the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    with target_lock(folder):
        yield


@dataclass(frozen=True)
class Staged:
    """What :func:`atomic_output` hands the writer.

    Attributes:
        path: the temporary file path to create (file target) or the empty temporary folder to
            fill (folder target); renamed over the target on success.
        stale_removed: leftovers of earlier killed writers of this target removed under the lock.
    """

    path: Path
    stale_removed: int


def _publish_dir(staging: Path, final: Path, tag: str) -> None:
    old = final.with_name(f".{final.name}.{tag}.old{TMP_SUFFIX}")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:  # the target was a file (an output layout that became a folder)
        old.unlink(missing_ok=True)


@contextmanager
def atomic_output(final: Path, *, folder: bool = False) -> Iterator[Staged]:
    """Write ``final`` (a file, or a folder with ``folder=True``) atomically under its lock.

    Yields a :class:`Staged`: ``path`` is a temporary file path (not created) or an empty
    temporary folder. On normal exit it replaces ``final``; on an exception it is deleted and
    ``final`` (if it existed) is untouched. The lock is held from before the leftover cleanup to
    after the rename.

    Raises:
        FileNotFoundError: a file target whose writer produced no file.
    """
    with target_lock(final):
        removed = remove_own_leftovers(final)
        tag = uuid.uuid4().hex[:12]
        tmp = temp_name(final, tag)
        if folder:
            tmp.mkdir()
        try:
            yield Staged(tmp, removed)
            if folder:
                _publish_dir(tmp, final, tag)
            elif not tmp.exists():
                raise FileNotFoundError(errno.ENOENT, "writer produced no file", str(tmp))
            else:
                os.replace(tmp, final)
        finally:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """:func:`atomic_output` for a file target, yielding only the temporary path."""
    with atomic_output(final) as staged:
        yield staged.path


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """:func:`atomic_output` for a folder target, yielding only the empty temporary folder."""
    with atomic_output(final, folder=True) as staged:
        yield staged.path
