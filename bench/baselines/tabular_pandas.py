"""pandas, load all: every shard into one DataFrame, a seeded stratified split (per-label random
rank), one parquet file per split. The approach the tabular pipeline replaces.

    python bench/baselines/tabular_pandas.py --input SHARDS --output DIR [--label label] [--seed 0]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--input", required=True, type=Path, help="folder of *.parquet shards")
p.add_argument("--output", required=True, type=Path)
p.add_argument("--label", default="label")
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
started = time.perf_counter()
df = pd.concat([pd.read_parquet(f) for f in sorted(args.input.glob("*.parquet"))], ignore_index=True)
# Stratified: within each label, a random rank in (0, 1]; the first 80 % train, then val, test.
rank = pd.Series(np.random.default_rng(args.seed).random(len(df))).groupby(df[args.label].to_numpy()).rank(pct=True)
bounds = np.cumsum(list(RATIOS.values()))[:-1]
which = np.searchsorted(bounds, rank.to_numpy(), side="left")
args.output.mkdir(parents=True, exist_ok=True)
for i, name in enumerate(RATIOS):
    df[which == i].to_parquet(args.output / f"{name}.parquet", compression="zstd", index=False)
print(json.dumps({"rows_out": len(df), "seconds": round(time.perf_counter() - started, 3)}))
