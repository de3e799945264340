"""The 3D teacher f3D: torchmd-net's equivariant transformer (`TorchMD_ET`), used as a package and
built from a typed config, plus the rotation-equivariant noise head h3D used to pretrain it.

Later stages only ever need two things from the teacher: per-atom invariant features
(`Teacher.encode`) and a way to rebuild it, frozen, from a checkpoint file alone (`load_teacher`).
The checkpoint therefore carries the teacher config as a plain dict (it is read with
`weights_only=True`) and the featurizer version the student side was built with.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

from dnd.models.checkpoint import CheckpointError, hparams, load_checkpoint, submodule_state
from dnd.models.config import TeacherConfig


WARP_NO_DRIVER = "Could not find or load the NVIDIA CUDA driver"


def _quiet_warp() -> None:
    """torchmd-net imports NVIDIA warp (when installed) for its optional kernels, and warp's
    `init()` prints a 5-line banner at INFO level into every command's output. Raising warp's
    own log threshold before torchmd-net imports it silences the banner at its source; warp's
    warnings and errors still print. One line is not a Python log record: on every machine
    without an NVIDIA driver warp's native library writes "Could not find or load the NVIDIA
    CUDA driver" straight to file descriptor 2, although it tells nothing (torch, not warp,
    picks dnd's device). So warp is initialised here with fd 2 captured, and every line it
    wrote except that one is passed on."""
    if importlib.util.find_spec("warp") is None:
        return
    import warp

    warp.config.log_level = warp.LOG_WARNING
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            warp.init()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines()
            for line in lines:
                if WARP_NO_DRIVER not in line:
                    print(line, file=sys.stderr)


_quiet_warp()

from torchmdnet.models.torchmd_et import TorchMD_ET  # noqa: E402  (after _quiet_warp)
from torchmdnet.models.utils import GatedEquivariantBlock  # noqa: E402

# State-dict prefixes of the denoising LightningModule; load_teacher reads the teacher's.
TEACHER_PREFIX = "teacher."
HEAD_PREFIX = "noise_head."


def atom_batch(batch) -> Tensor:
    """Molecule index of every conformer atom: `z_batch` from the loader, or one molecule.

    A batch of several molecules without `z_batch` (PyG's DataLoader without
    `follow_batch=['z']`) is an error: read as one molecule, atoms of different molecules would
    interact and the features would be silently wrong."""
    z_batch = getattr(batch, "z_batch", None)
    if z_batch is not None:
        return z_batch
    num_graphs = getattr(batch, "num_graphs", 1)
    if num_graphs > 1:
        raise ValueError(f"a batch of {num_graphs} molecules has no `z_batch`: build it with "
                         "dnd.data.loader.make_loader (or PyG's DataLoader with follow_batch=['z'])")
    return torch.zeros(batch.z.size(0), dtype=torch.long, device=batch.z.device)


class Teacher(nn.Module):
    """f3D: atoms (z, pos) -> per-atom invariant scalars [n, d] and equivariant vectors [n, 3, d]."""

    def __init__(self, config: TeacherConfig):
        super().__init__()
        self.config = config
        self.hidden_dim = config.hidden_channels
        self.frozen = False
        c = config
        self.net = TorchMD_ET(
            hidden_channels=c.hidden_channels, num_layers=c.num_layers, num_rbf=c.num_rbf,
            rbf_type=c.rbf_type, trainable_rbf=c.trainable_rbf, activation=c.activation,
            attn_activation=c.attn_activation, neighbor_embedding=c.neighbor_embedding,
            num_heads=c.num_heads, distance_influence=c.distance_influence,
            cutoff_lower=c.cutoff_lower, cutoff_upper=c.cutoff_upper, max_z=c.max_z,
        )

    def forward(self, batch, pos: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(x [n_atoms, d], vec [n_atoms, 3, d]). `pos` overrides batch.pos (noisy coordinates)."""
        z = batch.z
        if z.numel() and int(z.max()) >= self.config.max_z:
            raise ValueError(f"atomic number {int(z.max())} exceeds the teacher's max_z={self.config.max_z}")
        pos = batch.pos if pos is None else pos
        if pos.dtype not in (torch.float32, torch.float64):
            # bf16 spaces values 0.03 Å apart between 4 and 8 Å, 0.06 Å between 8 and 16 Å: the
            # size of the denoising noise. Under `bf16-mixed` autocast positions stay float32
            # (tests/test_bf16.py).
            raise ValueError(f"positions are {pos.dtype}; the teacher needs float32 or float64 "
                             "coordinates (use --precision bf16-mixed, not bf16-true)")
        mol = atom_batch(batch)
        # torchmd-net's neighbour search has a fixed pair budget (32 per atom of the batch) and
        # fails the run when a batch exceeds it: a compact drug-like molecule with hydrogens has
        # atoms with up to 48 neighbours within 5 Å (measured on MOSES), so a batch of one steroid
        # exceeded it. Every pair within one molecule, self-loops included, bounds the search
        # exactly; the budget only sizes a buffer, the pairs found and their order are the same.
        self.net.distance.max_num_pairs = int(torch.bincount(mol).pow(2).sum()) if z.numel() else 1
        x, vec, *_ = self.net(z, pos, mol)
        return x, vec

    def encode(self, batch) -> Tensor:
        """Per-atom invariant representations [n_atoms_total, hidden_dim] of the clean conformer.

        In frozen mode this runs without autograd, so distillation never stores teacher activations.
        """
        if self.frozen:
            with torch.no_grad():
                return self(batch)[0]
        return self(batch)[0]

    def freeze(self) -> "Teacher":
        """Eval mode and no gradients, for good: `train()` calls from a parent module are ignored."""
        self.frozen = True
        for p in self.parameters():
            p.requires_grad_(False)
        return super().train(False)

    def train(self, mode: bool = True) -> "Teacher":
        return super().train(False if self.frozen else mode)


