"""Where the converter's time went: the steps and query variants of the whole-year DuckDB query,
timed one by one, in one process. Since issue 11 the converter streams files through polars and
day spill files (iso_energy/isos/stream.py); ``as_is`` below is the query it replaced (kept as
the test oracle tests/iso_energy/reference.py), which this profile still measures for comparison.

    python -m bench.profile_converter --data-dir DIR [--year 2024] [--memory-mb 2048] [--threads 2]
        [--steps index_rows index_years as_is ...]

``DIR`` is a data root holding ``raw/pjm/lmp_da/*.csv`` (for example an input folder the benchmark
generated under ``bench/out/inputs/csv_parquet/``). Every step runs on a fresh DuckDB connection of
the same :class:`memsafe.budget.Budget` the converter uses and is timed for wall and CPU seconds
(process-wide, all threads) with :class:`memsafe.memory.PeakMemory`; outputs go to a temporary
folder. It reads :mod:`iso_energy` and changes nothing there.

Steps:
- ``index_rows`` / ``index_years``: the file index's two scans of every file
  (:meth:`IsoConverter.file_year_counts`), which a first conversion of a pile pays before converting;
- ``as_is``: the conversion query of :meth:`IsoConverter.convert_year` (dedup window + ORDER BY);
- ``no_order``: the same without the final ORDER BY;
- ``no_dedup``: the same without the QUALIFY row_number() window;
- ``neither``: normalise and keep the year only;
- ``dedup_arg_max``: dedup by ``GROUP BY key`` keeping ``arg_max(row, (_version, _file))``, then ORDER BY;
- ``file_rank``: ``as_is`` with the window ordered by the file's position in the bound file list (an
  integer) instead of its path (a string carried through the window with every row);
- ``distinct_on``: ``DISTINCT ON (interval_start_utc, location_id, location_type)`` with one ORDER BY
  that both picks the winner (``_version DESC, _file DESC``) and gives the output order;
- ``sort_stream_dedup``: one ORDER BY on (interval_start_utc, location_id, location_type, _version DESC,
  _file DESC), streamed out of DuckDB in Arrow batches; the first row of each key is kept by comparing
  each row with the previous one (vectorised, carried across batches), written with a ParquetWriter.
  Same rows and the same time order as ``as_is``, one blocking operator instead of two;
- ``read_only``: the typed ``read_csv`` of every file straight to parquet (the engine's floor here);
- ``read_varchar``: the same with the timestamp columns read as text (the cost of ``timestampformat``);
- ``index_one_pass``: what the file index needs (all rows, current rows per operating year) in one
  scan of each file instead of two, by selecting the dataset's ``where_sql`` as a column.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iso_energy.isos import ISOS
from iso_energy.isos.schema import LMP_KEY, LMP_SCHEMA
from memsafe.budget import Budget
from memsafe.memory import PeakMemory, duckdb_probe

STEPS = (
    "index_rows",
    "index_years",
    "index_one_pass",
    "as_is",
    "no_order",
    "no_dedup",
    "neither",
    "dedup_arg_max",
    "file_rank",
    "distinct_on",
    "sort_stream_dedup",
    "read_only",
    "read_varchar",
)

# step -> how it drops duplicates (conversion_sql's ``dedup``), and the steps ending in ORDER BY
DEDUP = {
    "as_is": "window",
    "no_order": "window",
    "file_rank": "file_rank",
    "dedup_arg_max": "arg_max",
    "distinct_on": "distinct_on",
}
ORDERED = ("as_is", "no_dedup", "dedup_arg_max", "file_rank")


def conversion_sql(norm: str, *, dedup: str | None, order: bool) -> str:
    """The conversion query of ``convert_year`` (kept in step with iso_energy/isos/base.py by hand)."""
    cols = ", ".join(f'"{f.name}"' for f in LMP_SCHEMA)
    key = ", ".join(LMP_KEY)
    sql = f"SELECT {cols} FROM ({norm}) WHERE year(operating_date) = $year"
    if dedup == "window":
        sql += f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _version DESC, _file DESC) = 1"
    elif dedup == "file_rank":  # one header group: the files are bound as $files0
        sql += (
            f" QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _version DESC, "
            f"list_position($files0, _file) DESC) = 1"
        )
    elif dedup == "distinct_on":
        return (
            f"SELECT DISTINCT ON (interval_start_utc, location_id, location_type) {cols} FROM ({norm}) "
            f"WHERE year(operating_date) = $year "
            f"ORDER BY interval_start_utc, location_id, location_type, _version DESC, _file DESC"
        )
    elif dedup == "arg_max":
        sql = (
            f"SELECT unnest(arg_max(struct_pack({cols}), struct_pack(_version, _file))) FROM ({norm}) "
            f"WHERE year(operating_date) = $year GROUP BY {key}"
        )
    if order:
        sql += " ORDER BY interval_start_utc, location_id"
    return sql


def sort_stream_dedup(con, norm: str, params: dict, out: str, batch_rows: int = 100_000) -> int:
    """Dedup by one sort plus a streaming pass: see the ``sort_stream_dedup`` step. Returns rows written."""
    cols = ", ".join(f'"{f.name}"' for f in LMP_SCHEMA)
    reader = con.sql(
        f"SELECT {cols} FROM ({norm}) WHERE year(operating_date) = $year "
        f"ORDER BY interval_start_utc, location_id, location_type, _version DESC, _file DESC",
        params={k: v for k, v in params.items() if k != "out"},
    ).to_arrow_reader(batch_rows)
    previous, rows, writer = None, 0, None
    try:
        for batch in reader:
            n = batch.num_rows
            if not n:
                continue
            keys = [batch.column(k) for k in LMP_KEY]
            new_key = pa.array([previous != tuple(k[0].as_py() for k in keys)])
            changed = None
            for k in keys:  # row i starts a new key if any key column differs from row i-1 (null = null)
                a, b = k.slice(1), k.slice(0, n - 1)
                d = pc.fill_null(pc.or_kleene(pc.not_equal(a, b), pc.xor(pc.is_null(a), pc.is_null(b))), False)
                changed = d if changed is None else pc.or_(changed, d)
            keep = pa.concat_arrays([new_key, changed]) if n > 1 else new_key
            previous = tuple(k[n - 1].as_py() for k in keys)
            kept = batch.filter(keep)
            if writer is None:
                writer = pq.ParquetWriter(out, kept.schema, compression="zstd")
            writer.write_batch(kept, row_group_size=100_000)
            rows += kept.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def one_pass(conv, dataset: str):
    """The operator's converter with ``where_sql`` selected as ``_current`` instead of filtering rows."""
    fmt = conv.datasets[dataset]
    fmt = dataclasses.replace(
        fmt, where_sql=None, select_sql=f"{fmt.select_sql}, ({fmt.where_sql or 'true'}) AS _current"
    )
    return type(f"{type(conv).__name__}OnePass", (type(conv),), {"datasets": {**conv.datasets, dataset: fmt}})()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--iso", default="pjm")
    p.add_argument("--dataset", default="lmp_da")
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--memory-mb", type=int, default=2048)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    args = p.parse_args(argv)
    conv = ISOS[args.iso]
    files = conv.raw_files(args.data_dir / "raw", args.dataset)
    if not files:
        p.error(f"no raw files under {args.data_dir / 'raw' / args.iso / args.dataset}")
    groups = conv.sniff_all(files, args.dataset)
    norm = conv.normalised_sql(args.dataset, groups)
    fmt = conv.datasets[args.dataset]
    mb = sum(f.stat().st_size for f in files) / 2**20
    print(f"{len(files)} files, {mb:.0f} MB, budget {args.memory_mb} MB, {args.threads} threads", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="profile_converter_") as tmp:
        budget = Budget(memory_mb=args.memory_mb, threads=args.threads, spill_dir=str(Path(tmp) / "spill"))
        for step in args.steps:
            con = budget.connect()
            out = str(Path(tmp) / f"{step}.parquet")
            params = {**conv._params(groups), "year": args.year, "out": out}
            copy = "COPY ({q}) TO $out (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"
            t0, c0 = time.perf_counter(), time.process_time()
            with PeakMemory(engine_probe=duckdb_probe(con)) as pm:
                tally: dict[str, int] = {}
                if step in ("index_rows", "index_years", "index_one_pass"):
                    for path in files:
                        single = conv.sniff_all([path], args.dataset)
                        if step == "index_rows":
                            sql = f"SELECT NULL, count(*) FROM ({conv._read_sql(fmt, single[0], 'files0')})"
                        elif step == "index_one_pass":
                            sql = (
                                f"SELECT year(operating_date) AS y, count(*), count(*) FILTER (WHERE _current) "
                                f"FROM ({one_pass(conv, args.dataset).normalised_sql(args.dataset, single)}) "
                                f"GROUP BY y"
                            )
                        else:
                            sql = (
                                f"SELECT year(operating_date) AS y, count(*) FROM "
                                f"({conv.normalised_sql(args.dataset, single)}) GROUP BY y"
                            )
                        for y, *counts in con.execute(sql, conv._params(single)).fetchall():
                            tally["rows"] = tally.get("rows", 0) + (counts[-2] if len(counts) > 1 else counts[0])
                            if step != "index_rows":  # current rows per operating year
                                tally[str(y)] = tally.get(str(y), 0) + counts[-1]
                    rows = tally
                elif step == "sort_stream_dedup":
                    rows = sort_stream_dedup(con, norm, params, out)
                else:
                    if step in ("read_only", "read_varchar"):
                        f = (
                            fmt
                            if step == "read_only"
                            else dataclasses.replace(
                                fmt, columns={c: "VARCHAR" if t == "TIMESTAMP" else t for c, t in fmt.columns.items()}
                            )
                        )
                        q = conv._read_sql(f, groups[0], "files0")
                        params = {"files0": [str(s.path) for g in groups for s in g], "out": out}
                    else:
                        q = conversion_sql(norm, dedup=DEDUP.get(step), order=step in ORDERED)
                    con.execute(copy.format(q=q), params)
                    rows = con.execute("SELECT count(*) FROM read_parquet($out)", {"out": out}).fetchone()[0]
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            con.close()
            r = pm.report
            print(
                json.dumps(
                    {
                        "step": step,
                        "wall_s": round(wall, 2),
                        "cpu_s": round(cpu, 2),
                        "result": rows,
                        "peak_rss_mb": round(r.peak_rss_mb),
                        "engine_peak_mb": round(r.engine_peak_mb or 0),
                        "spill_peak_mb": round(r.spill_peak_mb or 0),
                        "input_mb_per_s": round(mb / wall, 1),
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
