"""Node-local memory admission: at most N heavy steps of one pool at once on this node.

Dagster's pools are cluster-wide, and its slot claim is not atomic: six processes claiming at the
same instant were admitted beyond a limit of 2 (issue 14: 3 conversions at once from six
``dagster asset materialize`` commands on one machine). Memory is a property of the node, so each
heavy step also takes a place here before it allocates anything: a counting semaphore made of
``N`` lock files in a node-local folder, one ``fcntl.flock`` each. The kernel drops a flock when
its holder exits however it exits (SIGKILL, OOM killer), so a dead step frees its place at once;
nothing has to be reaped.

``N`` is :func:`node_slots`: how many budgets fit this node's memory (a cgroup limit counts, so
in a pod it is the pod's memory), capped by the pool's configured limit. Every step of one pool
must be declared with the same budget and limit (they are, once per location), so every process
agrees on ``N``.

The folder is ``$MEMSAFE_ADMISSION_DIR``, default ``<system temp>/memsafe-<uid>/admission``: it
must be local to the node (a shared volume would turn the node's places into the cluster's). In
a Kubernetes pod ``/tmp`` is the pod's own, which is right: the pod's memory limit is its node.
Plain logic: no dagster import.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from memsafe.budget import machine_memory_mb

ADMISSION_DIR_ENV = "MEMSAFE_ADMISSION_DIR"
# Memory (MiB) this node gives to memsafe steps, when less than all of it (other services run there).
NODE_MEMORY_ENV = "MEMSAFE_NODE_MEMORY_MB"
# How often a waiting step retries (seconds): places are freed by exits and releases, which the
# waiter cannot be told about through flock without blocking on one particular file.
POLL_SECONDS = 0.05
# Waiting is logged when it starts, then at most this often (seconds).
LOG_EVERY_SECONDS = 30.0

logger = logging.getLogger(__name__)


def admission_dir() -> Path:
    """The node-local folder of the lock files: ``$MEMSAFE_ADMISSION_DIR`` or the system temp folder's."""
    value = os.environ.get(ADMISSION_DIR_ENV)
    if value:
        return Path(value).expanduser().resolve()
    return Path(tempfile.gettempdir()) / f"memsafe-{os.getuid()}" / "admission"


def node_slots(budget_mb: int, limit: int, *, machine_mb: int | None = None) -> int:
    """Places of one pool on this node: budgets of ``budget_mb`` MiB that fit, at most ``limit``.

    The node's memory is ``machine_mb``, else ``$MEMSAFE_NODE_MEMORY_MB``, else all of it
    (:func:`memsafe.budget.machine_memory_mb`, cgroup-aware). At least 1 (a budget larger than the
    node is refused earlier, by the machine-fit check).

    Raises:
        ValueError: ``budget_mb`` or ``limit`` not positive, or ``$MEMSAFE_NODE_MEMORY_MB`` not an integer.
    """
    if budget_mb <= 0 or limit <= 0:
        raise ValueError(f"budget ({budget_mb} MB) and limit ({limit}) must be positive")
    if machine_mb is None:
        value = os.environ.get(NODE_MEMORY_ENV)
        try:
            machine_mb = int(value) if value else machine_memory_mb()
        except ValueError:
            raise ValueError(f"${NODE_MEMORY_ENV} must be a whole number of MiB, got {value!r}") from None
    return max(1, min(limit, machine_mb // budget_mb))


@dataclass(frozen=True)
class Place:
    """A held place: the pool, its slot index (0..slots-1), slots in all and seconds waited."""

    pool: str
    index: int
    slots: int
    waited_seconds: float


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "?"
    except OSError:
        return "?"


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or ``None`` if another holder has it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


def _try_any(paths: list[Path]) -> tuple[int, int] | None:
    """``(index, fd)`` of the first free place among ``paths``, now held; ``None`` if all are held."""
    for index, path in enumerate(paths):
        fd = _try_lock(path)
        if fd is not None:
            return index, fd
    return None


def _record(folder: Path, pool: str, event: str, index: int) -> None:
    """Append one line to ``<pool>.log`` (small O_APPEND writes do not interleave)."""
    line = f"{time.time():.6f} {event} {pool} {index} {socket.gethostname()} {os.getpid()}\n"
    fd = os.open(folder / f"{pool}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@contextlib.contextmanager
def admit(
    pool: str,
    slots: int,
    *,
    folder: Path | None = None,
    timeout: float | None = None,
) -> Iterator[Place]:
    """Hold one of ``slots`` places of ``pool`` on this node for the ``with`` block.

    Waits (polling every :data:`POLL_SECONDS`) while all places are held, logging who holds them
    (INFO on this module's logger; a Dagster step sees it through
    :func:`memsafe.resources.step_logging`).
    Each acquire and release is appended to ``<folder>/<pool>.log`` as
    ``<epoch seconds> acquire|release <pool> <index> <host> <pid>``, for audits.
    The place is released when the block ends, and by the kernel if the process dies.

    Raises:
        ValueError: ``slots`` not positive or ``pool`` not a plain name.
        TimeoutError: ``timeout`` seconds passed without a free place.
    """
    if slots <= 0:
        raise ValueError(f"slots must be positive, got {slots}")
    if not pool or "/" in pool or pool.startswith("."):
        raise ValueError(f"pool must be a plain name, got {pool!r}")
    folder = folder or admission_dir()
    pool_dir = folder / pool
    pool_dir.mkdir(parents=True, exist_ok=True)
    paths = [pool_dir / f"slot-{i}.lock" for i in range(slots)]
    started = time.monotonic()
    next_log = started
    waited_logged = False
    while (held := _try_any(paths)) is None:
        now = time.monotonic()
        if timeout is not None and now - started > timeout:
            raise TimeoutError(f"no free place of pool '{pool}' on this node after {timeout:.1f} s")
        if now >= next_log:
            holders = ", ".join(_holder(p) for p in paths)
            logger.info(f"waiting for one of {slots} places of pool '{pool}' on this node (held by {holders})")
            next_log = now + LOG_EVERY_SECONDS
            waited_logged = True
        time.sleep(POLL_SECONDS)
    index, fd = held
    waited = time.monotonic() - started
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.time():.3f}".encode(), 0)
        _record(folder, pool, "acquire", index)
        if waited_logged:
            logger.info(f"admitted to place {index + 1} of {slots} of pool '{pool}' on this node after {waited:.1f} s")
        yield Place(pool, index, slots, waited)
    finally:
        with contextlib.suppress(OSError):
            _record(folder, pool, "release", index)
            os.ftruncate(fd, 0)
        os.close(fd)  # releases the flock


def read_windows(pool: str, folder: Path | None = None) -> list[tuple[float, float]]:
    """The (acquire, release) epoch-second windows recorded for ``pool``, one per released place.

    A place whose holder died has no release line and is left out.
    """
    path = (folder or admission_dir()) / f"{pool}.log"
    open_at: dict[tuple[str, str, str], float] = {}
    windows = []
    for line in path.read_text().splitlines():
        ts, event, _pool, index, host, pid = line.split()
        key = (index, host, pid)
        if event == "acquire":
            open_at[key] = float(ts)
        elif key in open_at:
            windows.append((open_at.pop(key), float(ts)))
    return windows
