"""`dnd quickstart`: a shipped pretrained model, then the whole D&D pipeline, on the data shipped
with the package, on a CPU.

0. shipped model: finetune the D&D-NODE D-MPNN that ships with dnd (`dnd:SHIPPED_MODEL`,
   distilled from a teacher denoised on drug-like MOSES conformers) on the embedded OGB task,
   with a D-MPNN's finetuning defaults (`finetune_defaults`), and predict from SMILES: what most
   users need, with no pretraining at all;
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

import pandas as pd

from dnd.data.embedded import EMBEDDED_TASK, ogb_root
from dnd.data.tasks import load_task
from dnd.experiment.config import QuickstartConfig, load_config
from dnd.experiment.run import run_experiment
from dnd.inference.predict import predict_file
from dnd.models.config import Method
from dnd.models.property import load_property_model
from dnd.training.config import TrainerConfig, finetune_defaults
from dnd.training.finetune import run_finetune

PIPELINE = Path(__file__).with_name("quickstart.yaml")
# Shown in the prediction demo: ethanol, benzene, aspirin, caffeine, an unparsable string.
DEMO_SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "C1CC(invalid"]
SHIPPED_MODEL = "dmpnn-node-druglike"


def _trainer(epochs: int) -> TrainerConfig:
    return TrainerConfig(max_epochs=epochs, checkpoint_every_n_steps=0, log_every_n_steps=5, progress=False)


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


def _demo_predictions(checkpoint: str | Path, out: Path, name: str) -> Path:
    demo = out / "demo_molecules.csv"
    pd.DataFrame({"smiles": DEMO_SMILES}).to_csv(demo, index=False)
    preds_path = out / name
    table = predict_file(load_property_model(checkpoint), demo, preds_path)
    print(table.to_string(index=False, na_rep="", max_colwidth=40))
    return preds_path


def run_shipped(cfg: QuickstartConfig, out: Path) -> dict:
    """Finetune the shipped D-MPNN on the embedded task and predict (no pretraining)."""
    t0 = _stage(f"0 shipped model: finetune dnd:{SHIPPED_MODEL} on {EMBEDDED_TASK}, then predict")
    task = load_task(EMBEDDED_TASK, root=ogb_root())
    ft = replace(finetune_defaults("dmpnn"), init=f"dnd:{SHIPPED_MODEL}", method="D&D-NODE D-MPNN (shipped)",
                 trainer=_trainer(cfg.shipped_epochs))
    result = run_finetune(ft, task, out / "shipped" / "finetune")
    print(f"   best epoch {result['best_epoch']}: valid {result['metric']} {result['valid']:.3f}, "
          f"test {result['metric']} {result['test']:.3f}")
    preds = _demo_predictions(result["checkpoint"], out / "shipped", "predictions.csv")
    _done(t0, f"-> {preds}")
    return result


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
    shipped = run_shipped(cfg, out) if cfg.shipped_epochs > 0 else None
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
