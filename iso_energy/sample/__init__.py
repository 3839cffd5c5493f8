"""Sample raw files in each operator's native format: ``python -m iso_energy.sample``.

Writes ``<data root>/raw/<iso>/<dataset>/*.csv`` for the operating days ``[start, end)``, DST
days and each format's quirks included, at any size (``--nodes`` pricing locations; time range).
Used by the demo, the tests and the benchmarks. Deterministic for a given seed.

    python -m iso_energy.sample --start 2023-10-15 --end 2024-03-20 --nodes 3 [--iso pjm ...]

Files are monthly (each operator's archive layout). ``--daily`` writes PJM as one file per
operating day instead (Data Miner's daily exports, no overlap), the layout of a pile of daily
downloads such as the seed-scale benchmark's 366 files.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from iso_energy.sample import ancillary, caiso, ercot, isone, miso, nyiso, pjm, spp
from memsafe.cli import CliUsageError, add_debug_flag
from memsafe.settings import data_dir

# iso -> writer(raw_root, dataset, start, end, n_nodes, seed) -> files written
WRITERS: dict[str, Callable[..., list[Path]]] = {
    "pjm": pjm.write,
    "caiso": caiso.write,
    "ercot": ercot.write,
    "miso": miso.write,
    "nyiso": nyiso.write,
    "isone": isone.write,
    "spp": spp.write,
}
DATASETS = ("lmp_da", "lmp_rt")
# Ancillary-service prices: written only for the operators in ancillary.AS_ISOS.
AS_DATASET = "as"


def generate(
    root: Path,
    start: date,
    end: date,
    *,
    nodes: int = 3,
    seed: int = 0,
    isos: Iterable[str] | None = None,
    datasets: Iterable[str] = DATASETS,
    daily: bool = False,
) -> list[Path]:
    """Write sample raw files under ``<root>/raw`` and return their paths.

    ``daily``: one file per operating day (PJM LMP only) instead of monthly files.

    Raises:
        KeyError: an operator without a sample writer.
        ValueError: ``daily`` for another operator or for ancillary services.
    """
    files: list[Path] = []
    isos = list(isos or WRITERS)
    if daily and (isos != ["pjm"] or AS_DATASET in datasets):
        raise ValueError(f"daily files are written for PJM LMP only, not {', '.join(isos)} / {', '.join(datasets)}")
    for iso in isos:
        for dataset in datasets:
            if dataset == AS_DATASET:
                if iso in ancillary.AS_ISOS:
                    files += ancillary.write(iso, root / "raw", start, end, nodes, seed)
                continue
            if daily:
                files += pjm.write(root / "raw", dataset, start, end, nodes, seed, overlap_days=0, daily=True)
            else:
                files += WRITERS[iso](root / "raw", dataset, start, end, nodes, seed)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--start", type=date.fromisoformat, default=date(2023, 10, 15))
    p.add_argument("--end", type=date.fromisoformat, default=date(2024, 3, 20))
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iso", action="append", choices=sorted(WRITERS))
    p.add_argument("--dataset", action="append", choices=(*DATASETS, AS_DATASET))
    p.add_argument("--daily", action="store_true", help="one file per operating day (PJM LMP only)")
    add_debug_flag(p)
    args = p.parse_args(argv)
    if args.end <= args.start:
        raise CliUsageError(f"--end {args.end} must be after --start {args.start} (operating days [start, end))")
    if args.nodes < 1:
        raise CliUsageError(f"--nodes must be at least 1, got {args.nodes}")
    if args.daily and (args.iso or []) != ["pjm"]:
        raise CliUsageError("--daily needs --iso pjm (daily files are written for PJM LMP only)")
    root = data_dir(args.data_dir)
    files = generate(
        root,
        args.start,
        args.end,
        nodes=args.nodes,
        seed=args.seed,
        isos=args.iso,
        datasets=args.dataset or DATASETS,
        daily=args.daily,
    )
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) under {root / 'raw'}")
    return 0
