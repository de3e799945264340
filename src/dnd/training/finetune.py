"""Step 3 of D&D: finetune a 2D encoder (pretrained student or random init) on a property task.

The whole encoder is trained together with a small MLP head on the MP (mean-pool) or VN
(virtual node / graph token) readout. Learning rates follow the paper's Table 5c: AdamW, lr 5e-4,
weight decay 0.05, layer-wise decay 0.65 (head at the full rate, every encoder layer below it
0.65x the one above, input embeddings lowest), 5 warmup epochs then cosine, 100 epochs, batch 128.
Layer-wise decay keeps the pretrained lower layers close to what distillation taught them while
the top adapts to the task.

Targets: regression is trained with L1 on standardised targets (z-scores fitted on the training
split) and reported in original units; classification uses BCE with logits, and missing labels
(NaN, common in multi-task sets such as Tox21 or ToxCast) are masked out of loss and gradient.
OGB regression tasks (ESOL, FreeSolv, Lipophilicity) are standardised too (OGB leaves that to the
model): with a zero-initialised output scale the head would otherwise spend its warmup learning
the target's offset (ESOL's mean is about -3 log mol/L), and L1 in z-units is comparable across
tasks. `--raw-targets` trains on the raw labels instead. Metrics never change: they are computed
in original units by `dnd.evaluation.evaluate`.

The model is selected on the validation metric; after training the best checkpoint is reloaded
from disk (the same path `dnd predict` takes) and scored on validation and test.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnd.errors import UsageError
from dnd.data.loader import make_loader
from dnd.data.report import DataFileError
from dnd.data.task import TaskData, TaskSpec, fit_standardization
from dnd.data.tasks.options import add_task_option_arguments, task_options
from dnd.evaluation.metrics import evaluate, higher_is_better
from dnd.models.readout import READOUTS, Readout
from dnd.models.registry import build_encoder, encoder_config_dict, load_encoder, preset_config
from dnd.training.checkpoint import CheckpointError, hparams, load_checkpoint
from dnd.training.optim import OptimConfig, adamw_warmup_cosine, exempt_from_decay, split_decay
from dnd.training.trainer import (TrainerConfig, add_trainer_arguments, build_trainer, check_run_options, resume_path,
                                  trainer_config_from_args)

RANDINIT = "RandInit"


@dataclass
class HeadConfig:
    """MLP on the readout: `num_layers` linear layers (GELU + dropout between them)."""

    hidden_dim: int = 0        # 0: the readout's width (the encoder's hidden size; 4x for mmms)
    num_layers: int = 2
    dropout: float = 0.0


@dataclass
class FinetuneConfig:
    init: str | None = None            # student checkpoint (distill / infomax); None = RandInit
    encoder: str = "tokengt"           # RandInit only: registry name, ...
    preset: str = "paper"              # ... preset ...
    # ... and per-key overrides of the preset: the pretrained students' (StudentSpec.overrides),
    # so that every method of a comparison has the same architecture
    overrides: dict[str, Any] = field(default_factory=dict)
    readout: str = "mp"                # "mp" | "vn"
    method: str | None = None          # label in result tables (default: from --init)
    head: HeadConfig = field(default_factory=HeadConfig)
    lr: float = 5e-4
    weight_decay: float = 0.05
    layer_decay: float = 0.65
    warmup_epochs: float = 5.0
    min_lr_ratio: float = 0.0
    batch_size: int = 128
    train_fraction: float = 1.0        # seeded subsample of the training split (label efficiency)
    max_train: int | None = None       # cap on training molecules after the fraction (CPU-scale runs)
    standardize_targets: bool = True   # regression: L1 on z-scores (see module docstring)
    num_workers: int = 0
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_epochs=100, checkpoint_every_n_steps=0))


# --------------------------------------------------------------------------------------------
# model pieces
# --------------------------------------------------------------------------------------------

class PredictionHead(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, cfg: HeadConfig):
        super().__init__()
        if cfg.num_layers < 1:
            raise ValueError("head needs at least one layer")
        hidden = cfg.hidden_dim or in_dim
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(cfg.num_layers - 1):
            layers += [nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(cfg.dropout)]
            dim = hidden
        layers.append(nn.Linear(dim, out_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.mlp(h)


def layer_decay_groups(encoder: nn.Module, top_modules: Sequence[nn.Module], lr: float,
                       decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups with layer-wise lr decay (BEiT's recipe, which Table 5c follows).

    `encoder.layer_groups()` lists parameter groups bottom (embeddings) first; with n groups,
    group i gets lr * decay**(n - i), so the top encoder layer trains at decay * lr and the
    embeddings at decay**n * lr. `top_modules` (readout, head) and the encoder's
    `top_parameters()` (TokenGT's final LayerNorm, BEiT's fc_norm) train at the full lr. Encoder
    parameters missing from both would silently be frozen, so they are an error. Each group is
    split in two so that norms, biases and embeddings take no weight decay (`split_decay`).
    """
    groups = encoder.layer_groups()
    top = [*encoder.top_parameters(), *(p for m in top_modules for p in m.parameters())]
    listed = {id(p) for g in groups for p in g} | {id(p) for p in encoder.top_parameters()}
    unlisted = [n for n, p in encoder.named_parameters() if id(p) not in listed]
    if unlisted:
        raise ValueError(f"encoder.layer_groups() misses parameters {unlisted[:5]}")
    n = len(groups)
    out = []
    for i, params in enumerate(groups):
        scale = decay ** (n - i)
        out.append({"params": list(params), "lr": lr * scale, "lr_scale": scale, "name": f"encoder.{i}"})
    out.append({"params": top, "lr": lr, "lr_scale": 1.0, "name": "head"})
    exempt = set().union(exempt_from_decay(encoder), *(exempt_from_decay(m) for m in top_modules))
    return split_decay([g for g in out if g["params"]], exempt)


