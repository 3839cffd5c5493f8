"""What every baseline script shares: the PJM DA LMP export's layout, arguments and the JSON line.

Not a baseline itself. Each ``csv_*.py`` script beside it is one tool's idiomatic CSV -> parquet
conversion of a folder of PJM Data Miner 2 ``da_hrl_lmps`` exports, parsing both timestamp
columns, written with zstd like the project's converter, and printing one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# Data Miner 2 writes "1/1/2024 5:00:00 AM": month/day not zero padded, 12-hour clock.
TIMESTAMP_FORMAT = "%m/%d/%Y %I:%M:%S %p"
TIMESTAMP_COLUMNS = ("datetime_beginning_utc", "datetime_beginning_ept")
COMPRESSION = "zstd"


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--input", required=True, type=Path, help="folder of *.csv exports")
    p.add_argument("--output", required=True, type=Path, help="parquet file to write")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    args.files = sorted(str(f) for f in args.input.glob("*.csv"))
    if not args.files:
        p.error(f"no *.csv under {args.input}")
    args.started = time.perf_counter()
    return args


def emit(args: argparse.Namespace, rows: int, **extra: object) -> None:
    """Print the one JSON line the harness reads: rows written and in-process seconds."""
    print(json.dumps({"rows_out": int(rows), "seconds": round(time.perf_counter() - args.started, 3), **extra}))
