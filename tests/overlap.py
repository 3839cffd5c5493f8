"""Overlap of time windows, for the tests that audit how many conversions ran at once."""

from __future__ import annotations


def max_overlap(windows: list[tuple[float, float]]) -> int:
    """Most windows open at one instant (a window ending at t closes before one starting at t)."""
    events = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows], key=lambda x: (x[0], x[1]))
    peak = live = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak
