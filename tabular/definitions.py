"""The tabular code location (its assets land with their own issue)."""

import dagster as dg

defs = dg.Definitions()