class VectorNorm(nn.Module):
    """Rescales each atom's vector channels by the root-mean-square channel norm.

    TorchMD_ET's vector features are unnormalised sums over layers and their scale grows with
    depth; Zaidi et al. add a norm on them for stable denoising. Dividing by an invariant (the
    norm) and multiplying by per-channel weights keeps the map rotation-equivariant.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, vec: Tensor) -> Tensor:  # [n, 3, d]
        rms = vec.pow(2).sum(dim=1).mean(dim=-1, keepdim=True).add(self.eps).sqrt()  # [n, 1]
        return vec / rms.unsqueeze(1) * self.weight


class NoiseHead(nn.Module):
    """h3D: per-atom 3-vector from (x, vec) via two gated equivariant blocks (Schütt et al. 2021,
    torchmd-net's implementation). Output = linear combinations of vector channels with invariant
    gates, so it rotates with the input and ignores translations."""

    def __init__(self, hidden_dim: int, activation: str = "silu"):
        super().__init__()
        self.norm = VectorNorm(hidden_dim)
        self.blocks = nn.ModuleList([
            GatedEquivariantBlock(hidden_dim, hidden_dim // 2, activation=activation, scalar_activation=True),
            GatedEquivariantBlock(hidden_dim // 2, 1, activation=activation),
        ])
        for block in self.blocks:
            block.reset_parameters()

    def forward(self, x: Tensor, vec: Tensor) -> Tensor:
        vec = self.norm(vec)
        for block in self.blocks:
            x, vec = block(x, vec)
        return vec.squeeze(-1)  # [n, 3]


def featurizer_version() -> str:
    """Version string of the OGB featurizer the paired records were built with (stored in
    teacher checkpoints so that distillation can refuse mismatched data)."""
    from dnd.data.featurize import FEATURIZER_VERSION

    return FEATURIZER_VERSION


def load_teacher(ckpt_path: str | Path) -> Teacher:
    """Rebuilds the teacher from a denoising checkpoint alone and returns it frozen.

    The returned module carries `featurizer_version` (str or None) from the checkpoint.
    """
    ckpt = load_checkpoint(ckpt_path)
    hp = hparams(ckpt, ckpt_path)
    if not isinstance(hp.get("teacher"), dict):
        raise CheckpointError(f"{ckpt_path}: hyper_parameters lack the teacher config (not a dnd denoise checkpoint?)")
    try:
        config = TeacherConfig.from_dict(hp["teacher"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{ckpt_path}: invalid teacher config: {err}") from err
    teacher = Teacher(config)
    state = submodule_state(ckpt["state_dict"], TEACHER_PREFIX)
    try:
        teacher.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{ckpt_path}: teacher weights do not match its config: {err}") from err
    teacher.featurizer_version = hp.get("featurizer_version")
    return teacher.freeze()
