"""The converter before issue 11, kept as the oracle: one whole-year DuckDB query.

It reads every file with DuckDB's strict CSV reader through the operator's own normalising SQL
(:meth:`IsoConverter.normalised_sql`, the same text the streamed engine runs), keeps the
operating year, drops superseded revisions and duplicates (highest ``_version``, then the last
file in name order) and orders by time and key. A convention fixed in an operator module
therefore changes both paths alike; only the engine is compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from iso_energy.isos.base import IsoConverter
from memsafe.budget import Budget


def reference_years(conv: IsoConverter, files: Sequence[Path], dataset: str, budget: Budget) -> list[int]:
    """Operating years present in ``files`` (current rows), ascending."""
    with conv.prepared(files, dataset, budget.spill_path()) as ready, contextlib.closing(budget.connect()) as con:
        groups = conv.sniff_all(ready, dataset)
        norm = conv.normalised_sql(dataset, groups)
        rows = conv._run(
            con, f"SELECT DISTINCT year(operating_date) AS y FROM ({norm}) ORDER BY y", groups, dataset
        ).fetchall()
    return [int(y) for (y,) in rows if y is not None]


def reference_year(conv: IsoConverter, files: Sequence[Path], dataset: str, year: int, budget: Budget) -> pa.Table:
    """The rows the whole-year query wrote for operating ``year``, in its order."""
    fmt = conv.datasets[dataset]
    cols = ", ".join(f'"{f.name}"' for f in fmt.schema)
    key = ", ".join(fmt.key)
    order = ", ".join(["interval_start_utc", *(k for k in fmt.key if k != "interval_start_utc")])
    with (
        conv.prepared(sorted(files), dataset, budget.spill_path()) as ready,
        contextlib.closing(budget.connect()) as con,
    ):
        groups = conv.sniff_all(ready, dataset)
        query = (
            f"SELECT {cols} FROM ({conv.normalised_sql(dataset, groups)}) WHERE year(operating_date) = $year "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _version DESC, _file DESC) = 1 "
            f"ORDER BY {order}"
        )
        return con.sql(query, params={**conv._params(groups), "year": year}).to_arrow_table()
