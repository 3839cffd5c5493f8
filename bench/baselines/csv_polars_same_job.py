"""polars doing the converter's whole job (information, not a target reference): keep current rows
(``row_is_current``) of operating year ``--year``, normalise to the converter's columns, drop
duplicate (location, interval) rows keeping the highest ``version_nbr`` then the last file, write in
time order. Shows what the converter's extra work costs in the fastest engine here."""

import os

from _common import COMPRESSION, TIMESTAMP_FORMAT, emit, parse_args

args = parse_args(__doc__.splitlines()[0])
os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # read when polars is imported
import polars as pl  # noqa: E402

YEAR = 2024
KEY = ["interval_start_utc", "location_id", "location_type"]
(
    pl.scan_csv(args.files, include_file_paths="_file")
    .filter(pl.col("row_is_current"))
    .with_columns(
        pl.col("datetime_beginning_utc")
        .str.strptime(pl.Datetime("us", "UTC"), TIMESTAMP_FORMAT)
        .alias("interval_start_utc"),
        pl.col("datetime_beginning_ept")
        .str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT)
        .dt.date()
        .alias("operating_date"),
    )
    .filter(pl.col("operating_date").dt.year() == YEAR)
    .select(
        pl.lit("pjm").alias("iso"),
        pl.lit("DA").alias("market"),
        "interval_start_utc",
        (pl.col("interval_start_utc") + pl.duration(hours=1)).alias("interval_end_utc"),
        "operating_date",
        pl.col("pnode_id").cast(pl.String).alias("location_id"),
        pl.col("pnode_name").alias("location_name"),
        # As the converter: a blank type is PJM's default, and every PJM price is an LMP.
        pl.col("type").str.strip_chars().replace("", None).fill_null("PNODE").alias("location_type"),
        pl.lit("LMP").alias("price_type"),
        pl.col("total_lmp_da").alias("lmp_usd_per_mwh"),
        pl.col("system_energy_price_da").alias("energy_usd_per_mwh"),
        pl.col("congestion_price_da").alias("congestion_usd_per_mwh"),
        pl.col("marginal_loss_price_da").alias("loss_usd_per_mwh"),
        "version_nbr",
        "_file",
    )
    .sort([*KEY, "version_nbr", "_file"], descending=[False, False, False, True, True])
    .unique(subset=KEY, keep="first", maintain_order=True)
    .drop("version_nbr", "_file")
    .sink_parquet(args.output, compression=COMPRESSION)
)
emit(args, pl.scan_parquet(args.output).select(pl.len()).collect().item())
