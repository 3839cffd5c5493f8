"""Sensor glue shared by the locations whose partitions are files or folders that appear (Dagster).

A sensor lists its inputs with a fingerprint each (size and mtime, say); :func:`changed_partition_requests`
turns those not yet requested with that fingerprint into run requests, adds the new partition
keys, and keeps the fingerprints as the cursor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import dagster as dg


def changed_partition_requests(
    context: dg.SensorEvaluationContext,
    partitions: dg.DynamicPartitionsDefinition,
    current: Mapping[str, str],
    *,
    nothing: str,
    up_to_date: Callable[[str, str], bool] | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """Run requests for every key of ``current`` whose fingerprint differs from the cursor's.

    Args:
        current: partition key -> fingerprint of what is there now.
        nothing: the skip reason when nothing is new or changed.
        up_to_date: ``up_to_date(key, fingerprint)`` is true when the key's output already
            reflects that fingerprint (e.g. its latest materialisation recorded it): no run is
            requested for it, so a fresh cursor (a first tick) requests nothing up to date.

    Returns a ``SensorResult`` (a run per new or changed key, run key ``<key>:<fingerprint>``, the
    new keys added to ``partitions``, cursor = JSON of ``current``) or a ``SkipReason``.
    """
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(key for key, print_ in current.items() if seen.get(key) != print_)
    if not changed:
        return dg.SkipReason(nothing)
    known = set(context.instance.get_dynamic_partitions(partitions.name))
    new = [key for key in changed if key not in known]
    stale = [k for k in changed if k in new or up_to_date is None or not up_to_date(k, current[k])]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=k, run_key=f"{k}:{current[k]}") for k in stale],
        dynamic_partitions_requests=[partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(dict(current), sort_keys=True),
    )
