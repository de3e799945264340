"""Checks of command-line values that would otherwise fail late or deep inside a library: the
device asked for, and whether `--out` names a folder or a file of the right kind. Each failure
is a `UsageError` naming the option, raised before any data is read or any model is built."""

from __future__ import annotations

from pathlib import Path

import torch

from dnd.errors import UsageError

_GPU_NAMES = ("gpu", "cuda")


def check_accelerator(accelerator: str, option: str = "--accelerator") -> None:
    """A GPU accelerator needs a visible CUDA device; Lightning would raise a long
    MisconfigurationException at trainer construction instead."""
    if str(accelerator).lower() in _GPU_NAMES and not torch.cuda.is_available():
        raise UsageError(f"{option} {accelerator}: no CUDA GPU is visible on this machine "
                         f"(torch.cuda.is_available() is False); use {option} cpu or auto")


def torch_device(name: str, option: str = "--accelerator") -> torch.device:
    """The torch device of an `--accelerator` value, for work outside a Lightning Trainer (teacher
    features, scoring, `dnd predict`, `dnd embed`): "auto" is the GPU when one is visible, else
    the CPU; "gpu"/"cuda" the GPU; any torch device name ("cpu", "cuda:1", "mps") as given. A
    malformed name or a CUDA device that is not there is a `UsageError` naming the option."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device("cuda" if name == "gpu" else name)
    except (RuntimeError, TypeError) as err:
        raise UsageError(f"{option} {name!r}: not a device name (cpu, gpu, auto, cuda:1): {err}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{option} {name}: no CUDA GPU is visible on this machine; use {option} cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"{option} {name}: only {torch.cuda.device_count()} CUDA device(s)")
    return device


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """A run folder: may exist (resume, reuse) but must not be a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is an existing file, but a folder is needed here "
                         "(logs and checkpoints go inside it); choose another path")
    return path


def output_file(path: str | Path, option: str = "--out") -> Path:
    """An output file: may be overwritten, but must not be an existing folder."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is an existing folder, but a file name is needed here "
                         "(e.g. predictions.csv)")
    return path
