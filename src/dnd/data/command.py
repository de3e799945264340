"""`dnd data`: prepare and inspect datasets.

  dnd data refractive-index --out FILE.csv.gz   build the RI set from `chemicals` (+ provenance JSON)
  dnd data task NAME [--root DIR]                load a downstream task, print splits and report
  dnd data paired SOURCE PATH [--limit N]        load a 3D source, print counts and report
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from dnd.data.report import BadRecordError, DataFileError, Report
from dnd.data.tasks.options import add_task_option_arguments, task_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    ri = sub.add_parser("refractive-index", help="build the refractive-index task CSV from the "
                        "`chemicals` package (CRC organic table + its identifier database)")
    ri.add_argument("--out", required=True, help="output CSV (.csv or .csv.gz); a "
                    "<name>.provenance.json is written beside it")

    task = sub.add_parser("task", help="load a downstream task and print its splits and report")
    task.add_argument("name", help="OGB name (ogbg-molesol ...), bp/mp/ri/logp, qm9-<target>, "
                      "or a CSV path")
    task.add_argument("--root", default=None, help="data folder (default: $DND_DATA)")
    task.add_argument("--seed", type=int, default=0, help="seed of random splits")
    task.add_argument("--cache-dir", default=None, help="store/reuse the built task here")
    task.add_argument("--strict", action="store_true", help="stop at the first bad record")
    task.add_argument("--path", default=None, help="logp: the SMILES+value CSV")
    add_task_option_arguments(task)

    paired = sub.add_parser("paired", help="load a paired 2D/3D source and print its report")
    paired.add_argument("source", choices=("qm9", "sdf", "pcqm4mv2", "smiles"))
    paired.add_argument("path")
    paired.add_argument("--limit", type=int, default=None)
    paired.add_argument("--cache-dir", default=None)
    paired.add_argument("--strict", action="store_true")
    paired.add_argument("--workers", type=int, default=None)


def _run_task(args) -> int:
    from dnd.data.tasks import load_task
    start = time.perf_counter()
    td = load_task(args.name, root=args.root, seed=args.seed, strict=args.strict,
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
    from dnd.data.paired import load_paired
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
    action = {"refractive-index": _run_refractive_index, "task": _run_task,
              "paired": _run_paired}[args.action]
    try:
        return action(args)
    except (DataFileError, BadRecordError, KeyError, ImportError) as e:
        # unusable input: one clear line (it names the file/row), not a traceback
        print(f"dnd data {args.action}: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
