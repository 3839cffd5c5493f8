"""pandas, in memory: the pod usage daily summary the way an in-memory implementation naturally
is. The benchmark's baseline, and the oracle the tests hold the streaming summary to (exactly).

    python bench/baselines/pod_usage_pandas.py --input RAW --output DIR [--report-period 2024-01]

Same formulas, quantisation and duplicate rule as :mod:`pod_usage.summary` (read that
docstring): every needed column of every file loaded into one DataFrame (string keys as
categoricals), then ``groupby``. Memory grows with the input (about 150-250 bytes per line
item). Writes ``<output>/daily_summary_pandas.parquet`` and prints one JSON line (``rows_in``,
``rows_out``, ``seconds``, ``rows_per_s``, ``peak_rss_mb``, ...). Importable as
``bench.baselines.pod_usage_pandas`` (the tests' oracle); it needs the project on the path.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from memsafe.atomic import atomic_path
from memsafe.memory import PeakMemory, lifetime_peak_rss_mb
from pod_usage.format import (
    GO_TIMESTAMP_FORMAT,
    NEEDED_COLUMNS,
    NoPodUsageFiles,
    PodUsageInputError,
    list_files,
    sniff,
)
from pod_usage.summary import (
    CPU_HOURS_DIVISOR,
    CPU_SCALE,
    MEMORY_GB_HOURS_DIVISOR,
    SUMMARY_COLUMNS,
    period_start,
)

_FLOAT = [c for c, t in NEEDED_COLUMNS.items() if t == "DOUBLE"]
_KEYS = ["namespace", "pod", "interval_start"]
_VALUES = ["uc", "rc", "lc", "um", "rm", "lm"]


def _quantise(s: pd.Series, scale: float | None = None) -> np.ndarray:
    """NULL -> 0, ``x * scale``, round half to even, int64 (as the SQL's ``round_even``)."""
    x = s.fillna(0.0).to_numpy(dtype=np.float64)
    if scale is not None:
        x = x * scale
    return np.rint(x).astype(np.int64)


def read_file(path: Path, file_rank: int) -> pd.DataFrame:
    """Load the needed columns of one file; keys as categoricals, timestamps parsed.

    Raises:
        PodUsageInputError: missing column (line 1), non-numeric value, bad timestamp, empty key
            or an interval that does not end after it starts (with the line).
    """
    sniff(path)  # missing columns -> error naming file and header line
    raw = pd.read_csv(path, usecols=list(NEEDED_COLUMNS), dtype=str, keep_default_na=False, engine="pyarrow")
    df = pd.DataFrame(index=raw.index)
    for col in ("namespace", "pod", "node"):
        df[col] = raw[col].astype("category")
    for col in ("report_period_start", "interval_start", "interval_end"):
        try:
            df[col] = pd.to_datetime(raw[col], format=GO_TIMESTAMP_FORMAT, utc=True).dt.tz_localize(None)
        except ValueError as exc:
            bad = pd.to_datetime(raw[col], format=GO_TIMESTAMP_FORMAT, utc=True, errors="coerce").isna()
            bad &= raw[col] != ""
            if bad.any():
                line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
                raise PodUsageInputError(path, f"{col}: cannot parse {raw[col][line - 2]!r}", line) from exc
            df[col] = pd.to_datetime(raw[col].replace("", None), format=GO_TIMESTAMP_FORMAT, utc=True).dt.tz_localize(
                None
            )
    for col in _FLOAT:
        values = pd.to_numeric(raw[col].replace("", None), errors="coerce")
        bad = values.isna() & (raw[col] != "")
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise PodUsageInputError(path, f"{col}: not a number: {raw[col][line - 2]!r}", line)
        df[col] = values.astype(np.float64)
    empty = (raw[["namespace", "pod", "node", "interval_start", "interval_end", "report_period_start"]] == "").any(
        axis=1
    )
    bad = empty | (df["interval_end"] <= df["interval_start"])
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise PodUsageInputError(path, "empty key or interval_end not after interval_start", line)
    df["_file"] = file_rank
    return df


def summarize_in_memory(files: Sequence[Path], *, report_period: str | None = None) -> pd.DataFrame:
    """The daily summary of ``files`` computed in memory; columns :data:`SUMMARY_COLUMNS`,
    ordered by ``usage_date, namespace, node``, index reset.

    Raises:
        NoPodUsageFiles: no file, or no row of ``report_period``.
        PodUsageInputError: see :func:`read_file`.
    """
    if not files:
        raise NoPodUsageFiles("no pod usage CSV to summarise")
    ordered = sorted(files, key=str)  # file rank = path order: the last path wins duplicates
    df = pd.concat([read_file(p, ordered.index(p)) for p in files], ignore_index=True)
    for col in ("namespace", "pod", "node"):
        df[col] = df[col].astype(str).astype("category")  # union of the files' categories
    period = period_start(report_period)
    if period is not None:
        df = df[df["report_period_start"] == period]
    if df.empty:
        raise NoPodUsageFiles(f"no line item of report period {report_period}")

    q = pd.DataFrame(
        {
            "namespace": df["namespace"],
            "pod": df["pod"],
            "node": df["node"],
            "interval_start": df["interval_start"],
            "_file": df["_file"],
            "uc": _quantise(df["pod_usage_cpu_core_seconds"], CPU_SCALE),
            "rc": _quantise(df["pod_request_cpu_core_seconds"], CPU_SCALE),
            "lc": _quantise(df["pod_limit_cpu_core_seconds"], CPU_SCALE),
            "um": _quantise(df["pod_usage_memory_byte_seconds"]),
            "rm": _quantise(df["pod_request_memory_byte_seconds"]),
            "lm": _quantise(df["pod_limit_memory_byte_seconds"]),
            "cap_cores": df["node_capacity_cpu_cores"].to_numpy(),
            "cap_cs": _quantise(df["node_capacity_cpu_core_seconds"], CPU_SCALE),
            "cap_mem": df["node_capacity_memory_bytes"].to_numpy(),
            "cap_ms": _quantise(df["node_capacity_memory_byte_seconds"]),
        }
    )
    del df

    # Duplicates: keep the greatest (file rank, node, values) copy of each line item. Only
    # rows whose key repeats are sorted, so the common no-duplicate case costs one hash pass.
    dup = q.duplicated(_KEYS, keep=False).to_numpy()
    copies = pd.Series(1, index=q.index)
    if dup.any():
        d = q[dup].copy()
        d["node_s"] = d["node"].astype(str)  # tie-break on the node name, not its category code
        d = d.sort_values(_KEYS[:2] + ["interval_start", "_file", "node_s"] + _VALUES)
        n_copies = d.groupby(_KEYS, observed=True, sort=False)["uc"].transform("size")
        last = ~d.duplicated(_KEYS, keep="last")
        winners = d[last.to_numpy()].drop(columns="node_s")
        q_items = pd.concat([q[~dup], winners])
        copies = pd.concat([copies[~dup], n_copies[last.to_numpy()]])
    else:
        q_items = q
    items = q_items.assign(
        copies=copies.to_numpy(),
        usage_date=q_items["interval_start"].dt.date,
        ec=np.maximum(q_items["uc"], q_items["rc"]),
        em=np.maximum(q_items["um"], q_items["rm"]),
    )

    sums = ["uc", "rc", "lc", "ec", "um", "rm", "lm", "em"]
    pods = items.groupby(["usage_date", "namespace", "node", "pod"], observed=True).agg(
        line_items=("uc", "size"), rows_in=("copies", "sum"), **{c: (c, "sum") for c in sums}
    )
    ns_day = (
        pods.groupby(level=["usage_date", "namespace", "node"], observed=True)
        .agg(
            pod_count=("line_items", "size"),
            line_items=("line_items", "sum"),
            rows_in=("rows_in", "sum"),
            **{c: (c, "sum") for c in sums},
        )
        .reset_index()
    )

    # Capacity once per node and interval (over every in-period row: duplicates do not change max).
    caps = (
        q.groupby(["node", "interval_start"], observed=True)
        .agg(cores=("cap_cores", "max"), cs=("cap_cs", "max"), mem=("cap_mem", "max"), ms=("cap_ms", "max"))
        .reset_index()
    )
    caps["usage_date"] = caps["interval_start"].dt.date
    node_day = (
        caps.groupby(["usage_date", "node"], observed=True)
        .agg(cores=("cores", "max"), cs=("cs", "sum"), mem=("mem", "max"), ms=("ms", "sum"))
        .reset_index()
    )

    m = ns_day.merge(node_day, on=["usage_date", "node"], how="left")
    f64 = np.float64
    out = pd.DataFrame(
        {
            "usage_date": m["usage_date"],
            "namespace": m["namespace"].astype(str),
            "node": m["node"].astype(str),
            "pod_count": m["pod_count"].astype(np.int64),
            "line_items": m["line_items"].astype(np.int64),
            "duplicate_line_items": (m["rows_in"] - m["line_items"]).astype(np.int64),
            "pod_usage_cpu_core_hours": m["uc"].astype(f64) / CPU_HOURS_DIVISOR,
            "pod_request_cpu_core_hours": m["rc"].astype(f64) / CPU_HOURS_DIVISOR,
            "pod_limit_cpu_core_hours": m["lc"].astype(f64) / CPU_HOURS_DIVISOR,
            "pod_effective_usage_cpu_core_hours": m["ec"].astype(f64) / CPU_HOURS_DIVISOR,
            "pod_usage_memory_gigabyte_hours": m["um"].astype(f64) / MEMORY_GB_HOURS_DIVISOR,
            "pod_request_memory_gigabyte_hours": m["rm"].astype(f64) / MEMORY_GB_HOURS_DIVISOR,
            "pod_limit_memory_gigabyte_hours": m["lm"].astype(f64) / MEMORY_GB_HOURS_DIVISOR,
            "pod_effective_usage_memory_gigabyte_hours": m["em"].astype(f64) / MEMORY_GB_HOURS_DIVISOR,
            "node_capacity_cpu_cores": m["cores"].astype(f64),
            "node_capacity_cpu_core_hours": m["cs"].astype(f64) / CPU_HOURS_DIVISOR,
            "node_capacity_memory_bytes": np.rint(m["mem"].to_numpy(dtype=f64)).astype(np.int64),
            "node_capacity_memory_gigabyte_hours": m["ms"].astype(f64) / MEMORY_GB_HOURS_DIVISOR,
            "cpu_share_of_node": m["ec"].astype(f64) / m["cs"].where(m["cs"] != 0).astype(f64),
            "memory_share_of_node": m["em"].astype(f64) / m["ms"].where(m["ms"] != 0).astype(f64),
        }
    )
    out = out.sort_values(["usage_date", "namespace", "node"], kind="stable").reset_index(drop=True)
    return out[list(SUMMARY_COLUMNS)]


def _count_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b"")) - 1


def main(argv: list[str] | None = None) -> dict:
    """Summarise every CSV under ``--input`` in memory; write and return the run's figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, type=Path, help="folder of koku pod usage CSV files")
    p.add_argument("--output", required=True, type=Path, help="folder for daily_summary_pandas.parquet")
    p.add_argument("--report-period", default=None, help="YYYY-MM; default every period")
    args = p.parse_args(argv)
    files = list_files(args.input)
    if not files:
        raise NoPodUsageFiles(f"no pod usage CSV under {args.input}")
    out = args.output / "daily_summary_pandas.parquet"
    with PeakMemory() as pm:
        frame = summarize_in_memory(files, report_period=args.report_period)
        with atomic_path(out) as tmp:
            frame.to_parquet(tmp, index=False)
    rows_in = sum(_count_rows(f) for f in files)  # after timing: not part of the baseline
    result = {"output": str(out), "rows_in": rows_in, "rows_out": len(frame), **pm.report.as_metadata()}
    result["rows_per_s"] = round(rows_in / pm.report.seconds, 1) if pm.report.seconds else 0.0
    result["max_rss_mb"] = round(lifetime_peak_rss_mb(), 1)
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
