"""polars: ``scan_csv(...).with_columns(strptime).sink_parquet(...)``, the streaming engine."""

import os

from _common import COMPRESSION, TIMESTAMP_COLUMNS, TIMESTAMP_FORMAT, emit, parse_args

args = parse_args(__doc__.splitlines()[0])
os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # read when polars is imported
import polars as pl  # noqa: E402

(
    pl.scan_csv(args.files)
    .with_columns(pl.col(c).str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT) for c in TIMESTAMP_COLUMNS)
    .sink_parquet(args.output, compression=COMPRESSION)
)
emit(args, pl.scan_parquet(args.output).select(pl.len()).collect().item())
