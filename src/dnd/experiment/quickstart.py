"""`dnd quickstart`: a shipped pretrained model, then the whole D&D pipeline, on the data shipped
with the package, on a CPU.

0. shipped model: finetune the D&D-NODE D-MPNN that ships with dnd (`dnd:SHIPPED_MODEL`,
   distilled from a teacher denoised on drug-like MOSES conformers) on the embedded OGB task and
   predict from SMILES: what most users need, with no pretraining at all;
1. denoise: pretrain a tiny 3D teacher (TorchMD-NET ET) on the embedded QM9 conformers;
2. distill: D&D-NODE, a tiny TokenGT student learns to reproduce the teacher's atom features
   from the 2D graph alone;
3. finetune: the distilled student and a randomly initialised twin (same architecture, same
   seed, same schedule) on the embedded OGB task (ogbg-molesol), test RMSE side by side;
4. predict: properties of a few SMILES from the finetuned checkpoint, one of them invalid to show
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

from dnd.data.config import CorpusConfig
from dnd.data.corpus import load_corpus
from dnd.data.embedded import EMBEDDED_TASK, ogb_root
from dnd.data.tasks import load_task
from dnd.evaluation.summary import write_summary
from dnd.experiment.config import QuickstartConfig
from dnd.inference.predict import predict_file
from dnd.models.property import load_property_model
from dnd.objectives.config import DistillObjective
from dnd.training.config import DistillRunConfig, FinetuneConfig, StudentSpec, TrainerConfig, denoise_preset
from dnd.training.denoise import run_denoise
from dnd.training.distill import run_distill
from dnd.training.finetune import run_finetune

# Shown in the prediction demo: ethanol, benzene, aspirin, caffeine, an unparsable string.
DEMO_SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "C1CC(invalid"]
SHIPPED_MODEL = "dmpnn-node-druglike"


def _trainer(epochs: int, seed: int) -> TrainerConfig:
    return TrainerConfig(max_epochs=epochs, checkpoint_every_n_steps=0, log_every_n_steps=5,
                         seed=seed, progress=False)


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
    # chemprop-like settings for chemprop's architecture: norm readout, lr 1e-3, batch 50
    ft = FinetuneConfig(init=f"dnd:{SHIPPED_MODEL}", readout="norm", lr=1e-3, warmup_epochs=2,
                        batch_size=50, method="D&D-NODE D-MPNN (shipped)",
                        trainer=_trainer(cfg.shipped_epochs, cfg.seed))
    result = run_finetune(ft, task, out / "shipped" / "finetune")
    print(f"   best epoch {result['best_epoch']}: valid {result['metric']} {result['valid']:.3f}, "
          f"test {result['metric']} {result['test']:.3f}")
    preds = _demo_predictions(result["checkpoint"], out / "shipped", "predictions.csv")
    _done(t0, f"-> {preds}")
    return result


def run_quickstart(cfg: QuickstartConfig, out_dir: str | Path) -> dict:
    """Runs the shipped-model path and the four pipeline stages into `out_dir`; returns the
    finetuning results and output paths."""
    _quiet_lightning()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    shipped = run_shipped(cfg, out) if cfg.shipped_epochs > 0 else None
    if not cfg.pipeline:
        print(f"\nquickstart finished in {time.perf_counter() - start:.0f} s; everything is under {out}/")
        return {"shipped": shipped}

    t0 = _stage("1/4 denoise: tiny 3D teacher on embedded QM9 conformers")
    corpus = CorpusConfig("embedded", limit=cfg.molecules)
    records = load_corpus(corpus)
    dcfg = denoise_preset("tiny")
    dcfg = replace(dcfg, trainer=_trainer(cfg.denoise_epochs, cfg.seed))
    teacher = run_denoise(dcfg, records, out / "teacher", corpus=corpus)
    _done(t0, f"{len(records)} molecules, {cfg.denoise_epochs} epochs -> {teacher}")

    t0 = _stage("2/4 distill: D&D-NODE into a tiny TokenGT student")
    # cached: the teacher runs once over the corpus instead of once per batch and epoch
    scfg = DistillRunConfig(student=StudentSpec("tokengt", "tiny"), objective=DistillObjective(variant="node"),
                            trainer=_trainer(cfg.distill_epochs, cfg.seed), batch_size=32, cached=True)
    scfg.optim = replace(scfg.optim, lr=1e-3, warmup_steps=20)
    student = run_distill(scfg, records, teacher, out / "student", corpus=corpus)
    _done(t0, f"{cfg.distill_epochs} epochs -> {student}")

    t0 = _stage(f"3/4 finetune on {EMBEDDED_TASK}: D&D-NODE student vs RandInit twin")
    task = load_task(EMBEDDED_TASK, root=ogb_root())
    print(f"   {task.spec.name}: {task.spec.task_type}, metric {task.spec.metric}, splits {task.sizes()}")
    base = FinetuneConfig(preset="tiny", readout="mp", lr=cfg.finetune_lr, warmup_epochs=1,
                          batch_size=cfg.finetune_batch_size, trainer=_trainer(cfg.finetune_epochs, cfg.seed))
    results = []
    for label, folder, init in (("D&D-NODE", "dnd-node", str(student)), ("RandInit", "randinit", None)):
        t1 = time.perf_counter()
        results.append(run_finetune(replace(base, init=init, method=label), task, out / "finetune" / folder))
        r = results[-1]
        print(f"   {label:9s} best epoch {r['best_epoch']:2d}: valid {r['metric']} {r['valid']:.3f}, "
              f"test {r['metric']} {r['test']:.3f} ({time.perf_counter() - t1:.0f} s)", flush=True)
    summary = write_summary(results, out / "finetune")
    print()
    print(summary["markdown"].read_text(), end="")
    _done(t0, f"tables: {summary['markdown']}, {summary['csv']}")

    t0 = _stage("4/4 predict from SMILES with the finetuned D&D-NODE model")
    preds_path = _demo_predictions(results[0]["checkpoint"], out, "predictions.csv")
    _done(t0, f"-> {preds_path}")

    print(f"\nquickstart finished in {time.perf_counter() - start:.0f} s; everything is under {out}/")
    print(f"try:  dnd predict --model {results[0]['checkpoint']} --input YOUR.csv --out preds.csv")
    return {"shipped": shipped, "results": results, "teacher": teacher, "student": student,
            "predictions": preds_path}
