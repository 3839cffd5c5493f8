"""DuckDB: ``COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)``, the one-statement answer.

Types are given for the two timestamp columns with the export's format; the rest is sniffed.
Engine defaults otherwise (memory_limit 80 % of RAM, insertion order preserved), threads bounded.
"""

import duckdb
from _common import COMPRESSION, TIMESTAMP_COLUMNS, TIMESTAMP_FORMAT, emit, parse_args

args = parse_args(__doc__.splitlines()[0])
con = duckdb.connect(config={"threads": args.threads})
types = {c: "TIMESTAMP" for c in TIMESTAMP_COLUMNS}
con.execute(
    f"COPY (SELECT * FROM read_csv($files, header = true, timestampformat = $fmt, types = $types)) "
    f"TO $out (FORMAT parquet, COMPRESSION {COMPRESSION})",
    {"files": args.files, "fmt": TIMESTAMP_FORMAT, "types": types, "out": str(args.output)},
)
rows = con.execute("SELECT count(*) FROM read_parquet($out)", {"out": str(args.output)}).fetchone()[0]
emit(args, rows)
