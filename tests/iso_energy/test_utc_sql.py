"""``utc_sql`` (a naive UTC timestamp as TIMESTAMPTZ, on epoch microseconds) gives exactly what
``timezone('UTC', x) + INTERVAL`` gives, whatever the session's time zone."""

from __future__ import annotations

import duckdb
import pytest

from iso_energy.isos.sql import utc_sql

VALUES = [
    "2024-01-01 00:00:00",
    "2024-03-10 02:30:00.123456",  # a local spring-forward hour in the US: no meaning in UTC
    "2024-11-03 01:30:00",  # a local fall-back hour
    "2024-12-31 23:55:00",
    "2024-02-29 12:00:00",
    "1969-12-31 23:59:59.999999",
    "2100-06-30 18:00:00",
]


@pytest.mark.parametrize("session_zone", ["UTC", "America/New_York"])
@pytest.mark.parametrize("minutes", [0, 60, -5, -15])
def test_utc_sql_equals_timezone_utc(session_zone, minutes):
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{session_zone}'")
    rows = ", ".join(f"(TIMESTAMP '{v}')" for v in VALUES) + ", (NULL)"
    got, want = con.execute(
        f"SELECT list({utc_sql('x', minutes)} ORDER BY x NULLS LAST), "
        f"list(timezone('UTC', x) + INTERVAL ({minutes}) MINUTE ORDER BY x NULLS LAST) FROM (VALUES {rows}) AS t(x)"
    ).fetchone()
    assert got == want and len(got) == len(VALUES) + 1 and got[-1] is None
    stamp = "TIMESTAMP '2024-01-01'"
    assert con.execute(f"SELECT typeof({utc_sql(stamp)})").fetchone()[0] == "TIMESTAMP WITH TIME ZONE"
