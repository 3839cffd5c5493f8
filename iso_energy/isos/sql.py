"""SQL-text helpers the operator modules use in their normalising SELECTs.

Plain logic (no dagster): each returns a DuckDB SQL expression as text. Values spliced in are
our own constants (time zones, operator codes), quoted with :func:`memsafe.csv_source.sql_str`;
data values and file lists are always bound as parameters.
"""

from __future__ import annotations

from memsafe.csv_source import sql_str


def utc_sql(naive_utc: str, plus_minutes: int = 0) -> str:
    """SQL turning a naive TIMESTAMP expression that already holds UTC (an operator's ``*_utc`` or
    ``*GMT*`` column) into TIMESTAMPTZ, ``plus_minutes`` later (negative: earlier).

    The value of ``timezone('UTC', x)``, or of ``CAST(x AS TIMESTAMPTZ)`` under the converter's
    UTC session, computed on microseconds since the epoch: those two (and adding an ``INTERVAL``
    to a TIMESTAMPTZ) go through ICU's calendar for every row, ten times the cost (DuckDB 2.0:
    0.08 s per million rows against 0.008 s; they were most of pass 1's DuckDB time for PJM).
    """
    micros = f"epoch_us({naive_utc})"
    if plus_minutes:
        micros = f"({micros} {'+' if plus_minutes > 0 else '-'} {abs(plus_minutes) * 60_000_000})"
    return f"make_timestamptz({micros})"


def local_to_utc_sql(local: str, tz: str, repeated: str | None = None) -> str:
    """SQL turning a naive local prevailing-time TIMESTAMP expression into TIMESTAMPTZ (UTC).

    DuckDB's ICU resolves a fall-back (ambiguous) local time to its *second*, standard-time
    occurrence. Operators mark the repeated hour themselves (ERCOT ``DSTFlag='Y'``, ISO-NE
    ``02X``): ``repeated`` is a boolean SQL expression true on those rows. A row in an ambiguous
    hour that is *not* marked repeated is the first occurrence, one hour earlier in UTC.
    Ambiguity is detected as a two-hour UTC gap across one local hour.
    """
    utc = f"timezone({sql_str(tz)}, {local})"
    if repeated is None:
        return utc
    before = f"timezone({sql_str(tz)}, {local} - INTERVAL 1 HOUR)"
    return (
        f"({utc} - CASE WHEN NOT ({repeated}) AND {utc} - {before} > INTERVAL 1 HOUR "
        f"THEN INTERVAL 1 HOUR ELSE INTERVAL 0 HOUR END)"
    )


def mapped_sql(expr: str, table: dict[str, str], what: str, match: str = "=") -> str:
    """``CASE`` mapping ``expr`` through ``table`` (operator code -> normalised value).

    An unmapped value raises a DuckDB ``error('unknown <what> <value>')``, which the converter
    reports against the file and line, so a new operator code must be mapped, never passed
    through. ``match``: ``=`` (equality), ``starts_with`` or ``ends_with`` (``expr`` begins or
    ends with the table's key; the first matching key in table order wins).
    """

    def cond(key: str) -> str:
        return f"{expr} = {sql_str(key)}" if match == "=" else f"{match}({expr}, {sql_str(key)})"

    whens = " ".join(f"WHEN {cond(k)} THEN {sql_str(v)}" for k, v in table.items())
    return f"CASE {whens} ELSE error('unknown {what} ' || coalesce({expr}, 'NULL')) END"
