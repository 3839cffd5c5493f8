"""RIPE Atlas results (ping and traceroute JSON) -> measurement shards.

Source format: the RIPE Atlas result API / daily dumps, documented at
https://atlas.ripe.net/docs/apis/result-format/ . A file holds result objects either one per
line (NDJSON, as the daily dumps), as a JSON array, or wrapped in an object with one list value
(``{"info": [...]}``, as in ``../shared/data/real/probe/ripe_atlas_traceroute_googlenews.json``).

One measurement per result object (one ping *result* = one row, not one per packet):

- ``event_time`` = ``timestamp`` (Unix seconds, UTC) as timestamp[us, UTC];
- ``dst_addr`` = ``dst_addr``; a traceroute whose name resolution failed has none and is dropped
  (counted in ``no_destination``): it measured no path;
- ``rtt_ms``: ping: ``avg``; traceroute: the smallest RTT of the replies from ``dst_addr`` in the
  last hop. **Failed measurements** (ping ``avg == -1``, i.e. no reply, ``rcvd == 0``; traceroute
  where the destination did not answer) are kept with a null ``rtt_ms`` by default
  (``failed="null_rtt"``: loss is information for latency models and a null RTT cannot be mistaken
  for a fast one), or dropped with ``failed="drop"``;
- **probe address** (``src_addr`` of the shard): ``address_field="from"`` (default) takes the
  public address RIPE Atlas saw the result come from; ``"src_addr"`` takes the probe's own
  interface address. The interface address is often private (``192.168.x.x``), so different
  probes behind NAT share it and would be merged into one "probe"; ``from`` avoids that. Either way
  ``prb_id`` is kept as a numeric column. A result without the chosen field gets a null address,
  which the grouping counts and drops.

Numeric columns carried for the structs: ``prb_id``, ``msm_id``, ``sent``, ``rcvd`` (ping packets;
null for traceroutes), ``hop_count`` (traceroute hops; null for pings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from memsafe.atomic import atomic_path

ADDRESS_FIELDS = ("from", "src_addr")
FAILED_RULES = ("null_rtt", "drop")
ATLAS_SCHEMA = pa.schema(
    [
        pa.field("src_addr", pa.string()),
        pa.field("dst_addr", pa.string()),
        pa.field("event_time", pa.timestamp("us", tz="UTC")),
        pa.field("rtt_ms", pa.float64()),
        pa.field("prb_id", pa.int64()),
        pa.field("msm_id", pa.int64()),
        pa.field("sent", pa.int32()),
        pa.field("rcvd", pa.int32()),
        pa.field("hop_count", pa.int32()),
        pa.field("kind", pa.string()),
    ]
)
BATCH_RESULTS = 100_000


class AtlasFormatError(ValueError):
    """A file or result object that is not RIPE Atlas ping/traceroute JSON (names file and line)."""


@dataclass(frozen=True)
class AtlasImportConfig:
    """How results become measurements (see the module docstring for the rules)."""

    address_field: str = "from"
    failed: str = "null_rtt"

    def __post_init__(self) -> None:
        if self.address_field not in ADDRESS_FIELDS:
            raise ValueError(f"address_field must be one of {ADDRESS_FIELDS}, got {self.address_field!r}")
        if self.failed not in FAILED_RULES:
            raise ValueError(f"failed must be one of {FAILED_RULES}, got {self.failed!r}")


@dataclass
class ImportStats:
    """Counts of one import: results read, rows written and why others were not."""

    results: int = 0
    measurements: int = 0
    failed_kept: int = 0
    failed_dropped: int = 0
    no_destination: int = 0
    null_address: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def iter_results(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line or index, result object)`` from one RIPE Atlas file.

    NDJSON is streamed line by line; a JSON array or wrapped list is loaded whole.

    Raises:
        AtlasFormatError: invalid JSON, or a top level that holds no list of results.
    """
    with path.open("rb") as fh:
        head = fh.read(1).lstrip()
        while head in (b" ", b"\n", b"\r", b"\t"):
            head = fh.read(1)
    if head == b"{":
        # NDJSON starts with "{" too: it is NDJSON when the first line alone is a result object.
        with path.open("rb") as fh:
            first = fh.readline()
        try:
            ndjson = "type" in json.loads(first)
        except (json.JSONDecodeError, TypeError):
            ndjson = False
        if ndjson:
            with path.open("rb") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        yield lineno, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise AtlasFormatError(f"{path}, line {lineno}: invalid JSON ({exc.msg})") from exc
            return
    try:
        doc = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise AtlasFormatError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise AtlasFormatError(f"{path}: a JSON object must wrap exactly one list of results")
        doc = lists[0]
    if not isinstance(doc, list):
        raise AtlasFormatError(f"{path}: expected results as NDJSON, a JSON array or {{key: [...]}}")
    yield from enumerate(doc)


