"""One DuckDB CSV source: header sniffing, a typed strict ``read_csv``, and SQL literals.

Plain logic (no dagster). A converter sniffs each file's header in Python (a few KB per file),
groups files sharing a header, and reads each group with one typed, strict ``read_csv`` (no
auto-detection), so a value that does not parse raises an engine error naming its file and line
(read back with :mod:`memsafe.engine_errors`). File lists are bound as parameters, never spliced.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Lines and bytes scanned for a header before a file is declared not to be the expected format.
HEADER_SCAN_LINES = 50
HEADER_SCAN_BYTES = 64 * 1024


def sql_str(value: str) -> str:
    """A SQL string literal (single quotes doubled) for a column name, type, format or one of our
    own paths where DuckDB takes no bound parameter (``COPY ... TO``, a stored view).

    Data values and user file lists are bound as parameters instead.
    """
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class SniffedFile:
    """A CSV file whose header was found: ``skip`` lines precede the header line ``header``.

    ``path`` is what the engine reads; ``source`` the raw file it came from when a format's
    preparation step rewrote it (errors name ``source``, at raw line = line + ``line_offset``).
    """

    path: Path
    header: tuple[str, ...]
    skip: int = 0
    source: Path | None = None
    line_offset: int = 0

    @property
    def raw(self) -> Path:
        """The file a user knows: ``source`` if the file was prepared, else ``path``."""
        return self.source or self.path

    def raw_line(self, line: int | None) -> int | None:
        """A line of ``path`` as a line of :attr:`raw` (``None`` stays ``None``)."""
        return None if line is None else line + self.line_offset


class CsvHeaderError(ValueError):
    """A CSV file whose header cannot be found. ``line`` is 1-based (``None`` when unknown).

    ``reason`` says why, for a caller that words its own message: ``"empty"``, ``"html"`` (a
    saved web page), ``"missing"`` (a one-line scan whose header lacks required columns) or
    ``"no_header"``. For ``"no_header"``, ``first_line`` is the first non-blank line scanned and,
    when :func:`find_header` was given ``known`` columns, ``closest_line`` (1-based, 0 if no line
    held a known column) and ``closest_missing`` (sorted required columns that line lacks) name
    the most header-like line.
    """

    def __init__(
        self,
        path: Path | str,
        problem: str,
        line: int | None = None,
        *,
        reason: str = "no_header",
        first_line: str = "",
        closest_line: int = 0,
        closest_missing: Sequence[str] = (),
    ) -> None:
        self.path, self.problem, self.line = str(path), problem, line
        self.reason, self.first_line = reason, first_line
        self.closest_line, self.closest_missing = closest_line, list(closest_missing)
        super().__init__(f"{self.path}" + (f", line {line}" if line else "") + f": {problem}")


def find_header(
    path: Path,
    required: Collection[str],
    *,
    known: Collection[str] = (),
    scan_lines: int = HEADER_SCAN_LINES,
    scan_bytes: int = HEADER_SCAN_BYTES,
) -> tuple[tuple[str, ...], int]:
    """The header of ``path``: ``(fields, skip)`` where ``skip`` lines precede the header line.

    The header is the first of the first ``scan_lines`` lines (read within ``scan_bytes``) whose
    fields include every ``required`` column; fields are stripped, a UTF-8 BOM is ignored.
    ``known``: every column the format declares; when no line qualifies, the error names the line
    holding the most of them (:attr:`CsvHeaderError.closest_line`).

    Raises:
        CsvHeaderError: the file is empty, is an HTML/XML page (a failed download), or no line
            holds the required columns (the message quotes the first line).
    """
    with open(path, "rb") as fh:
        head = fh.read(scan_bytes)
    if not head.strip():
        raise CsvHeaderError(path, "file is empty", line=1, reason="empty")
    text = head.decode("utf-8-sig", errors="replace")
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype", "<html", "<?xml")) or "<html" in lowered[:512]:
        raise CsvHeaderError(path, "is an HTML/XML page, not a CSV export (a failed download?)", line=1, reason="html")
    lines = text.splitlines()
    if len(head) == scan_bytes and lines:
        lines = lines[:-1]  # the last line of the sample may be cut
    needed, known_set = set(required), set(known)
    closest: tuple[int, int, list[str]] = (0, 0, sorted(needed))  # (known columns, line, missing)
    for i, line in enumerate(lines[:scan_lines]):
        if not line.strip():
            continue
        fields = tuple(f.strip() for f in next(csv.reader(io.StringIO(line))))
        if needed.issubset(fields):
            return fields, i
        if scan_lines == 1:
            missing = [c for c in required if c not in fields]
            raise CsvHeaderError(
                path, f"missing required column(s) {missing}; header is {list(fields)}", line=1, reason="missing"
            )
        hits = len(set(fields) & known_set)
        if hits > closest[0]:
            closest = (hits, i + 1, sorted(needed.difference(fields)))
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    raise CsvHeaderError(
        path,
        f"no header found in the first {scan_lines} lines; first line is {first[:120]!r}",
        line=1,
        first_line=first,
        closest_line=closest[1],
        closest_missing=closest[2],
    )


def read_csv_sql(
    param: str,
    header: Sequence[str],
    types: Mapping[str, str],
    *,
    skip: int = 0,
    timestampformat: str | None = None,
    dateformat: str | None = None,
) -> str:
    """``read_csv($<param>, ...)`` over files sharing ``header`` (the file list bound as ``param``).

    Typed and strict, no auto-detection: each header column gets ``types[column]`` (``VARCHAR``
    when absent), comma-delimited, double-quoted, ``skip`` lines before the header, and a
    ``_file`` column with the file's path. A value that does not parse raises a DuckDB error
    naming the file and line.
    """
    cols = ", ".join(f"{sql_str(c)}: {sql_str(types.get(c, 'VARCHAR'))}" for c in header)
    opts = [
        "header = true",
        f"skip = {int(skip)}",
        f"columns = {{{cols}}}",
        "auto_detect = false",
        "delim = ','",
        "quote = '\"'",
        "escape = '\"'",
        "strict_mode = true",
        "filename = '_file'",
    ]
    if timestampformat:
        opts.append(f"timestampformat = {sql_str(timestampformat)}")
    if dateformat:
        opts.append(f"dateformat = {sql_str(dateformat)}")
    return f"read_csv(${param}, {', '.join(opts)})"
