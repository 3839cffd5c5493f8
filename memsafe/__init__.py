"""Shared memory discipline for every code location: settings, budgets, measurement, atomic writes.

Plain logic only: nothing here imports dagster except :mod:`memsafe.resources`.
"""
