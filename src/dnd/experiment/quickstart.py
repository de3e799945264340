"""`dnd quickstart`: a shipped pretrained model, then the whole D&D pipeline, on the data shipped
with the package, on a CPU.

0. shipped model: what most users need, and our best result: the foundation that ships with dnd
   (`dnd:SHIPPED_MODEL`, a D-MPNN distilled from GFN2-xTB on MOSES conformers) exported to
   chemprop and trained with the command we recommend (`dnd.experiment.chemprop`) on the
   embedded OGB task, then predictions from SMILES; no pretraining at all;
1-3. the pipeline of the shipped experiment config `quickstart.yaml` (denoise, distill D&D-NODE,
   finetune it and a RandInit twin), run by `dnd run`'s runner (`run_experiment`);
4. predict: properties of a few SMILES from the finetuned student, one of them invalid to show
   that bad input gets an error message instead of a crash.

Everything is sized to finish in a few minutes on two cores: the numbers show that the pipeline
works end to end, not what D&D achieves at the paper's scale (see the README for those runs).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from dnd.data.embedded import EMBEDDED_TASK, ogb_root
from dnd.data.tasks import load_task
from dnd.errors import UsageError
from dnd.evaluation.metrics import evaluate
from dnd.experiment import chemprop
from dnd.experiment.config import QuickstartConfig, load_config
from dnd.experiment.run import run_experiment
from dnd.inference.inputs import read_molecules
from dnd.inference.predict import predict_file
from dnd.models.chemprop_export import export_chemprop
from dnd.models.config import Method
from dnd.models.property import load_property_model

PIPELINE = Path(__file__).with_name("quickstart.yaml")
# Shown in the prediction demo: ethanol, benzene, aspirin, caffeine, an unparsable string.
DEMO_SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "C1CC(invalid"]
SHIPPED_MODEL = "dmpnn-xtb-moses"

def _quiet_lightning() -> None:
    """Keep the demo's output to what each stage did: no Lightning banners or tips."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"lightning\.")


def _stage(title: str):
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def _done(t0: float, what: str) -> None:
    print(f"   {what} ({time.perf_counter() - t0:.0f} s)", flush=True)


def _demo_csv(out: Path) -> Path:
    demo = out / "demo_molecules.csv"
    pd.DataFrame({"smiles": DEMO_SMILES}).to_csv(demo, index=False)
    return demo


def _demo_predictions(checkpoint: str | Path, out: Path, name: str) -> Path:
    preds_path = out / name
    table = predict_file(load_property_model(checkpoint), _demo_csv(out), preds_path)
    print(table.to_string(index=False, na_rep="", max_colwidth=40))
    return preds_path


def _chemprop_demo_predictions(model: Path, task, out: Path) -> Path:
    """chemprop's predictions for the demo SMILES; a row RDKit cannot read keeps its place with
    the reason in `error` (chemprop itself would stop at it)."""
    inputs = read_molecules(_demo_csv(out))
    readable = out / "demo_readable.csv"
    inputs.table.iloc[inputs.valid].to_csv(readable, index=False)
    raw = out / "demo_chemprop_predictions.csv"
    chemprop.run_command(chemprop.predict_command(model, readable, raw))
    got = pd.read_csv(raw)
    table = inputs.table.copy()
    for j, name in enumerate(task.spec.target_names):
        column = np.full(len(table), np.nan)
        column[inputs.valid] = got[f"t{j}"].to_numpy(dtype=float)
        table[f"pred_{name}"] = column
    table["error"] = inputs.errors
    preds_path = out / "predictions.csv"
    table.to_csv(preds_path, index=False)
    print(table.to_string(index=False, na_rep="", max_colwidth=40))
    return preds_path


