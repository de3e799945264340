"""Featurization throughput and full-QM9 processing time.

    python benchmarks/featurize.py --sdf DATA/qm9/gdb1k.sdf.gz \
        --smiles DATA/ogb/ogbg_molbbbp/mapping/mol.csv.gz \
        --qm9 DATA/qm9/qm9pack_qm9_coords_props.csv.xz [--workers N] [--qm9-limit N]

Prints molecules/s for SDF -> paired records (one process) and for SMILES -> OGB graph, with
`ogb.utils.smiles2graph` timed on the same molecules in the same run; then the wall time to
process QM9 with all cores (fresh, written to a temporary cache) and to load it back from cache.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from ogb.utils import smiles2graph
from rdkit import rdBase

from dnd.data.featurize import smiles_to_graph
from dnd.data.corpus import load_paired
from dnd.data.report import Report
from dnd.data.sources import open_text


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdf", type=Path, required=True)
    parser.add_argument("--smiles", type=Path, required=True, help="CSV with a 'smiles' column")
    parser.add_argument("--qm9", type=Path, help="qm9pack CSV; omit to skip the QM9 timing")
    parser.add_argument("--qm9-limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, workers for QM9: {args.workers}")

    report = Report()
    recs, t = timed(lambda: load_paired("sdf", args.sdf, report=report, workers=1))
    n = report.n_ok + report.n_bad
    print(f"SDF -> paired records (1 process): {n} records in {t:.2f} s = {n / t:.0f} mol/s "
          f"({len(recs)} kept, {report.n_bad} reported)")

    with open_text(args.smiles) as f:
        smiles = [row["smiles"] for row in csv.DictReader(f)]
    with rdBase.BlockLogs():  # RDKit warnings on some real SMILES would flood the output
        _, t_ours = timed(lambda: [smiles_to_graph(s) for s in smiles])
        _, t_ogb = timed(lambda: [smiles2graph(s) for s in smiles])
    print(f"SMILES -> graph, {len(smiles)} molecules: dnd {len(smiles) / t_ours:.0f} mol/s, "
          f"ogb.utils.smiles2graph {len(smiles) / t_ogb:.0f} mol/s")

    if args.qm9 is None:
        return
    with tempfile.TemporaryDirectory() as cache_dir:
        report = Report()
        recs, t = timed(lambda: load_paired("qm9", args.qm9, limit=args.qm9_limit, report=report,
                                            workers=args.workers, cache_dir=cache_dir))
        n = report.n_ok + report.n_bad
        print(f"QM9 processing ({args.workers} workers): {n} molecules in {t:.1f} s "
              f"({n / t:.0f} mol/s); {len(recs)} paired records, {report.n_bad} not matched")
        print(report.summary(max_lines=5))
        del recs
        again, t = timed(lambda: load_paired("qm9", args.qm9, limit=args.qm9_limit,
                                             cache_dir=cache_dir, report=Report()))
        print(f"QM9 cached load: {len(again)} records in {t:.1f} s")


if __name__ == "__main__":
    main()