def masked_loss(out: Tensor, y: Tensor, task_type: str) -> Tensor:
    """Mean loss over labelled entries of [B, T]; NaN labels give no loss and no gradient.

    Loss is averaged over all labelled (molecule, target) pairs of the batch, so a target with
    no label in a batch simply does not contribute. A batch without any label returns a zero
    that is still attached to the graph (backward works, gradients are exactly zero).
    """
    labelled = ~torch.isnan(y)
    target = torch.where(labelled, y, torch.zeros_like(y))
    if task_type == "classification":
        per_entry = F.binary_cross_entropy_with_logits(out, target, reduction="none")
    else:
        per_entry = F.l1_loss(out, target, reduction="none")
    per_entry = torch.where(labelled, per_entry, torch.zeros_like(per_entry))
    return per_entry.sum() / labelled.sum().clamp(min=1)


class FinetuneModule(L.LightningModule):
    """Encoder + readout + head. Everything needed to rebuild it is a constructor argument and is
    saved as plain hparams, so a checkpoint alone is enough for `dnd predict`."""

    def __init__(self, encoder_name: str, encoder_config: dict, readout: str, head: dict,
                 task: dict, optim: dict, layer_decay: float = 0.65, warmup_epochs: float = 5.0,
                 method: str = RANDINIT):
        super().__init__()
        self.save_hyperparameters()
        self.spec = TaskSpec.from_dict(task)
        self.encoder = build_encoder(encoder_name, encoder_config)
        self.readout = Readout(readout)
        self.head = PredictionHead(self.readout.out_dim(self.encoder.hidden_dim), self.spec.num_tasks,
                                   HeadConfig(**head))
        self._val_outputs: list[tuple[Tensor, Tensor]] = []

    # ---- inference --------------------------------------------------------------------------
    def embed(self, batch) -> tuple[Tensor, Tensor]:
        """(node embeddings [N, d], graph embeddings [B, d] from the readout)."""
        enc = self.encoder(batch)
        return enc.node, self.readout(enc, batch)

    def forward(self, batch) -> Tensor:
        """Raw outputs [B, T]: standardised values (regression) or logits (classification)."""
        return self.head(self.embed(batch)[1])

    def to_units(self, out: Tensor) -> Tensor:
        """Raw outputs -> original units (regression) or probabilities (classification)."""
        if self.spec.task_type == "classification":
            return torch.sigmoid(out)
        return self.spec.destandardize_y(out)

    # ---- training ---------------------------------------------------------------------------
    def _loss(self, batch) -> tuple[Tensor, Tensor]:
        out = self(batch)
        y = batch.y.reshape(out.shape).to(out.dtype)
        target = self.spec.standardize_y(y) if self.spec.task_type == "regression" else y
        return masked_loss(out, target, self.spec.task_type), out

    def training_step(self, batch, batch_idx):
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch.num_graphs)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, out = self._loss(batch)
        self.log("val/loss", loss, on_epoch=True, batch_size=batch.num_graphs)
        self._val_outputs.append((self.to_units(out).detach(), batch.y.reshape(out.shape)))

    def on_validation_epoch_end(self):
        outputs, self._val_outputs = self._val_outputs, []
        if self.trainer.sanity_checking or not outputs:
            return  # a couple of sanity batches may lack a class; the metric is meaningless there
        pred, true = (torch.cat([o[i] for o in outputs]) for i in (0, 1))
        if self.trainer.world_size > 1:  # DDP: every rank scores the whole (padded) validation set
            pred, true = (self.all_gather(t).flatten(0, 1) for t in (pred, true))
        metric = evaluate(self.spec, true.double().cpu().numpy(), pred.double().cpu().numpy())[self.spec.metric]
        self.log(f"val/{self.spec.metric}", metric, prog_bar=True)

    def configure_optimizers(self):
        hp = self.hparams
        cfg = OptimConfig(**hp.optim)
        groups = layer_decay_groups(self.encoder, [self.readout, self.head], cfg.lr, hp.layer_decay)
        total = int(self.trainer.estimated_stepping_batches)
        # estimated_stepping_batches has set up the train loader; its length is per device
        per_epoch = math.ceil(self.trainer.num_training_batches / self.trainer.accumulate_grad_batches)
        cfg = replace(cfg, warmup_steps=int(round(hp.warmup_epochs * per_epoch)))
        return adamw_warmup_cosine(groups, cfg, total)


