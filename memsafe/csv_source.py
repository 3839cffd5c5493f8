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


class CsvHeaderError(ValueError):
    """A CSV file whose header cannot be found. ``line`` is 1-based (``None`` when unknown)."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None) -> None:
        self.path, self.problem, self.line = str(path), problem, line
        super().__init__(f"{self.path}" + (f", line {line}" if line else "") + f": {problem}")


def find_header(
    path: Path,
    required: Collection[str],
    *,
    scan_lines: int = HEADER_SCAN_LINES,
    scan_bytes: int = HEADER_SCAN_BYTES,
) -> tuple[tuple[str, ...], int]:
    """The header of ``path``: ``(fields, skip)`` where ``skip`` lines precede the header line.

    The header is the first of the first ``scan_lines`` lines (read within ``scan_bytes``) whose
    fields include every ``required`` column; fields are stripped, a UTF-8 BOM is ignored.

    Raises:
        CsvHeaderError: the file is empty, is an HTML/XML page (a failed download), or no line
            holds the required columns (the message quotes the first line).
    """
    with open(path, "rb") as fh:
        head = fh.read(scan_bytes)
    if not head.strip():
        raise CsvHeaderError(path, "file is empty", line=1)
    text = head.decode("utf-8-sig", errors="replace")
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype", "<html", "<?xml")) or "<html" in lowered[:512]:
        raise CsvHeaderError(path, "is an HTML/XML page, not a CSV export (a failed download?)", line=1)
    lines = text.splitlines()
    if len(head) == scan_bytes and lines:
        lines = lines[:-1]  # the last line of the sample may be cut
    needed = set(required)
    for i, line in enumerate(lines[:scan_lines]):
        if not line.strip():
            continue
        fields = tuple(f.strip() for f in next(csv.reader(io.StringIO(line))))
        if needed.issubset(fields):
            return fields, i
        if scan_lines == 1:
            missing = [c for c in required if c not in fields]
            raise CsvHeaderError(path, f"missing required column(s) {missing}; header is {list(fields)}", line=1)
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    raise CsvHeaderError(
        path, f"no header found in the first {scan_lines} lines; first line is {first[:120]!r}", line=1
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
