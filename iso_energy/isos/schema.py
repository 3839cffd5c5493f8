"""The normalised schemas every operator converts to, their keys, and the raw-input errors.

Plain data (no dagster, no engine): the LMP and ancillary-service (AS) schemas written to
parquet, the columns unique in a partition (asset check ``unique_key``), the vocabularies of
``price_type`` and ``product``, and the two errors a conversion raises for its input.
"""

from __future__ import annotations

import os

import pyarrow as pa

# The columns every normalised price starts with: who, which market, which interval (UTC) and
# the operator's local operating day.
_INTERVAL_FIELDS = [
    pa.field("iso", pa.string(), nullable=False),
    pa.field("market", pa.string(), nullable=False),  # "DA" day-ahead, "RT" real-time
    pa.field("interval_start_utc", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("interval_end_utc", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("operating_date", pa.date32(), nullable=False),
]

# One schema for every operator's LMP. Prices in USD/MWh; a component an operator does not
# publish is null. `operating_date` is the operator's local operating day, which decides the year
# partition (so a year holds exactly its operating days).
LMP_SCHEMA = pa.schema(
    [
        *_INTERVAL_FIELDS,
        pa.field("location_id", pa.string(), nullable=False),  # pnode id / settlement point
        pa.field("location_name", pa.string()),
        # HUB, ZONE, GEN, ... as published, else the operator's documented rule: never null.
        pa.field("location_type", pa.string(), nullable=False),
        # What the price is: "LMP" (nodal/zonal locational marginal price) or "SPP" (ERCOT
        # settlement point price, which at hubs and load zones averages nodal LMPs): PRICE_TYPES.
        pa.field("price_type", pa.string(), nullable=False),
        pa.field("lmp_usd_per_mwh", pa.float64()),
        pa.field("energy_usd_per_mwh", pa.float64()),
        pa.field("congestion_usd_per_mwh", pa.float64()),
        pa.field("loss_usd_per_mwh", pa.float64()),
    ]
)
# Identifies one price: unique in every partition (asset check `unique_key`). `price_type` is
# not in it: it is fixed per operator and dataset, so it never tells two rows of a partition apart.
LMP_KEY = ("location_id", "location_type", "interval_start_utc")
PRICE_TYPES = {
    "LMP": "locational marginal price at a pricing node, zone or hub",
    "SPP": "ERCOT settlement point price (resource node LMP; hub/load zone averages)",
}

# Ancillary-service (AS) clearing prices, the second normalised schema: one price per market,
# region and product and interval, in USD/MW (of capacity, per interval hour as published).
# `product` is normalised (see AS_PRODUCTS); `product_name` is the operator's own code.
AS_SCHEMA = pa.schema(
    [
        *_INTERVAL_FIELDS,
        pa.field("region", pa.string(), nullable=False),  # AS zone/region as published, or the system
        pa.field("product", pa.string(), nullable=False),  # one of AS_PRODUCTS
        pa.field("product_name", pa.string()),  # the operator's code, e.g. ERCOT "REGDN"
        pa.field("price_usd_per_mw", pa.float64()),
    ]
)
AS_KEY = ("market", "region", "product", "interval_start_utc")
# Normalised AS products. Operators map their own codes onto these; a product with no common
# equivalent keeps an operator-specific name (ERCOT RRS, ECRS) rather than a misleading one.
AS_PRODUCTS = (
    "REG_UP",
    "REG_DOWN",
    "REG",
    "REG_MILEAGE",
    "REG_MILEAGE_UP",
    "REG_MILEAGE_DOWN",
    "SPIN",
    "NON_SPIN",
    "SUPPLEMENTAL",
    "PRIMARY",
    "RRS",
    "ECRS",
)


class RawFileError(ValueError):
    """A raw file that is not what its dataset expects. Names the file, the line and the problem."""

    def __init__(
        self, path: os.PathLike[str] | str, problem: str, line: int | None = None, expected: str | None = None
    ) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}" + (f", line {line}" if line else "")
        msg = f"{where}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)


class NoInputError(FileNotFoundError):
    """No raw file can hold the requested partition."""
