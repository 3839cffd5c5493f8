"""Reading DuckDB's error texts (plain logic shared by every converter)."""

from __future__ import annotations


def engine_line(text: str) -> int | None:
    """The CSV line DuckDB reports (``CSV Error on Line: N``, header = line 1), if any."""
    marker = "Line: "
    i = text.find(marker)
    if i < 0:
        return None
    digits = "".join(ch for ch in text[i + len(marker): i + len(marker) + 12] if ch.isdigit())
    return int(digits) if digits else None
