"""Safe checkpoint reading. Every stage loads files with `weights_only=True`, so a checkpoint can
only carry tensors and plain containers: configs are stored as dicts, never as pickled objects.

The student format lives here too (weights under STUDENT_PREFIX, hparams `encoder_name` and
`encoder_config`): the pretraining stages write it and `load_encoder` reads it, so prediction and
finetuning rebuild a student without importing any training code."""

from __future__ import annotations

import dataclasses
import re
import typing
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import torch

from dnd.errors import UserError
from dnd.models.registry import build_encoder
from dnd.models.shipped import resolve

# State-dict prefix of the 2D student in every checkpoint a pretraining stage writes.
STUDENT_PREFIX = "student."


class CheckpointError(UserError, RuntimeError):
    """A checkpoint is missing, unreadable, or lacks what the caller needs."""


def load_checkpoint(path: str | Path, required: tuple[str, ...] = ("state_dict",)) -> dict[str, Any]:
    """The checkpoint at `path` (or the shipped model `dnd:NAME`), loaded with weights_only."""
    try:
        path = resolve(path)
    except FileNotFoundError as err:
        raise CheckpointError(str(err)) from None
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"{path}: not a readable checkpoint ({_one_line(err)}); "
                              "is it truncated, or not written by dnd?") from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, found {type(ckpt).__name__}")
    missing = [k for k in required if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return ckpt


def _one_line(err: Exception) -> str:
    """torch's load errors span many lines of advice about `weights_only=False`, which must not be
    taken for files of unknown origin; keep the reason only."""
    text = " ".join(str(err).split())
    reason = re.search(r"WeightsUnpickler error: (.*?)(?: Check the documentation|$)", text)
    if reason:
        text = f"refused by weights-only loading: {reason.group(1)}"
    return f"{type(err).__name__}: {text[:300]}"


def hparams(ckpt: dict[str, Any], path: str | Path = "<checkpoint>") -> dict[str, Any]:
    """The hyper-parameters Lightning saved (`save_hyperparameters`), as plain dicts."""
    hp = ckpt.get("hyper_parameters")
    if not isinstance(hp, dict):
        raise CheckpointError(f"{path}: checkpoint carries no hyper_parameters (not written by dnd?)")
    return hp


def to_hparams(**values: Any) -> dict[str, Any]:
    """Checkpoint hparams of typed values: dataclass configs become plain dicts and enums their
    value, the only form `weights_only` loading reads; `from_hparams` turns them back."""
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Enum):
            return v.value
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return {k: plain(v) for k, v in values.items()}


T = TypeVar("T")


def from_hparams(cls: type[T], values: dict[str, Any]) -> T:
    """The typed config `cls` of a hparams dict written by `to_hparams` (nested configs from
    nested dicts); a key `cls` does not know is a CheckpointError naming it."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CheckpointError(f"checkpoint {cls.__name__} has unknown settings {', '.join(unknown)}")
    return cls(**{k: from_hparams(hints[k], v) if dataclasses.is_dataclass(hints[k]) else v
                  for k, v in values.items()})


def submodule_state(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys of one submodule (e.g. 'student.') with the prefix stripped."""
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def student_checkpoint(encoder: torch.nn.Module, hyper_parameters: dict[str, Any]) -> dict[str, Any]:
    """The student alone, in the format `load_encoder` reads."""
    state = {STUDENT_PREFIX + k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    return {"state_dict": state, "hyper_parameters": hyper_parameters}

def load_encoder(ckpt_path: str | Path) -> torch.nn.Module:
    """Rebuild the student encoder of a checkpoint (hparams encoder_name / encoder_config,
    weights under STUDENT_PREFIX), in eval mode."""
    ckpt = load_checkpoint(ckpt_path)
    hp = hparams(ckpt, ckpt_path)
    missing = [k for k in ("encoder_name", "encoder_config") if k not in hp]
    if missing and isinstance(hp.get("teacher"), dict):
        raise CheckpointError(f"{ckpt_path}: is a 3D teacher checkpoint (dnd denoise); a 2D student "
                              "checkpoint is needed here (dnd distill or dnd infomax writes student.ckpt)")
    if missing:
        raise CheckpointError(f"{ckpt_path}: hparams lack {', '.join(missing)} (not a student checkpoint?)")
    encoder = build_encoder(hp["encoder_name"], hp["encoder_config"])
    state = submodule_state(ckpt["state_dict"], STUDENT_PREFIX)
    if not state:
        raise CheckpointError(f"{ckpt_path}: state_dict has no '{STUDENT_PREFIX}' weights")
    try:
        encoder.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{ckpt_path}: student weights do not fit the stored config: {err}") from err
    return encoder.eval()
