"""polars: ``group_by("src_addr").agg(pl.struct(...).sort_by("event_time"))`` over the probe shards,
collected in memory (polars' idiomatic answer; its streaming engine is used where it applies).

    python bench/baselines/probe_polars.py --input SHARDS --output FILE [--threads 2]
"""

import argparse
import json
import os
import time
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--input", required=True, type=Path, help="folder of *.parquet measurement shards")
p.add_argument("--output", required=True, type=Path)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # read when polars is imported
import polars as pl  # noqa: E402

started = time.perf_counter()
scan = pl.scan_parquet(args.input / "*.parquet")
others = [c for c in scan.collect_schema().names() if c != "src_addr"]
frame = (
    scan.group_by("src_addr")
    .agg(pl.struct(others).sort_by("event_time").alias("measurements"))
    .collect(engine="streaming")
)
frame.write_parquet(args.output, compression="zstd")
print(json.dumps({"rows_out": frame.height, "seconds": round(time.perf_counter() - started, 3)}))
