"""chemprop v2 with its defaults on the very same splits dnd uses, for a side-by-side table.

chemprop lives in its own virtual environment (it pins its own lightning/torch ranges), created on
first use; this script, run with dnd's interpreter, writes each task's split as one CSV with a
`split` column (chemprop's --splits-column), trains one chemprop model per seed, predicts the test
rows and scores them with dnd's evaluator (OGB's Evaluator for OGB tasks), so both tools are judged
by one metric implementation.

    python benchmarks/chemprop_baseline.py --tasks ogbg-molesol ogbg-molbbbp --seeds 0 1 2 \
        --data-root ../shared/data/ogb --out results/chemprop
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dnd.data.tasks import load_task
from dnd.evaluation.metrics import evaluate

CHEMPROP_VERSION = "2.3.1"


def ensure_venv(venv: Path, torch_spec: str) -> Path:
    exe = venv / "bin" / "chemprop"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, torch_spec], check=True)
        subprocess.run([*pip, f"chemprop=={CHEMPROP_VERSION}"], check=True)
    return exe


def split_csv(task, path: Path) -> list[str]:
    names = [f"t{i}" for i in range(task.spec.num_tasks)]
    rows = []
    for split, records in (("train", task.train), ("val", task.valid), ("test", task.test)):
        for r in records:
            rows.append([r.smiles, *r.y.view(-1).tolist(), split])
    pd.DataFrame(rows, columns=["smiles", *names, "split"]).to_csv(path, index=False)
    return names


def run_one(exe: Path, task, csv: Path, names: list[str], seed: int, work: Path) -> dict:
    kind = "classification" if task.spec.task_type == "classification" else "regression"
    model_dir = work / f"seed{seed}"
    subprocess.run([str(exe), "train", "-i", str(csv), "-s", "smiles", "--target-columns", *names,
                    "--splits-column", "split", "-t", kind, "--pytorch-seed", str(seed),
                    "--data-seed", str(seed), "-o", str(model_dir), "-q", "--accelerator", "cpu"],
                   check=True)
    test_csv = work / "test.csv"
    pd.read_csv(csv).query("split == 'test'")[["smiles"]].to_csv(test_csv, index=False)
    model = next(model_dir.rglob("best*.pt"))
    preds_csv = model_dir / "test_preds.csv"
    subprocess.run([str(exe), "predict", "-i", str(test_csv), "-s", "smiles", "--model-paths", str(model),
                    "-o", str(preds_csv), "-q", "--accelerator", "cpu"], check=True)
    pred = pd.read_csv(preds_csv)[names].to_numpy(dtype=float)
    true = np.stack([r.y.view(-1).numpy() for r in task.test])
    return evaluate(task.spec, true, pred)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["ogbg-molesol", "ogbg-molfreesolv", "ogbg-molbbbp", "ogbg-molbace"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--data-root", required=True, help="folder with the OGB layouts / CSVs")
    ap.add_argument("--out", default="results/chemprop")
    ap.add_argument("--venv", default=".venv-chemprop")
    ap.add_argument("--torch-spec", default="torch==2.13.0")
    args = ap.parse_args(argv)

    exe = ensure_venv(Path(args.venv), args.torch_spec)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.tasks:
        task = load_task(name, root=args.data_root)
        work = out / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        csv = work / "data.csv"
        names = split_csv(task, csv)
        for seed in args.seeds:
            start = time.time()
            metrics = run_one(exe, task, csv, names, seed, work)
            metric = task.spec.metric
            rows.append({"task": name, "method": f"chemprop {CHEMPROP_VERSION} (defaults)", "seed": seed,
                         "metric": metric, "test": metrics[metric], "wall_s": round(time.time() - start, 1)})
            print(rows[-1], flush=True)
            pd.DataFrame(rows).to_csv(out / "runs.csv", index=False)  # keep finished work
    df = pd.DataFrame(rows)
    summary = df.groupby(["task", "method", "metric"])["test"].agg(["mean", "std", "count"]).reset_index()
    summary.to_csv(out / "summary.csv", index=False)
    lines = ["| task | method | metric | test (mean ± std) | seeds |", "|---|---|---|---|---|"]
    lines += [f"| {r.task} | {r.method} | {r.metric} | {r['mean']:.3f} ± {r['std']:.3f} | {r['count']} |"
              for _, r in summary.iterrows()]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
