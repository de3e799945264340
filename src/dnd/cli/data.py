"""`dnd data`: prepare and inspect datasets.

  dnd data refractive-index --out FILE.csv.gz   build the RI set from `chemicals` (+ provenance JSON)
  dnd data task NAME [--data-root DIR]           load a downstream task, print splits and report
  dnd data paired SOURCE PATH [--limit N]        load a 3D source, print counts and report
"""

from __future__ import annotations

import argparse
import json
import time

from dnd.cli.common import deprecated_alias, user_errors
from dnd.data.config import PAIRED_SOURCES


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
    deprecated_alias(task, "--root", "--data-root", "data_root")
    task.add_argument("--split-seed", type=int, default=0, help="seed of random splits")
    deprecated_alias(task, "--seed", "--split-seed", "split_seed", type=int)
    task.add_argument("--cache-dir", default=None, help="store/reuse the built task here")
    task.add_argument("--strict", action="store_true", help="stop at the first bad record")
    task.add_argument("--path", default=None, help="logp: the SMILES+value CSV")
    task.add_argument("--smiles-column", default=None)
    task.add_argument("--target-columns", default=None,
                      help="CSV tasks: comma-separated target columns (default: all others)")
    task.add_argument("--task-type", choices=("regression", "classification"), default=None,
                      help="CSV tasks (default: inferred from the labels)")
    task.add_argument("--split", choices=("scaffold", "random"), default=None,
                      help="CSV tasks (default: scaffold)")

    paired = sub.add_parser("paired", help="load a paired 2D/3D source and print its report")
    paired.add_argument("source", choices=PAIRED_SOURCES)
    paired.add_argument("path")
    paired.add_argument("--limit", type=int, default=None)
    paired.add_argument("--cache-dir", default=None)
    paired.add_argument("--strict", action="store_true")
    paired.add_argument("--workers", type=int, default=None)
    for p in (ri, task, paired):
        p.set_defaults(_prog=p.prog)  # error lines name the action: "dnd data task: error: ..."


def _task_options(args) -> dict:
    from dnd.data.tasks.csv_task import is_csv_path
    opts = {}
    if args.path is not None:
        opts["path"] = args.path
    csv = is_csv_path(args.name)
    if args.smiles_column is not None:
        opts["smiles_column"] = args.smiles_column
    if csv:
        for key in ("target_columns", "task_type", "split"):
            if getattr(args, key) is not None:
                opts[key] = getattr(args, key)
    elif args.target_columns is not None:
        opts["target_column"] = args.target_columns
    return opts


def _run_task(args) -> int:
    from dnd.data.tasks import load_task
    start = time.perf_counter()
    td = load_task(args.name, root=args.data_root, seed=args.split_seed, strict=args.strict,
                   cache_dir=args.cache_dir, **_task_options(args))
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
                          cache_dir=args.cache_dir, report=report, workers=args.workers)
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


def run(args) -> int:
    from dnd.data.report import BadRecordError, DataFileError

    action = {"refractive-index": _run_refractive_index, "task": _run_task,
              "paired": _run_paired}[args.action]
    # unusable input: one clear line (it names the file/row), not a traceback
    with user_errors(DataFileError, BadRecordError, KeyError, ImportError):
        return action(args)
