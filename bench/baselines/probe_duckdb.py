"""DuckDB: one ``LIST(STRUCT_PACK(...) ORDER BY event_time) ... GROUP BY src_addr`` over the probe
shards, under a ``memory_limit`` (the project's budget), with a spill folder.

    python bench/baselines/probe_duckdb.py --input SHARDS --output FILE [--memory-limit 1GB] [--threads 2]
"""

import argparse
import json
import time
from pathlib import Path

import duckdb

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--input", required=True, type=Path, help="folder of *.parquet measurement shards")
p.add_argument("--output", required=True, type=Path)
p.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 1GB (default: DuckDB's)")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--spill-dir", type=Path, default=None)
args = p.parse_args()
started = time.perf_counter()
config = {"threads": args.threads}
if args.memory_limit:
    config["memory_limit"] = args.memory_limit
if args.spill_dir:
    config["temp_directory"] = str(args.spill_dir)
con = duckdb.connect(config=config)
# The struct holds every column but the key, whatever extra columns the shards carry.
glob = str(args.input / "*.parquet")
cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet($g)", {"g": glob}).fetchall()]
fields = ", ".join(f'"{c}" := "{c}"' for c in cols if c != "src_addr")
con.execute(
    f"COPY (SELECT src_addr, LIST(STRUCT_PACK({fields}) ORDER BY event_time) AS measurements "
    f"FROM read_parquet($g) GROUP BY src_addr) TO $out (FORMAT parquet, COMPRESSION zstd)",
    {"g": glob, "out": str(args.output)},
)
probes = con.execute("SELECT count(*) FROM read_parquet($out)", {"out": str(args.output)}).fetchone()[0]
print(json.dumps({"rows_out": int(probes), "seconds": round(time.perf_counter() - started, 3)}))
