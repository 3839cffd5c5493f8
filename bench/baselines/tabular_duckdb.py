"""DuckDB hash split: one ``COPY ... PARTITION_BY (split)`` over every shard, a row's split decided
by ``hash(filename, file_row_number, seed)``; optionally under a ``memory_limit``.

    python bench/baselines/tabular_duckdb.py --input SHARDS --output DIR [--memory-limit 2GB] [--seed 0]
"""

import argparse
import json
import time
from pathlib import Path

import duckdb

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--input", required=True, type=Path, help="folder of *.parquet shards")
p.add_argument("--output", required=True, type=Path)
p.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 2GB (default: DuckDB's)")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--spill-dir", type=Path, default=None)
args = p.parse_args()
started = time.perf_counter()
config = {"threads": args.threads}
if args.memory_limit:
    config["memory_limit"] = args.memory_limit
if args.spill_dir:
    config["temp_directory"] = str(args.spill_dir)
con = duckdb.connect(config=config)
files = sorted(str(f) for f in args.input.glob("*.parquet"))
args.output.mkdir(parents=True, exist_ok=True)
# 80/10/10 on a uniform draw in [0, 1) derived from each row's identity.
con.execute(
    """COPY (
         SELECT * EXCLUDE (filename, file_row_number, u),
                CASE WHEN u < 0.8 THEN 'train' WHEN u < 0.9 THEN 'val' ELSE 'test' END AS split
         FROM (SELECT *, (hash(filename, file_row_number, $seed) % 1000000) / 1000000.0 AS u
               FROM read_parquet($files, filename = true, file_row_number = true))
       ) TO $out (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (split), OVERWRITE_OR_IGNORE true)""",
    {"files": files, "seed": args.seed, "out": str(args.output)},
)
rows = con.execute("SELECT count(*) FROM read_parquet($g)", {"g": str(args.output / "*/*.parquet")}).fetchone()[0]
print(json.dumps({"rows_out": int(rows), "seconds": round(time.perf_counter() - started, 3)}))