def load_finetuned(path: str | Path) -> FinetuneModule:
    """Rebuild a finetuned model from its checkpoint alone (eval mode, CPU)."""
    ckpt = load_checkpoint(path)
    hp = hparams(ckpt, path)
    if "task" not in hp or "encoder_name" not in hp:
        raise CheckpointError(f"{path}: not a finetuned model (no task/encoder in hparams); "
                              "`dnd finetune` writes those")
    model = FinetuneModule(**hp)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


@torch.no_grad()
def predict_records(model: FinetuneModule, records: Sequence, batch_size: int = 256) -> np.ndarray:
    """Predictions [n, T] in original units / probabilities, in record order."""
    model.eval()
    device = next(model.parameters()).device
    outs = [model.to_units(model(batch.to(device))).cpu()
            for batch in make_loader(list(records), batch_size)]
    if not outs:
        return np.zeros((0, model.spec.num_tasks))
    return torch.cat(outs).double().numpy()


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------

def subsample_train(records: Sequence, fraction: float, seed: int, max_count: int | None = None) -> list:
    """A seeded subset of `fraction` of the training split (at least one), kept in original order.
    `max_count` caps the split first, so fractions are shares of what a full run trains on."""
    if not 0 < fraction <= 1:
        raise UsageError(f"train fraction must be in (0, 1], got {fraction}")
    n = len(records)
    k = max(1, int(round(fraction * min(n, max_count or n))))
    if k == n:
        return list(records)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    return [records[i] for i in idx]


def training_spec(task: TaskData, standardize_targets: bool, train: Sequence | None = None) -> TaskSpec:
    """The TaskSpec the model trains with: regression standardised with the mean/std of `train`,
    the molecules actually trained on (default: the whole training split), or raw when
    `standardize_targets` is off. The loader's mean/std (fitted on the whole split) are not
    reused: after --train-fraction/--max-train subsampling they would carry labels of molecules
    the run never trains on."""
    spec = task.spec
    if spec.task_type != "regression":
        return spec
    if not standardize_targets:
        return replace(spec, standardize=False, mean=None, std=None)
    mean, std = fit_standardization(task.train if train is None else train, spec.num_tasks)
    return replace(spec, standardize=True, mean=mean, std=std)


