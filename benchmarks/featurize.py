"""Featurization throughput and QM9 processing time.

    python benchmarks/featurize.py --sdf DATA/qm9/gdb1k.sdf.gz \
        --smiles DATA/ogb/ogbg_molbbbp/mapping/mol.csv.gz \
        --qm9 DATA/qm9/qm9pack_qm9_coords_props.csv.xz [--workers N] [--qm9-limit N]
    python benchmarks/featurize.py --qm9 DATA/qm9/qm9pack_qm9_coords_props.csv.xz \
        --qm9-sample 10000 --baseline-src /tmp/old/src --repeats 2

Prints molecules/s for SDF -> paired records (one process) and for SMILES -> OGB graph, with
`ogb.utils.smiles2graph` timed on the same molecules in the same run; then the wall time to
process QM9 with `--workers` processes (fresh, written to a temporary cache) and to load it back.

On a machine shared with other jobs an absolute time says little, so `--qm9-sample N` times an
evenly strided sample of N rows (QM9 is sorted by size; the first rows are the smallest) and
extrapolates to the whole file, and `--baseline-src DIR` times the same sample with another
checkout's `src/` (e.g. `git archive OLD src | tar -x -C /tmp/old`) in alternating runs and
prints the ratio, which drifting load affects far less than either time.
"""

from __future__ import annotations

import argparse
import csv
import json
import lzma
import os
import subprocess
import sys
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


def write_sample(src: Path, n: int, dest: Path) -> int:
    """Every k-th data row of `src` into `dest` (xz, like the original) so that it holds about
    `n` rows; returns the number of data rows in `src`."""
    csv.field_size_limit(1 << 24)
    with open_text(src) as f:
        total = sum(1 for _ in f) - 1  # QM9 has no multi-line fields
    stride = max(1, total // n)
    with open_text(src) as f, lzma.open(dest, "wt", encoding="utf-8", newline="") as g:
        reader, writer = csv.reader(f), csv.writer(g, lineterminator="\n")
        writer.writerow(next(reader))
        for i, row in enumerate(reader):
            if i % stride == 0 and i // stride < n:
                writer.writerow(row)
    return total


def time_qm9(path: Path, workers: int, src: str | None) -> dict:
    """Process `path` once in a fresh interpreter (with `src` first on PYTHONPATH if given)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, __file__, "--time-one", str(path),
                          "--workers", str(workers)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def time_one(path: Path, workers: int) -> None:
    """Child mode: process once into a temporary cache; print one JSON line."""
    import resource

    import dnd
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as cache_dir:
        report = Report()
        recs, t = timed(lambda: load_paired("qm9", path, report=report, workers=workers,
                                            cache_dir=cache_dir))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, reaped
    cpu = time.process_time() - cpu0 + children.ru_utime + children.ru_stime
    print(json.dumps({"seconds": t, "cpu_seconds": cpu, "rows": report.n_ok + report.n_bad,
                      "records": len(recs), "bad": report.n_bad,
                      "package": str(Path(dnd.__file__).parent)}))


def compare_on_sample(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "qm9-sample.csv.xz"
        total = write_sample(args.qm9, args.qm9_sample, sample)
        runs: dict[str, list[dict]] = {"current": [], "baseline": []}
        for _ in range(args.repeats):  # alternate, so slow drifts in load hit both alike
            runs["current"].append(time_qm9(sample, args.workers, None))
            if args.baseline_src:
                runs["baseline"].append(time_qm9(sample, args.workers, args.baseline_src))
    scale = {}
    for name, rs in runs.items():
        if not rs:
            continue
        r = rs[0]
        wall, cpu = min(x["seconds"] for x in rs), min(x["cpu_seconds"] for x in rs)
        scale[name] = (wall, cpu)
        per = total / r["rows"]
        print(f"{name} ({r['package']}): {r['rows']} sampled rows -> {r['records']} records, "
              f"{r['bad']} bad; {args.workers} workers, best of {len(rs)}: wall {wall:.1f} s, "
              f"CPU {cpu:.1f} s (all processes). Scaled to all {total} rows: wall ~{wall * per:.0f} s "
              f"here; CPU {cpu * per:.0f} s, i.e. ~{cpu * per / args.workers:.0f} s on "
              f"{args.workers} idle cores")
    if "baseline" in scale:
        (new_w, new_c), (old_w, old_c) = scale["current"], scale["baseline"]
        print(f"ratio current/baseline: wall {new_w / old_w:.2f}, CPU {new_c / old_c:.2f} "
              f"(speed-up {old_w / new_w:.2f}x wall, {old_c / new_c:.2f}x CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdf", type=Path, help="SDF to time (omit to skip)")
    parser.add_argument("--smiles", type=Path, help="CSV with a 'smiles' column (omit to skip)")
    parser.add_argument("--qm9", type=Path, help="qm9pack CSV; omit to skip the QM9 timing")
    parser.add_argument("--qm9-limit", type=int, default=None)
    parser.add_argument("--qm9-sample", type=int, default=None,
                        help="time an evenly strided sample of this many QM9 rows and extrapolate")
    parser.add_argument("--baseline-src", default=None,
                        help="with --qm9-sample: also time another checkout's src/ folder")
    parser.add_argument("--repeats", type=int, default=1, help="with --qm9-sample")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--time-one", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.time_one is not None:
        time_one(args.time_one, args.workers)
        return
    print(f"cores: {os.cpu_count()}, workers for QM9: {args.workers}")

    if args.sdf is not None:
        report = Report()
        recs, t = timed(lambda: load_paired("sdf", args.sdf, report=report, workers=1))
        n = report.n_ok + report.n_bad
        print(f"SDF -> paired records (1 process): {n} records in {t:.2f} s = {n / t:.0f} mol/s "
              f"({len(recs)} kept, {report.n_bad} reported)")

    if args.smiles is not None:
        with open_text(args.smiles) as f:
            smiles = [row["smiles"] for row in csv.DictReader(f)]
        with rdBase.BlockLogs():  # RDKit warnings on some real SMILES would flood the output
            _, t_ours = timed(lambda: [smiles_to_graph(s) for s in smiles])
            _, t_ogb = timed(lambda: [smiles2graph(s) for s in smiles])
        print(f"SMILES -> graph, {len(smiles)} molecules: dnd {len(smiles) / t_ours:.0f} mol/s, "
              f"ogb.utils.smiles2graph {len(smiles) / t_ogb:.0f} mol/s")

    if args.qm9 is None:
        return
    if args.qm9_sample is not None:
        compare_on_sample(args)
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
