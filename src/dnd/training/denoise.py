"""Step 1 of D&D: pretrain the 3D teacher by coordinate denoising (`dnd denoise`).

Presets (`--preset`):
- ``paper``: Table 5a of the D&D paper: TorchMD_ET with 8 layers, 8 heads, 768 dims, 64 RBF,
  cutoff 5 Å; batch 70, 30 epochs, AdamW, cosine schedule with 10,000 linear warmup steps.
  Table 5a's learning rate 1e-7 cannot be a peak rate for this model; it matches the `lr_min`
  of Zaidi et al.'s official TorchMD-NET PCQM4Mv2 denoising config (repository
  shehzaidi/pre-training-via-denoising, examples/ET-PCQM4MV2.yaml: lr 4e-4, lr_min 1e-7,
  lr_warmup_steps 10000, batch 70, 30 epochs, position_noise_scale 0.04). We therefore take the
  peak learning rate 4e-4 from Zaidi et al. and use 1e-7 both as the warmup start and as the
  floor the cosine decays to.
- ``cpu-small``: sized by measurement so that denoising 20k QM9 molecules for 5 epochs takes
  under an hour on 2 CPU cores (figures in the README).
- ``tiny``: tests and the quickstart.

Noise is standard normal per atom, scaled by sigma (0.04 Å by default), drawn afresh every step
from a seeded generator whose state travels in the checkpoint, so `--resume` continues the same
noise stream. Validation noise comes from a generator re-seeded at every validation epoch, so
validation losses of different epochs are measured on identical perturbations.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Sequence

import lightning as L
import torch
from torch_geometric.data import Data

from dnd.data.paired import check_corpus_elements
from dnd.errors import UsageError
from dnd.data.featurize import add_max_atoms_argument
from dnd.data.loader import make_loader
from dnd.data.paired import HYDROGENS, check_hydrogens
from dnd.models.teacher import PRESETS, NoiseHead, Teacher, TeacherConfig, featurizer_version, preset_config
from dnd.objectives.denoise import denoising_step
from dnd.training.optim import OptimConfig, adamw_warmup_cosine, decay_groups
from dnd.training.trainer import (TrainerConfig, add_trainer_arguments, build_trainer, check_run_options, resume_path,
                                  trainer_config_from_args)


PAPER_PEAK_LR = 4e-4  # Zaidi et al., TorchMD-NET on PCQM4Mv2 (see module docstring)
PAPER_LR_FLOOR = 1e-7  # Table 5a's "1e-7": warmup start and cosine floor


@dataclass
class DenoiseConfig:
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    sigma: float = 0.04
    batch_size: int = 70
    val_fraction: float = 0.05
    num_workers: int = 0


def preset(name: str) -> DenoiseConfig:
    """A fresh DenoiseConfig for preset `name` (a key of `dnd.models.teacher.PRESETS`)."""
    teacher = preset_config(name)
    if name == "paper":
        ratio = PAPER_LR_FLOOR / PAPER_PEAK_LR
        return DenoiseConfig(teacher, OptimConfig(lr=PAPER_PEAK_LR, warmup_steps=10_000, min_lr_ratio=ratio,
                                                  warmup_start_ratio=ratio),
                             TrainerConfig(max_epochs=30, checkpoint_every_n_steps=5_000), batch_size=70)
    if name in ("cpu-small", "cpu-fast"):
        return DenoiseConfig(teacher, OptimConfig(lr=PAPER_PEAK_LR, warmup_steps=300, min_lr_ratio=0.01),
                             TrainerConfig(max_epochs=5, checkpoint_every_n_steps=500, log_every_n_steps=10),
                             batch_size=32)
    return DenoiseConfig(teacher, OptimConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1),
                         TrainerConfig(max_epochs=2, checkpoint_every_n_steps=100, log_every_n_steps=5),
                         batch_size=16)


class DenoiseModule(L.LightningModule):
    """f3D (`teacher`) + h3D (`noise_head`) trained to predict the added coordinate noise.

    All constructor arguments are plain values, so `save_hyperparameters` writes a checkpoint that
    `weights_only=True` loading (and `load_teacher`) can rebuild from alone.
    """

    def __init__(self, teacher: dict, optim: dict, sigma: float = 0.04, seed: int = 0,
                 featurizer_version: str | None = None):
        super().__init__()
        self.save_hyperparameters()
        config = TeacherConfig.from_dict(teacher)
        self.teacher = Teacher(config)
        self.noise_head = NoiseHead(config.hidden_channels, config.activation)
        self.optim_config = OptimConfig(**optim)
        self.sigma = sigma
        self._train_rng: torch.Generator | None = None
        self._restored_rng_state: torch.Tensor | None = None

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        if self._train_rng is None or self._train_rng.device != device:
            self._train_rng = torch.Generator(device=device)
            # distinct but reproducible streams per process under DDP
            self._train_rng.manual_seed(self.hparams.seed * 1_000_003 + self.global_rank)
            if self._restored_rng_state is not None:
                self._train_rng.set_state(self._restored_rng_state)
                self._restored_rng_state = None
        return self._train_rng

    def training_step(self, batch, batch_idx):
        loss, _, _ = denoising_step(self.teacher, self.noise_head, batch, self.sigma,
                                    self._noise_generator(batch.pos.device))
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch.num_graphs)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_rng = torch.Generator(device=self.device)
        self._val_rng.manual_seed(self.hparams.seed * 1_000_003 + 7919 + self.global_rank)

    def validation_step(self, batch, batch_idx):
        loss, _, _ = denoising_step(self.teacher, self.noise_head, batch, self.sigma, self._val_rng)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=batch.num_graphs, sync_dist=True)
        return loss

    def configure_optimizers(self):
        return adamw_warmup_cosine(decay_groups(self), self.optim_config, int(self.trainer.estimated_stepping_batches))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self._train_rng is not None:
            checkpoint["noise_rng_state"] = self._train_rng.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._restored_rng_state = checkpoint.get("noise_rng_state")
        self._train_rng = None


def split_records(records: Sequence[Data], val_fraction: float, seed: int) -> tuple[list[Data], list[Data]]:
    """Seeded random hold-out: (train, validation). At least one validation record when asked."""
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(records)
    n_val = 0 if val_fraction == 0 else max(1, round(n * val_fraction))
    if n - n_val < 1:
        raise UsageError(f"{n} records are too few for a validation fraction of {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [records[i] for i in order[n_val:]], [records[i] for i in order[:n_val]]


def _check_records(records: Sequence[Data], max_z: int) -> None:
    if not records:
        raise UsageError("no conformer records to pretrain on")
    missing = [k for k in ("z", "pos") if k not in records[0]]
    if missing:
        raise UsageError(f"records lack {', '.join(missing)}: denoising needs 3D conformers (z, pos)")
    check_corpus_elements(records, max_z)


def run_denoise(cfg: DenoiseConfig, records: Sequence[Data], out_dir: str | Path, resume: bool = False) -> Path:
    """Pretrain a teacher on `records` (paired or conformer-only Data with z, pos); returns the final
    checkpoint (OUT/checkpoints/last.ckpt), loadable with `dnd.models.teacher.load_teacher`."""
    _check_records(records, cfg.teacher.max_z)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    train, val = split_records(records, cfg.val_fraction, cfg.trainer.seed)
    (out / "denoise_config.json").write_text(json.dumps(
        asdict(cfg) | {"n_train": len(train), "n_val": len(val)}, indent=2))
    module = DenoiseModule(teacher=cfg.teacher.to_dict(), optim=asdict(cfg.optim), sigma=cfg.sigma,
                           seed=cfg.trainer.seed, featurizer_version=featurizer_version())
    train_loader = make_loader(train, cfg.batch_size, shuffle=True, seed=cfg.trainer.seed,
                               num_workers=cfg.num_workers)
    val_loader = make_loader(val, cfg.batch_size, num_workers=cfg.num_workers) if val else None
    ckpt = resume_path(out, resume)
    trainer = build_trainer(cfg.trainer, out, monitor="val_loss" if val else None, resume=ckpt is not None)
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt)
    final = out / "checkpoints" / "last.ckpt"
    # the end-of-training state whatever the step-interval saving did; full state so --resume works
    trainer.save_checkpoint(final, weights_only=False)
    return final


# ---------------------------------------------------------------- command line

SOURCES = ("qm9", "sdf", "pcqm4mv2", "smiles", "embedded", "records")


def add_corpus_arguments(parser: argparse.ArgumentParser, val_fraction: float | None = None,
                         num_workers: int | None = None) -> None:
    """The 3D corpus options shared by denoise, distill and infomax: the same values select the
    same molecules and the same validation split in every stage."""
    g = parser.add_argument_group("data")
    g.add_argument("--source", choices=SOURCES, default="embedded",
                   help="3D conformer source; 'embedded' uses the QM9 subset shipped with the package")
    g.add_argument("--path", help="data file for qm9/sdf/pcqm4mv2/smiles sources, or the merged "
                   "records file of `dnd data conformers --merge` for --source records")
    g.add_argument("--limit", type=int, help="read at most this many molecules (the first ones in the file)")
    g.add_argument("--sample", type=int, help="then keep a random subset of this many (seeded by --seed); "
                   "QM9 is ordered by size, so --limit alone gives small molecules only")
    g.add_argument("--cache-dir", help="featurized-record cache folder")
    g.add_argument("--hydrogens", choices=HYDROGENS, default="dft",
                   help="conformer atoms the teacher sees: 'none' heavy atoms only (the paper's "
                   "PCQM4Mv2 teacher), 'dft' the source's hydrogens, 'rdkit' also place hydrogens "
                   "a heavy-atom SDF lacks")
    g.add_argument("--num-conformers", type=int, default=1,
                   help="smiles source: RDKit conformers per molecule")
    g.add_argument("--conformer-seed", type=int, default=0, help="smiles source: embedding seed")
    g.add_argument("--val-fraction", type=float, default=val_fraction,
                   help="held-out validation share of the corpus (seeded by --seed)")
    g.add_argument("--num-workers", type=int, default=num_workers, help="data loader worker processes")
    add_max_atoms_argument(g)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_corpus_arguments(parser)
    m = parser.add_argument_group("model and objective")
    m.add_argument("--preset", choices=tuple(PRESETS), default="cpu-small")
    m.add_argument("--out", required=True, help="run folder: logs/, checkpoints/, denoise_config.json")
    m.add_argument("--sigma", type=float, help="noise scale in Å (default 0.04)")
    m.add_argument("--hidden-channels", type=int)
    m.add_argument("--num-layers", type=int)
    m.add_argument("--num-heads", type=int)
    m.add_argument("--num-rbf", type=int)
    m.add_argument("--cutoff", dest="cutoff_upper", type=float, help="upper cutoff in Å")
    o = parser.add_argument_group("optimiser")
    o.add_argument("--batch-size", type=int)
    o.add_argument("--lr", type=float, help="peak learning rate")
    o.add_argument("--warmup-steps", type=int)
    o.add_argument("--weight-decay", type=float)
    # None = take the preset's value
    add_trainer_arguments(parser, max_epochs=None, checkpoint_every_n_steps=None, log_every_n_steps=None)


def _override(obj, values: dict):
    return replace(obj, **{k: v for k, v in values.items() if v is not None})


def config_from_args(args: argparse.Namespace) -> DenoiseConfig:
    cfg = preset(args.preset)
    teacher = _override(cfg.teacher, {k: getattr(args, k) for k in
                                      ("hidden_channels", "num_layers", "num_heads", "num_rbf", "cutoff_upper")})
    optim = _override(cfg.optim, {"lr": args.lr, "warmup_steps": args.warmup_steps, "weight_decay": args.weight_decay})
    trainer = _override(cfg.trainer, {f.name: getattr(trainer_config_from_args(args), f.name)
                                      for f in fields(TrainerConfig)})
    return _override(replace(cfg, teacher=teacher, optim=optim, trainer=trainer),
                     {"sigma": args.sigma, "batch_size": args.batch_size, "val_fraction": args.val_fraction,
                      "num_workers": args.num_workers})


def load_records(source: str, path: str | None, limit: int | None, cache_dir: str | None,
                 hydrogens: str = "dft", num_conformers: int = 1, conformer_seed: int = 0) -> list[Data]:
    """The corpus of the command line (`add_corpus_arguments`) and of `dnd run` (`CorpusConfig`).
    num_conformers/conformer_seed apply to the smiles source, which generates conformers."""
    check_hydrogens(hydrogens)
    if source != "smiles" and (num_conformers, conformer_seed) != (1, 0):
        raise ValueError(f"num_conformers/conformer_seed apply to the smiles source only, not {source!r}")
    if source == "embedded":
        from dnd.data.embedded import qm9_paired

        return qm9_paired(limit=limit or None, hydrogens=hydrogens)
    if not path:
        raise UsageError(f"--source {source} needs --path (the data file)")
    if source == "records":
        from dnd.data.conformer_corpus import load_records_file

        if hydrogens != "dft":
            raise UsageError("the records source holds records built already; set hydrogens when "
                             "building them, not when loading")
        records = load_records_file(path)
        return records[:limit] if limit else records
    from dnd.data.paired import load_paired

    options = {"num_conformers": num_conformers, "seed": conformer_seed} if source == "smiles" else {}
    return load_paired(source, path, limit=limit, cache_dir=cache_dir, hydrogens=hydrogens, **options)


def records_from_args(args: argparse.Namespace) -> list[Data]:
    """The corpus `add_corpus_arguments` selects (after --limit, a seeded --sample)."""
    records = load_records(args.source, args.path, args.limit, args.cache_dir, args.hydrogens,
                           args.num_conformers, args.conformer_seed)
    return sample_records(records, args.sample, args.seed)


def sample_records(records: Sequence[Data], n: int | None, seed: int) -> list[Data]:
    """A seeded random subset of `n` records (all of them when n is None or not smaller)."""
    if n is None or n >= len(records):
        return list(records)
    if n < 1:
        raise UsageError(f"sample size must be positive, got {n}")
    keep = torch.randperm(len(records), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return [records[i] for i in keep.tolist()]


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    check_run_options(args)
    records = records_from_args(args)
    print(f"denoising on {len(records)} molecules")
    ckpt = run_denoise(cfg, records, args.out, resume=args.resume)
    print(f"teacher checkpoint: {ckpt}")
    return 0
