"""`dnd data`: prepare and inspect datasets.

  dnd data refractive-index --out FILE.csv.gz   build the RI set from `chemicals` (+ provenance JSON)
  dnd data task NAME [--data-root DIR]           load a downstream task, print splits and report
  dnd data paired SOURCE PATH [--limit N]        load a 3D source, print counts and report
  dnd data moses --out FILE.csv.gz               MOSES training SMILES from the molsets wheel
  dnd data conformers SMILES_CSV --out DIR [--shard I/N] [--merge]
                                                 RDKit conformers in resumable chunks -> records file
"""

from __future__ import annotations

import argparse
import json
import time

from dnd.cli.common import add_task_option_arguments, task_options, user_errors
from dnd.data.config import HYDROGENS, PAIRED_SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    ri = sub.add_parser("refractive-index", help="build the refractive-index task CSV from the "
                        "`chemicals` package (CRC organic table + its identifier database)")
    ri.add_argument("--out", required=True, help="output CSV (.csv or .csv.gz); a "
                    "<name>.provenance.json is written beside it")

    task = sub.add_parser("task", help="load a downstream task and print its splits and report")
    task.add_argument("name", help="OGB name (ogbg-molesol ...), bp/mp/ri/logp, qm9-<target>, "
                      "or a CSV path")
    task.add_argument("--data-root", default=None, help="data folder (default: $DND_DATA)")
    task.add_argument("--split-seed", type=int, default=0, help="seed of random splits")
    task.add_argument("--cache-dir", default=None, help="store/reuse the built task here")
    task.add_argument("--strict", action="store_true", help="stop at the first bad record")
    task.add_argument("--path", default=None, help="logp: the SMILES+value CSV")
    add_task_option_arguments(task)

    paired = sub.add_parser("paired", help="load a paired 2D/3D source and print its report")
    paired.add_argument("source", choices=PAIRED_SOURCES)
    paired.add_argument("path")
    paired.add_argument("--limit", type=int, default=None)
    paired.add_argument("--cache-dir", default=None)
    paired.add_argument("--strict", action="store_true")
    paired.add_argument("--workers", type=int, default=None)
    paired.add_argument("--hydrogens", choices=HYDROGENS, default="dft",
                        help="conformer atoms kept: none (heavy atoms, e.g. OGB's PCQM4Mv2 SDF), dft (the "
                        "source's), rdkit (also place hydrogens a heavy-atom SDF lacks)")

    moses = sub.add_parser("moses", help="write MOSES's 1.58M training SMILES (drug-like ZINC), "
                           "taken from the molsets wheel on PyPI without installing it")
    moses.add_argument("--out", required=True, help="destination .csv.gz")
    moses.add_argument("--wheel", default=None, help="an already downloaded molsets-0.3.1 wheel "
                       "(default: pip downloads it)")

    conf = sub.add_parser("conformers", help="RDKit ETKDGv3+MMFF conformers for a SMILES CSV, built "
                          "in resumable chunks; --shard I/N for job arrays, --merge to finish")
    conf.add_argument("smiles_file", help="CSV with a SMILES column (.gz ok)")
    conf.add_argument("--out", required=True, help="build folder (chunks/, build.json, records.pt)")
    conf.add_argument("--smiles-column", default="SMILES")
    conf.add_argument("--limit", type=int, default=None, help="the first N rows only")
    conf.add_argument("--chunk-size", type=int, default=2000)
    conf.add_argument("--num-conformers", type=int, default=1)
    conf.add_argument("--seed", type=int, default=0, help="ETKDG random seed")
    conf.add_argument("--keep-fragments", action="store_true",
                      help="embed every fragment of salts/mixtures (default: the largest only)")
    conf.add_argument("--shard", default="0/1", help="I/N: build chunks k with k mod N == I")
    conf.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    conf.add_argument("--merge", action="store_true",
                      help="after building, merge all chunks into OUT/records.pt (every shard "
                      "must be done); use with --source records --path OUT/records.pt")
    conf.add_argument("--merge-first", type=int, default=None, metavar="K",
                      help="with --merge: only chunks 0..K-1, into OUT/records-first-K.pt (to start "
                      "pretraining while the build goes on)")
    for p in (ri, task, paired, moses, conf):
        p.set_defaults(_prog=p.prog)  # error lines name the action: "dnd data task: error: ..."