def method_label(cfg: FinetuneConfig) -> str:
    """Name of the pretraining method in result tables, as the paper names them: explicit
    `method`, else RandInit, D&D-NODE / D&D-GRAPH (distill checkpoints) or 3DInfomax."""
    if cfg.method:
        return cfg.method
    if not cfg.init:
        return RANDINIT
    hp = hparams(load_checkpoint(cfg.init), cfg.init)
    if hp.get("stage") == "distill":
        return f"D&D-{str(hp.get('objective', {}).get('variant', '')).upper()}"
    if hp.get("stage") == "infomax":
        return "3DInfomax"
    return Path(cfg.init).stem


def check_scorable(task_data: TaskData) -> None:
    """Classification is scored by ROC-AUC, which needs both classes of some target in a split;
    without this check a one-class validation split crashes at the first validation epoch."""
    if task_data.spec.task_type != "classification":
        return
    for split in ("valid", "test"):
        y = task_data.labels(split)
        if len(y) and not any(np.isin(0.0, y[:, t]) and np.isin(1.0, y[:, t]) for t in range(y.shape[1])):
            raise DataFileError(
                f"task {task_data.spec.name}: the {split} split has only one class in every target, "
                "so ROC-AUC is undefined; use --split random, another --split-seed, or more data")


def _initial_encoder(cfg: FinetuneConfig, train: Sequence) -> tuple[str, dict, dict | None]:
    """(name, full config, pretrained weights or None). RandInit configs are completed from the
    training split (PNA's degree histogram) so the checkpoint's config is self-contained."""
    if cfg.init:
        encoder = load_encoder(cfg.init)
        return (*encoder_config_dict(encoder), encoder.state_dict())
    config = preset_config(cfg.encoder, cfg.preset) | dict(cfg.overrides)
    encoder = build_encoder(cfg.encoder, config, records=train)
    return (*encoder_config_dict(encoder), None)


def _eval_device(cfg: TrainerConfig) -> torch.device:
    gpu = cfg.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return torch.device("cuda" if gpu else "cpu")


