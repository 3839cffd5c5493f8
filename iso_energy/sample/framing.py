"""Files whose CSV body sits inside other lines: MISO's preamble, NYISO's blank first line and
missing final newline, ISO-NE's record-type prefixes. The body is still written by pyarrow
(vectorised); only the framing is text.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv


def csv_bytes(table: pa.Table, *, header: bool = True, quote_strings: bool = False) -> bytes:
    """``table`` as CSV (LF line ends); ``quote_strings`` quotes header names and text fields
    (numbers stay bare, as NYISO and ISO-NE write them)."""
    buf = io.BytesIO()
    pcsv.write_csv(
        table,
        buf,
        pcsv.WriteOptions(
            include_header=header,
            quoting_style="needed" if quote_strings else "none",
            quoting_header="needed" if quote_strings else "none",
            batch_size=64 * 1024,
        ),
    )
    return buf.getvalue()


def write_framed(path: Path, body: bytes, *, before: str = "", after: str = "", final_newline: bool = True) -> Path:
    """Write ``before`` + ``body`` + ``after`` to ``path``; optionally drop the last line end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = before.encode() + body + after.encode()
    if not final_newline:
        data = data.rstrip(b"\r\n")
    path.write_bytes(data)
    return path
