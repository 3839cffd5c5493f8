"""Reading DuckDB's error texts: the file, the CSV line and the problem (plain logic).

Every converter turns an engine error into a one-line message naming the file and line with
these three functions; see :mod:`memsafe.csv_source` for the reader they describe.
"""

from __future__ import annotations


def engine_line(text: str) -> int | None:
    """The CSV line DuckDB reports (``CSV Error on Line: N``, header = line 1), if any."""
    marker = "Line: "
    i = text.find(marker)
    if i < 0:
        return None
    digits = "".join(ch for ch in text[i + len(marker) : i + len(marker) + 12] if ch.isdigit())
    return int(digits) if digits else None


def engine_file(text: str) -> str | None:
    """The file DuckDB names in a CSV error (its ``  file = <path>`` line), if any."""
    for line in text.splitlines():
        if line.strip().startswith("file = "):
            return line.strip()[len("file = ") :]
    return None


def engine_problem(text: str, max_lines: int = 2) -> str:
    """The useful first lines of a DuckDB error joined by `` | ``: the problem, without the
    offending line's text (it can be long), the suggestions and the dialect dump."""
    keep: list[str] = []
    skip_next = False
    for raw in text.splitlines():
        line = raw.strip()
        if skip_next:
            skip_next = False
            continue
        if line.startswith("Original Line"):
            skip_next = not line[len("Original Line:") :].strip()
            continue
        if not line or raw.startswith("  ") or line.startswith(("*", "Possible", "This type was", "Column ")):
            continue
        keep.append(line)
        if len(keep) == max_lines:
            break
    return " | ".join(keep) or text[:300]