def _traceroute_rtt(result: dict) -> float | None:
    hops = result.get("result") or []
    if not hops or not result.get("dst_addr"):
        return None
    replies = [
        r.get("rtt")
        for r in hops[-1].get("result", []) or []
        if r.get("from") == result["dst_addr"] and isinstance(r.get("rtt"), int | float)
    ]
    return float(min(replies)) if replies else None


def measurement_row(result: dict, config: AtlasImportConfig, where: str) -> dict | None:
    """One result object -> one measurement row (dict), or ``None`` for a dropped result.

    Raises:
        AtlasFormatError: not a ping/traceroute result, or no integer ``timestamp``.
    """
    kind = result.get("type")
    if kind not in ("ping", "traceroute"):
        raise AtlasFormatError(f"{where}: result type {kind!r} is not ping or traceroute")
    ts = result.get("timestamp")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise AtlasFormatError(f"{where}: 'timestamp' must be Unix seconds, got {ts!r}")
    if not result.get("dst_addr"):
        return None
    if kind == "ping":
        avg = result.get("avg")
        rtt = float(avg) if isinstance(avg, int | float) and avg >= 0 and result.get("rcvd", 1) != 0 else None
        sent, rcvd, hops = result.get("sent"), result.get("rcvd"), None
    else:
        rtt = _traceroute_rtt(result)
        sent = rcvd = None
        hops = len(result.get("result") or [])
    return {
        "src_addr": result.get(config.address_field) or None,
        "dst_addr": result["dst_addr"],
        "event_time": int(ts * 1_000_000),
        "rtt_ms": rtt,
        "prb_id": result.get("prb_id"),
        "msm_id": result.get("msm_id"),
        "sent": sent,
        "rcvd": rcvd,
        "hop_count": hops,
        "kind": kind,
    }


def _table(rows: list[dict]) -> pa.Table:
    cols = {f.name: [r[f.name] for r in rows] for f in ATLAS_SCHEMA}
    return pa.table(
        {name: pa.array(values, ATLAS_SCHEMA.field(name).type) for name, values in cols.items()}, schema=ATLAS_SCHEMA
    )


def import_file(path: Path, shard: Path, config: AtlasImportConfig = AtlasImportConfig()) -> ImportStats:
    """Convert one RIPE Atlas file into one measurement shard, written atomically.

    Memory: one batch of 100k results (NDJSON), or the whole document for wrapped JSON.
    """
    stats = ImportStats()
    with atomic_path(shard) as tmp, pq.ParquetWriter(tmp, ATLAS_SCHEMA) as writer:
        batch: list[dict] = []
        for where, result in iter_results(path):
            stats.results += 1
            if not isinstance(result, dict):
                raise AtlasFormatError(f"{path}, item {where}: a result must be a JSON object")
            row = measurement_row(result, config, f"{path}, item {where}")
            if row is None:
                stats.no_destination += 1
                continue
            if row["rtt_ms"] is None:
                if config.failed == "drop":
                    stats.failed_dropped += 1
                    continue
                stats.failed_kept += 1
            if row["src_addr"] is None:
                stats.null_address += 1
            stats.by_kind[row["kind"]] = stats.by_kind.get(row["kind"], 0) + 1
            batch.append(row)
            if len(batch) >= BATCH_RESULTS:
                writer.write_table(_table(batch))
                stats.measurements += len(batch)
                batch = []
        writer.write_table(_table(batch))
        stats.measurements += len(batch)
    return stats


def import_files(
    paths: Iterable[Path], out_dir: Path, config: AtlasImportConfig = AtlasImportConfig()
) -> dict[Path, ImportStats]:
    """Convert each file into ``out_dir/<file stem>.parquet``; return the stats per shard."""
    out: dict[Path, ImportStats] = {}
    for path in paths:
        shard = out_dir / f"{path.name.split('.')[0]}.parquet"
        out[shard] = import_file(path, shard, config)
    return out