def run_shipped(cfg: QuickstartConfig, out: Path) -> dict:
    """The shipped foundation through chemprop on the embedded task, then predictions."""
    if cfg.shipped_epochs is not None and cfg.shipped_epochs < 3:
        raise UsageError(f"--shipped-epochs {cfg.shipped_epochs}: chemprop trains longer than its 2 warmup "
                         "epochs; give 3 or more (0 skips the shipped-model path)")
    t0 = _stage(f"0 shipped model: chemprop train --from-foundation dnd:{SHIPPED_MODEL} on {EMBEDDED_TASK}, "
                "then predict")
    task = load_task(EMBEDDED_TASK, root=ogb_root())
    folder = out / "shipped"
    folder.mkdir(parents=True, exist_ok=True)
    foundation = export_chemprop(f"dnd:{SHIPPED_MODEL}", folder / f"{SHIPPED_MODEL}.chemprop.pt")
    csv = folder / f"{EMBEDDED_TASK}.csv"
    targets = chemprop.write_split_csv(task, csv)
    flags = list(chemprop.RECOMMENDED_FLAGS)
    if cfg.shipped_epochs is not None:
        flags[flags.index("--epochs") + 1] = str(cfg.shipped_epochs)
    cmd = chemprop.train_command(csv, targets, task.spec.task_type, folder / "chemprop", seed=0,
                                 foundation=foundation, extra=tuple(flags))
    print("   " + " ".join(Path(c).name if c == cmd[0] else c for c in cmd))
    chemprop.run_command(cmd)
    pred = chemprop.read_test_predictions(task, folder / "chemprop", targets)
    true = np.stack([r.y.view(-1).numpy() for r in task.test])
    test = evaluate(task.spec, true, pred)[task.spec.metric]
    print(f"   test {task.spec.metric} {test:.3f} (chemprop's defaults without a foundation: see results/vs-chemprop/)")
    preds = _chemprop_demo_predictions(chemprop.best_model(folder / "chemprop"), task, folder)
    _done(t0, f"-> {preds}")
    return {"metric": task.spec.metric, "test": test, "model": chemprop.best_model(folder / "chemprop")}


def run_pipeline(out: Path) -> dict:
    """The pipeline of `quickstart.yaml` into OUT/quickstart/ (results and runs side by side), on
    the embedded task whatever $DND_DATA says; returns the finetuning rows."""
    t0 = _stage(f"1-3 pipeline ({PIPELINE.name}): denoise a tiny 3D teacher, distill D&D-NODE into a tiny "
                f"TokenGT, finetune it and a RandInit twin on {EMBEDDED_TASK}")
    cfg = replace(load_config(PIPELINE), data_root=str(ogb_root()), results_dir=str(out), work_dir=str(out))
    results = run_experiment(cfg, PIPELINE.read_text())
    rows = pd.read_csv(results / "all_runs.csv")
    print()
    print((results / "summary.md").read_text(), end="")
    _done(t0, f"tables: {results / 'summary.md'}, {results / 'summary.csv'}")
    return rows


def run_quickstart(cfg: QuickstartConfig, out_dir: str | Path) -> dict:
    """Runs the shipped-model path and the pipeline into `out_dir`; returns the finetuning
    results and output paths."""
    _quiet_lightning()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    shipped = run_shipped(cfg, out) if cfg.shipped_epochs != 0 else None
    if not cfg.pipeline:
        print(f"\nquickstart finished in {time.perf_counter() - start:.0f} s; everything is under {out}/")
        return {"shipped": shipped}

    rows = run_pipeline(out)
    student = rows[rows["method"] == Method.DND_NODE.label].iloc[0]["checkpoint"]
    t0 = _stage("4 predict from SMILES with the finetuned D&D-NODE model")
    preds_path = _demo_predictions(student, out, "predictions.csv")
    _done(t0, f"-> {preds_path}")

    print(f"\nquickstart finished in {time.perf_counter() - start:.0f} s; everything is under {out}/")
    print(f"try:  dnd predict --model {student} --input YOUR.csv --out preds.csv")
    return {"shipped": shipped, "results": rows.to_dict("records"), "predictions": preds_path}
