"""Shared machinery of every code location, in one home.

Plain logic: :mod:`~memsafe.settings` (data root), :mod:`~memsafe.budget` (the Budget, one bounded
DuckDB ``connect()``, batch sizing, the CLIs' budget flags), :mod:`~memsafe.memory` (peak
measurement), :mod:`~memsafe.atomic` (locked atomic outputs), :mod:`~memsafe.csv_source` and
:mod:`~memsafe.engine_errors` (the DuckDB CSV source and its error locations).
Dagster glue, the only modules importing dagster: :mod:`~memsafe.resources`, :mod:`~memsafe.sensors` and
:mod:`~memsafe.metadata` (``materialize_result`` and the ``peak_within_budget`` check).
"""
