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
tasks. `--no-standardize-targets` trains on the raw labels instead. Metrics never change: they are computed
in original units by `dnd.evaluation.evaluate`.

The model is selected on the validation metric; after training the best checkpoint is reloaded
from disk (the same path `dnd predict` takes: `dnd.models.property.load_property_model`) and
scored on validation and test.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dnd.errors import UsageError
from dnd.data.loader import make_loader
from dnd.data.report import DataFileError
from dnd.data.tasks.base import TaskData, TaskSpec, fit_standardization
from dnd.checks import torch_device
from dnd.evaluation.metrics import evaluate, higher_is_better
from dnd.models.checkpoint import hparams, load_checkpoint, load_encoder, to_hparams
from dnd.models.config import HeadConfig, Method
from dnd.models.property import RANDINIT, PropertyModel, load_property_model, predict_records
from dnd.models.registry import build_encoder, encoder_config_dict, encoder_preset
from dnd.training.config import FinetuneConfig, OptimConfig
from dnd.training.fit import fit, write_stage_config
from dnd.training.optim import adamw_warmup_cosine, layer_decay_groups


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


class FinetuneModule(PropertyModel, L.LightningModule):
    """The property model plus what training needs (loss, metric logging, layer-decay optimiser).
    Every constructor argument is saved as plain hparams (`to_hparams`), so a checkpoint alone is
    enough for `dnd predict` (which rebuilds only the `PropertyModel` part)."""

    def __init__(self, encoder_name: str, encoder_config: dict, readout: str, head: HeadConfig,
                 task: TaskSpec, optim: OptimConfig, layer_decay: float = 0.65, warmup_epochs: float = 5.0,
                 method: str = RANDINIT):
        super().__init__(encoder_name, encoder_config, readout, head, task)
        self.save_hyperparameters(to_hparams(encoder_name=encoder_name, encoder_config=encoder_config,
                                             readout=readout, head=head, task=task.to_dict(), optim=optim,
                                             layer_decay=layer_decay, warmup_epochs=warmup_epochs, method=method))
        self.optim_config = optim
        self._val_outputs: list[tuple[Tensor, Tensor]] = []

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
        cfg = self.optim_config
        groups = layer_decay_groups(self.encoder, [self.readout, self.head], cfg.lr, hp.layer_decay)
        total = int(self.trainer.estimated_stepping_batches)
        # estimated_stepping_batches has set up the train loader; its length is per device
        per_epoch = math.ceil(self.trainer.num_training_batches / self.trainer.accumulate_grad_batches)
        cfg = replace(cfg, warmup_steps=int(round(hp.warmup_epochs * per_epoch)))
        return adamw_warmup_cosine(groups, cfg, total)


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
        return Method.of_variant(hp["objective"]["variant"]).label
    if hp.get("stage") == "infomax":
        return Method.INFOMAX.label
    return Path(cfg.init).stem


def init_encoder_name(init: str) -> str | None:
    """Registry name of the encoder in student checkpoint `init` (its finetuning defaults follow it)."""
    return hparams(load_checkpoint(init), init).get("encoder_name")


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
    config = encoder_preset(cfg.encoder, cfg.preset) | dict(cfg.overrides)
    encoder = build_encoder(cfg.encoder, config, records=train)
    return (*encoder_config_dict(encoder), None)


def run_finetune(cfg: FinetuneConfig, task_data: TaskData, out_dir: str | Path,
                 resume: bool = False) -> dict[str, Any]:
    """Finetune once (seed = cfg.trainer.seed) and return its metrics (also in OUT/metrics.json;
    the settings, task and resolved encoder config go to OUT/finetune_config.json).

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
    write_stage_config(out, "finetune", cfg, task=spec.to_dict(), task_source=task_data.source,
                       n_train=len(train), encoder_config=config)
    optim = OptimConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, min_lr_ratio=cfg.min_lr_ratio)
    model = FinetuneModule(name, config, cfg.readout, cfg.head, spec, optim,
                           layer_decay=cfg.layer_decay, warmup_epochs=cfg.warmup_epochs, method=method)
    if state is not None:
        model.encoder.load_state_dict(state)

    monitor = f"val/{spec.metric}"
    # the splits seen every epoch, with what the encoder can compute once per molecule
    train_loader = make_loader(model.encoder.prepare(train), cfg.batch_size, shuffle=True, seed=seed,
                               num_workers=cfg.num_workers)
    valid_loader = make_loader(model.encoder.prepare(task_data.valid), cfg.batch_size, num_workers=cfg.num_workers)
    trainer = fit(model, train_loader, valid_loader, cfg.trainer, out, resume, monitor=monitor,
                  mode="max" if higher_is_better(spec.metric) else "min")

    best = next(c for c in trainer.checkpoint_callbacks if c.monitor == monitor)
    if not best.best_model_path:
        raise RuntimeError(f"{out}: no validation epoch finished, so there is no model to select")
    selected = load_property_model(best.best_model_path).to(torch_device(cfg.trainer.accelerator))
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


def run_seeds(cfg: FinetuneConfig, task_data: TaskData, out_dir: str | Path, seeds: Sequence[int],
              resume: bool = False) -> list[dict[str, Any]]:
    """One `run_finetune` per seed under OUT/seed<k>/."""
    results = []
    for seed in seeds:
        run_cfg = replace(cfg, trainer=replace(cfg.trainer, seed=int(seed)))
        results.append(run_finetune(run_cfg, task_data, Path(out_dir) / f"seed{seed}", resume=resume))
    return results


