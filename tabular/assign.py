"""Row-to-split assignment rules: pure numpy, no I/O (used by :mod:`tabular.splits`).

- :func:`apportion`: largest-remainder split sizes, each within one row of ``n * ratio``.
- :func:`random_assign`: stateless seeded hash (SplitMix64) of the row position.
- :func:`stratified_blocks`: exact per-class quotas met in one streaming pass, by fixed blocks of
  ``BLOCK_ROWS`` rows, each drawing a multivariate hypergeometric sample of the remaining quotas.
- :class:`CodeStream`: serves the next ``n`` codes of a chunked stream to a reader with other batch
  sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

BLOCK_ROWS = 1 << 16


def apportion(n: int, ratios: list[float]) -> list[int]:
    """Split ``n`` into integer counts proportional to ``ratios`` (largest remainder).

    Every count is ``floor(n * r)`` or one more, so ``|count - n * r| < 1``; they sum to ``n``.
    Ties in the remainder go to the earlier split.
    """
    exact = [n * r for r in ratios]
    counts = [int(np.floor(e)) for e in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on uint64 (a stable, well-mixed hash; wraps modulo 2**64)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def random_assign(start: int, n: int, seed: int, ratios: list[float]) -> np.ndarray:
    """Split index of input rows ``start..start+n-1`` by seeded hash (int8)."""
    rows = np.arange(start, start + n, dtype=np.uint64)
    h = splitmix64(rows ^ splitmix64(np.array([seed], dtype=np.uint64)))
    u = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    bounds = np.cumsum(ratios)[:-1]
    return np.searchsorted(bounds, u, side="right").astype(np.int8)


class CodeStream:
    """Turns an iterator of arrays into one that serves any number of next items (``take(n)``)."""

    def __init__(self, chunks: Iterable[np.ndarray]) -> None:
        self._chunks = iter(chunks)
        self._buf: list[np.ndarray] = []
        self._have = 0

    def take(self, n: int) -> np.ndarray:
        while self._have < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise RuntimeError(f"code stream exhausted: wanted {n}, have {self._have}")
            self._buf.append(chunk)
            self._have += len(chunk)
        joined = np.concatenate(self._buf) if len(self._buf) != 1 else self._buf[0]
        out, rest = joined[:n], joined[n:]
        self._buf, self._have = ([rest] if len(rest) else []), len(rest)
        return out


def _blocks(arrays: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Re-chunk a stream of arrays into arrays of exactly ``size`` items (the last may be shorter)."""
    buf: list[np.ndarray] = []
    have = 0
    for arr in arrays:
        buf.append(arr)
        have += len(arr)
        if have >= size:
            joined = np.concatenate(buf)
            full = (have // size) * size
            yield from np.split(joined[:full], full // size)
            buf, have = [joined[full:]], have - full
    if have:
        yield np.concatenate(buf)


def stratified_blocks(class_codes: Iterable[np.ndarray], quotas: np.ndarray, seed: int) -> Iterator[np.ndarray]:
    """Split index (int8, -1 for dropped rows) of every input row, in blocks of ``BLOCK_ROWS``.

    ``class_codes`` yields each row's class index (-1: missing label) in input order, in any
    chunking; ``quotas[c, s]`` is how many rows of class ``c`` split ``s`` must receive (it is
    consumed). Raises ``RuntimeError`` if the rows do not match the quotas (input changed).
    """
    remaining = quotas.astype(np.int64).copy()
    for block_no, codes in enumerate(_blocks(class_codes, BLOCK_ROWS)):
        rng = np.random.default_rng([seed, block_no])
        out = np.full(len(codes), -1, dtype=np.int8)
        present = np.bincount(codes[codes >= 0], minlength=remaining.shape[0])
        for c in np.flatnonzero(present):
            m = int(present[c])
            draw = rng.multivariate_hypergeometric(remaining[c], m)
            remaining[c] -= draw
            picks = np.repeat(np.arange(remaining.shape[1], dtype=np.int8), draw)
            rng.shuffle(picks)
            out[codes == c] = picks
        yield out
    if remaining.any():
        raise RuntimeError(f"input changed between passes: unassigned quotas {remaining.tolist()}")