def run_finetune(cfg: FinetuneConfig, task_data: TaskData, out_dir: str | Path,
                 resume: bool = False) -> dict[str, Any]:
    """Finetune once (seed = cfg.trainer.seed) and return its metrics (also in OUT/metrics.json).

    Returned keys: task, method, readout, seed, train_fraction, n_train, metric, valid, test
    (the selected model's scores in original units), best_epoch, checkpoint (best weights).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed = cfg.trainer.seed
    L.seed_everything(seed, workers=True, verbose=False)
    train = subsample_train(task_data.train, cfg.train_fraction, seed, cfg.max_train)
    if not train or not task_data.valid:
        raise UsageError(f"task {task_data.spec.name}: training and validation splits must be non-empty")
    spec = training_spec(task_data, cfg.standardize_targets, train)
    check_scorable(task_data)
    name, config, state = _initial_encoder(cfg, train)
    method = method_label(cfg)
    optim = asdict(OptimConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, min_lr_ratio=cfg.min_lr_ratio))
    model = FinetuneModule(name, config, cfg.readout, asdict(cfg.head), spec.to_dict(), optim,
                           layer_decay=cfg.layer_decay, warmup_epochs=cfg.warmup_epochs, method=method)
    if state is not None:
        model.encoder.load_state_dict(state)

    monitor = f"val/{spec.metric}"
    ckpt = resume_path(out, resume)
    trainer = build_trainer(cfg.trainer, out, monitor=monitor,
                            mode="max" if higher_is_better(spec.metric) else "min", resume=ckpt is not None)
    train_loader = make_loader(train, cfg.batch_size, shuffle=True, seed=seed, num_workers=cfg.num_workers)
    valid_loader = make_loader(task_data.valid, cfg.batch_size, num_workers=cfg.num_workers)
    trainer.fit(model, train_loader, valid_loader, ckpt_path=ckpt)

    best = next(c for c in trainer.checkpoint_callbacks if c.monitor == monitor)
    if not best.best_model_path:
        raise RuntimeError(f"{out}: no validation epoch finished, so there is no model to select")
    selected = load_finetuned(best.best_model_path).to(_eval_device(cfg.trainer))
    scores: dict[str, Any] = {}
    for split in ("valid", "test"):
        records = task_data.valid if split == "valid" else task_data.test
        if records:
            for key, value in evaluate(spec, task_data.labels(split),
                                       predict_records(selected, records, cfg.batch_size)).items():
                scores[split if key == spec.metric else f"{split}/{key}"] = value
    result = {"task": spec.name, "method": method, "readout": cfg.readout, "seed": seed,
              "train_fraction": cfg.train_fraction, "n_train": len(train), "metric": spec.metric,
              **scores, "best_epoch": int(load_checkpoint(best.best_model_path)["epoch"]),
              "checkpoint": str(best.best_model_path)}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


# --------------------------------------------------------------------------------------------
# seeds and tables
# --------------------------------------------------------------------------------------------

def run_seeds(cfg: FinetuneConfig, task_data: TaskData, out_dir: str | Path, seeds: Sequence[int],
              resume: bool = False) -> list[dict[str, Any]]:
    """One `run_finetune` per seed under OUT/seed<k>/."""
    results = []
    for seed in seeds:
        run_cfg = replace(cfg, trainer=replace(cfg.trainer, seed=int(seed)))
        results.append(run_finetune(run_cfg, task_data, Path(out_dir) / f"seed{seed}", resume=resume))
    return results


_GROUP = ["task", "method", "readout", "train_fraction", "metric"]


def summarize(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Mean and (population) std over seeds of valid/test scores per task, method, readout and
    train fraction, in the order the groups first appear. `test_standardized_*`: the test metric
    in standardised units (regression trained on standardised labels; NaN otherwise), the units
    of the paper's curated-set MAEs."""
    df = pd.DataFrame(list(results))
    if "test" not in df:
        df["test"] = np.nan
    standardized = [c for c in df if c.startswith("test/") and c.endswith("_standardized")]
    df["test_standardized"] = df[standardized].bfill(axis=1).iloc[:, 0] if standardized else np.nan
    pop_std = lambda s: s.std(ddof=0)  # noqa: E731
    agg = df.groupby(_GROUP, sort=False).agg(
        seeds=("seed", "count"), valid_mean=("valid", "mean"), valid_std=("valid", pop_std),
        test_mean=("test", "mean"), test_std=("test", pop_std),
        test_standardized_mean=("test_standardized", "mean"), test_standardized_std=("test_standardized", pop_std))
    return agg.reset_index()


