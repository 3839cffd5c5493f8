"""The tabular code location."""