def _run_task(args) -> int:
    from dnd.data.tasks import load_task
    start = time.perf_counter()
    td = load_task(args.name, root=args.data_root, seed=args.split_seed, strict=args.strict,
                   cache_dir=args.cache_dir, **task_options(args.name, args))
    spec = td.spec
    print(f"task {spec.name}: {spec.task_type}, metric {spec.metric}, {spec.num_tasks} target(s)"
          + (f" [{spec.unit}]" if spec.unit else ""))
    names = spec.target_names if len(spec.target_names) <= 5 else spec.target_names[:5] + ["..."]
    print(f"  targets: {', '.join(map(str, names))}")
    sizes = td.sizes()
    print(f"  splits: train {sizes['train']}, valid {sizes['valid']}, test {sizes['test']} "
          f"(total {sum(sizes.values())})")
    if spec.standardize:
        print(f"  standardisation (train): mean {[round(v, 4) for v in spec.mean]}, "
              f"std {[round(v, 4) for v in spec.std]}")
    print(f"  source: {json.dumps(td.source, default=str)}")
    print("  " + td.report.summary().replace("\n", "\n  "))
    print(f"  loaded in {time.perf_counter() - start:.1f} s")
    return 0


def _run_paired(args) -> int:
    from dnd.data.corpus import load_paired
    from dnd.data.report import Report

    report = Report(strict=args.strict)
    start = time.perf_counter()
    records = load_paired(args.source, args.path, limit=args.limit, strict=args.strict,
                          cache_dir=args.cache_dir, report=report, workers=args.workers,
                          hydrogens=args.hydrogens)
    print(f"{args.source} {args.path}: {len(records)} paired records in "
          f"{time.perf_counter() - start:.1f} s")
    print(report.summary())
    return 0


def _run_refractive_index(args) -> int:
    from dnd.data.tasks.refractive_index import provenance_path, write_refractive_index
    prov = write_refractive_index(args.out)
    c = prov["counts"]
    print(f"wrote {c['written']} compounds to {args.out} (from {c['table_rows']} CRC rows; "
          f"not in identifier db {c['not_in_identifier_db']}, no SMILES {c['no_smiles']}, "
          f"unparsable {c['rdkit_unparsable']}, merged duplicates {c['merged_duplicate_smiles']})")
    print(f"provenance: {provenance_path(args.out)}")
    return 0


def _run_moses(args) -> int:
    from dnd.data.conformer_corpus import MOSES_ROWS, fetch_moses
    path = fetch_moses(args.out, args.wheel)
    print(f"MOSES training set ({MOSES_ROWS:,} SMILES, sha256 checked) -> {path}")
    return 0


def _run_conformers(args) -> int:
    from dnd.data.conformer_corpus import BuildConfig, build_shard, merge, parse_shard, speed_summary
    cfg = BuildConfig(smiles_file=args.smiles_file, smiles_column=args.smiles_column,
                      limit=args.limit, chunk_size=args.chunk_size,
                      num_conformers=args.num_conformers, seed=args.seed,
                      largest_fragment=not args.keep_fragments)
    totals = build_shard(cfg, args.out, parse_shard(args.shard), args.workers)
    print(f"shard {args.shard}: built {totals['chunks_built']} chunks ({totals['ok']} molecules, "
          f"{totals['bad']} failed, {totals['seconds']:.0f} s), {totals['chunks_skipped']} already done")
    if args.merge:
        dest = merge(args.out, None if args.merge_first is None else
                     f"{args.out}/records-first-{args.merge_first}.pt", args.merge_first)
        s = speed_summary(args.out)
        print(f"merged {s['molecules']} molecules -> {dest}; failure rate {s['failure_rate']:.2%}, "
              f"{s['molecules_per_s_per_core']:.1f} molecules/s per core")
    return 0


def run(args) -> int:
    action = {"refractive-index": _run_refractive_index, "task": _run_task,
              "paired": _run_paired, "moses": _run_moses, "conformers": _run_conformers}[args.action]
    # unusable input: one clear line (it names the file/row), not a traceback; dnd's own input
    # errors are UserErrors already, these are what pandas, RDKit and optional packages raise
    with user_errors(KeyError, ImportError, ValueError):
        return action(args)