def summary_markdown(summary: pd.DataFrame) -> str:
    lines = ["| task | method | readout | train fraction | metric | test | test (standardised) | valid | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples(index=False):
        arrow = "↑" if higher_is_better(r.metric) else "↓"
        z = ("–" if pd.isna(r.test_standardized_mean)
             else f"{r.test_standardized_mean:.3f} ± {r.test_standardized_std:.3f}")
        lines.append(f"| {r.task} | {r.method} | {r.readout} | {r.train_fraction:g} | {r.metric} {arrow} | "
                     f"{r.test_mean:.3f} ± {r.test_std:.3f} | {z} | {r.valid_mean:.3f} ± {r.valid_std:.3f} | {r.seeds} |")
    return "\n".join(lines) + "\n"


def write_summary(results: Sequence[dict[str, Any]], out_dir: str | Path) -> dict[str, Path]:
    """results.csv (one row per run), summary.csv and summary.md (mean ± std over seeds)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"runs": out / "results.csv", "csv": out / "summary.csv", "markdown": out / "summary.md"}
    pd.DataFrame(list(results)).to_csv(paths["runs"], index=False)
    summary = summarize(results)
    summary.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(summary_markdown(summary))
    return paths


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = FinetuneConfig()
    g = parser.add_argument_group("task")
    g.add_argument("--task", required=True, help="OGB name (ogbg-molesol), curated (bp, mp, ri, logp), qm9-<target> or a CSV")
    g.add_argument("--data-root", default=None, help="folder with the task's data (OGB layout, CSVs)")
    g.add_argument("--split-seed", type=int, default=0, help="seed of random splits (curated sets, CSVs)")
    g.add_argument("--task-cache", default=None, help="folder to cache the featurized task in")
    g.add_argument("--train-fraction", type=float, default=d.train_fraction,
                   help="finetune on a seeded random fraction of the training split (valid/test untouched)")
    g.add_argument("--max-train", type=int, default=None,
                   help="cap on training molecules after --train-fraction (CPU-scale runs)")
    g.add_argument("--raw-targets", action="store_true",
                   help="regression: L1 on raw labels instead of train-standardised ones")
    add_task_option_arguments(g)
    g = parser.add_argument_group("model")
    g.add_argument("--init", default=None, help="student checkpoint (distill/infomax); omit for RandInit")
    g.add_argument("--encoder", default=d.encoder, help="RandInit encoder: tokengt or pna")
    g.add_argument("--preset", default=d.preset, help="RandInit encoder preset: paper, cpu-small, tiny")
    g.add_argument("--encoder-config", type=json.loads, default={},
                   help='RandInit: JSON overrides of the preset, as the students\' (e.g. \'{"num_layers": 6}\')')
    g.add_argument("--readout", nargs="+", default=[d.readout], choices=list(READOUTS),
                   help="readout(s): mp (mean), vn (virtual node), norm (chemprop's sum/100), mmms "
                   "(min/max/mean/sum, 3DInfomax's PNA readout); several give one run set each")
    g.add_argument("--method", default=None, help="label in the result tables (default: RandInit or the --init run name)")
    g.add_argument("--head-hidden", type=int, default=d.head.hidden_dim, help="head hidden size (0: the readout's width)")
    g.add_argument("--head-layers", type=int, default=d.head.num_layers)
    g.add_argument("--head-dropout", type=float, default=d.head.dropout)
    g = parser.add_argument_group("optimisation (paper Table 5c)")
    g.add_argument("--lr", type=float, default=d.lr)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--layer-decay", type=float, default=d.layer_decay, help="lr multiplier per encoder layer below the head")
    g.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs)
    g.add_argument("--min-lr-ratio", type=float, default=d.min_lr_ratio)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--num-workers", type=int, default=d.num_workers)
    g.add_argument("--seeds", type=int, nargs="+", default=None, help="one run per seed, then a mean ± std table")
    g.add_argument("--out", required=True, help="output folder")
    add_trainer_arguments(parser, max_epochs=d.trainer.max_epochs, checkpoint_every_n_steps=0)


def config_from_args(args: argparse.Namespace, readout: str) -> FinetuneConfig:
    return FinetuneConfig(
        init=args.init, encoder=args.encoder, preset=args.preset, overrides=dict(args.encoder_config),
        readout=readout, method=args.method,
        head=HeadConfig(hidden_dim=args.head_hidden, num_layers=args.head_layers, dropout=args.head_dropout),
        lr=args.lr, weight_decay=args.weight_decay, layer_decay=args.layer_decay,
        warmup_epochs=args.warmup_epochs, min_lr_ratio=args.min_lr_ratio, batch_size=args.batch_size,
        train_fraction=args.train_fraction, max_train=args.max_train, standardize_targets=not args.raw_targets,
        num_workers=args.num_workers, trainer=trainer_config_from_args(args))


def run(args: argparse.Namespace) -> int:
    from dnd.data.tasks import load_task
    check_run_options(args)

    task = load_task(args.task, root=args.data_root, seed=args.split_seed, cache_dir=args.task_cache,
                     **task_options(args.task, args))
    print(f"task {task.spec.name}: {task.spec.task_type}, metric {task.spec.metric}, "
          f"splits {task.sizes()}")
    seeds = args.seeds if args.seeds is not None else [args.seed]
    out = Path(args.out)
    results = []
    for readout in args.readout:
        cfg = config_from_args(args, readout)
        run_dir = out / readout if len(args.readout) > 1 else out
        results += run_seeds(cfg, task, run_dir, seeds, resume=args.resume)
    paths = write_summary(results, out)
    print(paths["markdown"].read_text(), end="")
    print(f"per-run results: {paths['runs']}; summary: {paths['csv']}, {paths['markdown']}")
    return 0
