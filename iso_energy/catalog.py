"""One DuckDB catalog over every parquet output: views ``lmp`` and ``ancillary_services``.

Plain logic (no Dagster): :func:`build_catalog` (re)creates the views in a DuckDB database.
Each view reads the hive layout ``<root>/parquet/dataset=<ds>/iso=<iso>/year=<year>/<year>-<MM>.parquet``
with ``hive_partitioning``, so the path keys ``dataset``, ``iso`` and ``year`` are columns and a
filter on them prunes files before any is opened::

    SELECT * FROM lmp WHERE iso = 'nyiso' AND year = 2024   -- reads only iso=nyiso/year=2024 files

``iso`` is also a column inside every file; DuckDB merges the two into one column whose value
comes from the path (checked by a test), so the filter prunes and the view does not break.
The ``lmp`` view carries ``price_type`` (:data:`~iso_energy.isos.schema.PRICE_TYPES`): filter on
``price_type = 'LMP'`` to compare nodal/zonal LMPs across operators without ERCOT's settlement
point prices. The views glob at query time: a partition converted later appears without rebuilding the
catalog. Only a view created while no file of its dataset existed is an empty placeholder
until the catalog is rebuilt (the ``lmp_catalog`` asset). The database file stores the views'
absolute paths: rebuild it after moving the data root. Opening it needs DuckDB >= 2.0 (the
file format this project's DuckDB writes; the ``duckdb-cli`` package on PyPI is 1.5, so it cannot).

From the shell, with the project's own DuckDB::

    python -m iso_energy.catalog query "SELECT iso, count(*) FROM lmp GROUP BY ALL"
    python -m iso_energy.catalog views            # the views and their descriptions
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from iso_energy.isos.schema import AS_SCHEMA, LMP_SCHEMA
from memsafe.csv_source import sql_str as _literal
from memsafe.settings import catalog_path, data_dir


@dataclass(frozen=True)
class ViewSpec:
    name: str
    dataset_glob: str  # the hive ``dataset=`` folder(s) the view covers
    schema: pa.Schema
    description: str


VIEWS = (
    ViewSpec(
        "lmp",
        "dataset=lmp_*",
        LMP_SCHEMA,
        "Day-ahead and real-time prices of every operator (USD/MWh): price_type 'LMP' for locational "
        "marginal prices, 'SPP' for ERCOT settlement point prices",
    ),
    ViewSpec("ancillary_services", "dataset=as", AS_SCHEMA, "Ancillary-service clearing prices (USD/MW)"),
)
HIVE_TYPES = "{'dataset': 'VARCHAR', 'iso': 'VARCHAR', 'year': 'INTEGER'}"
_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


def files_glob(parquet_root: Path, spec: ViewSpec) -> str:
    return str(parquet_root / spec.dataset_glob / "iso=*" / "year=*" / "*.parquet")


def view_sql(parquet_root: Path, spec: ViewSpec, has_files: bool) -> str:
    """``CREATE OR REPLACE VIEW`` for ``spec``: over the files, or an empty typed placeholder."""
    if has_files:
        source = (
            f"SELECT * FROM read_parquet({_literal(files_glob(parquet_root, spec))}, "
            f"hive_partitioning = true, hive_types = {HIVE_TYPES}, union_by_name = true)"
        )
    else:
        cols = [f"CAST(NULL AS {_DUCKDB_TYPES[f.type]}) AS {f.name}" for f in spec.schema]
        source = (
            f"SELECT {', '.join(cols)}, CAST(NULL AS VARCHAR) AS dataset, CAST(NULL AS INTEGER) AS year WHERE false"
        )
    return f"CREATE OR REPLACE VIEW {spec.name} AS {source}"


def build_catalog(con: duckdb.DuckDBPyConnection, parquet_root: Path) -> dict[str, dict[str, object]]:
    """Create or replace every view of :data:`VIEWS` in ``con``'s database.

    Returns, per view: parquet files, rows (from parquet footers, no data read), and the
    operators and years present.
    """
    summary: dict[str, dict[str, object]] = {}
    for spec in VIEWS:
        pattern = files_glob(parquet_root, spec)
        files = con.execute("SELECT count(*) FROM glob($p)", {"p": pattern}).fetchone()[0]
        con.execute(view_sql(parquet_root, spec, has_files=files > 0))
        con.execute(f"COMMENT ON VIEW {spec.name} IS {_literal(spec.description)}")
        rows, isos, years = 0, [], []
        if files:
            rows = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata($p)", {"p": pattern}).fetchone()[0]
            # Operators and years from the paths alone (no file opened).
            isos, years = con.execute(
                "SELECT list(DISTINCT iso ORDER BY iso), list(DISTINCT year ORDER BY year) FROM ("
                "SELECT regexp_extract(file, '/iso=([^/]+)/', 1) AS iso, "
                "CAST(regexp_extract(file, '/year=([0-9]+)/', 1) AS INTEGER) AS year FROM glob($p))",
                {"p": pattern},
            ).fetchone()
        summary[spec.name] = {"files": int(files), "rows": int(rows or 0), "isos": list(isos), "years": list(years)}
    return summary


def main(argv: list[str] | None = None) -> int:
    """``query SQL`` prints the result as a table; ``views`` lists the views. Read-only, so it
    runs beside Dagster. Exit 2 with one line on stderr when the catalog is missing or the SQL fails."""
    p = argparse.ArgumentParser(
        prog="python -m iso_energy.catalog",
        description="Query the price catalog (DuckDB views over every parquet output).",
    )
    p.add_argument(
        "--database",
        type=Path,
        default=None,
        help="catalog file (default $MEMSAFE_CATALOG, else <data root>/catalog.duckdb)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("query", help="run one SQL statement and print the result")
    q.add_argument("sql")
    q.add_argument("--max-rows", type=int, default=40)
    sub.add_parser("views", help="list the views and what they hold")
    args = p.parse_args(argv)
    path = catalog_path(data_dir(), args.database)
    if not path.is_file():
        print(f"error: no catalog at {path}: run `make demo` or materialise price_catalog", file=sys.stderr)
        return 2
    sql = (
        args.sql
        if args.command == "query"
        else ("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal ORDER BY view_name")
    )
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.sql(sql).show(max_rows=getattr(args, "max_rows", 40), max_width=200)
    except duckdb.Error as exc:
        print(f"error: {path}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
