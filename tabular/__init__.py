"""Tabular training data: streaming loading, exact splits and fitted transforms in bounded memory.

Plain-logic modules (no dagster): :mod:`tabular.io`, :mod:`tabular.stats`, :mod:`tabular.loading`,
:mod:`tabular.splits`, :mod:`tabular.transforms`, :mod:`tabular.generate`. Dagster lives in
:mod:`tabular.assets` and :mod:`tabular.definitions`.
"""
