"""ANI-2x as a teacher (torchani): a neural potential trained by its authors on ~8.9M DFT
conformers (wB97X/6-31G(d)); elements H C N O F S Cl.

The features of an atom are the activations of one hidden layer of its element's atomic network
(`layer`, default -1: the last hidden layer, 160/128/96 wide for H,C / N,O / S,F,Cl), zero-padded
to the widest element's width. `member` picks one of the 8 ensemble members; `member=None`
concatenates all 8 members' features (8x wider). Because the features are the network's own
activations, the final layer of each element's network applied to them, summed over atoms, plus
torchani's self energies gives exactly torchani's energy (tests/test_teachers.py checks it).

A molecule with an element outside ANI-2x's seven is reported as an error, never guessed.
ANI-2x was trained on neutral molecules; charged ones are computed as given.

Parameters are loaded by torchani's own NeuroChem loader from `TORCHANI_DATA_DIR` (or
`--ani2x-dir`); where neither holds them torchani downloads them, its real path.
Control (`control=True`): the same architecture with every linear layer re-initialised (torch's
default init, seeded); the AEV featurizer has no learned parameters and is unchanged, so the
control is a random network of the same inputs.
"""

from __future__ import annotations

import os
import warnings
from typing import Sequence

import numpy as np
import torch

from dnd.errors import UsageError
from dnd.teachers.base import FeatureTeacher, TeacherOutput, TeacherSpec, weights_digest

ELEMENTS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F", 16: "S", 17: "Cl"}
MEMBERS = 8


def load_ani2x(member: int | None, data_dir: str | None = None):
    """torchani's ANI-2x (one member or the ensemble), float64, eval mode."""
    if data_dir:
        os.environ["TORCHANI_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchani.neurochem import load_model_from_name
    except ImportError:
        raise UsageError("--teacher ani2x needs torchani: pip install 'dnd[teachers]'") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_model_from_name("ani2x", model_index=member).double().eval()
    except OSError as err:  # urllib's URLError included: torchani downloads what it lacks
        where = os.environ.get("TORCHANI_DATA_DIR") or "torchani's data folder"
        raise UsageError(f"ANI-2x parameters are not in {where} and could not be downloaded ({err}); "
                         "point --ani2x-dir (or TORCHANI_DATA_DIR) at a folder holding Neurochem/") from None


class ANI2xTeacher(FeatureTeacher):
    kind = "ani2x"

    def __init__(self, spec: TeacherSpec, data_dir: str | None = None):
        super().__init__(spec)
        if spec.member is not None and not 0 <= spec.member < MEMBERS:
            raise UsageError(f"--ani2x-member {spec.member}: choose 0..{MEMBERS - 1}, or 'ensemble'")
        self.model = load_ani2x(spec.member, data_dir)
        nnp = self.model.potentials["nnp"]
        self.aev = nnp.aev_computer
        nets = nnp.neural_networks
        self.members = list(nets.members) if hasattr(nets, "members") else [nets]
        depth = len(self.members[0].atomics["H"].layers)
        if not -depth <= spec.layer < depth:
            raise UsageError(f"--ani2x-layer {spec.layer}: ANI-2x's atomic networks have {depth} hidden layers "
                             f"(0..{depth - 1}, or -1 for the last)")
        self.layer = spec.layer % depth
        if spec.control:
            torch.manual_seed(spec.seed)
            for m in self.members:
                for mod in m.modules():
                    if isinstance(mod, torch.nn.Linear):
                        mod.reset_parameters()
        self.width = max(net.layers[self.layer].out_features for net in self.members[0].atomics.values())
        self.atom_dim = self.width * len(self.members)

    def identity(self) -> dict:
        weights = weights_digest(*self.members)
        return {"kind": self.kind, "format": 1, "member": self.spec.member, "layer": self.layer,
                "control": self.spec.control, "seed": self.spec.seed if self.spec.control else None,
                "weights": weights}

    @torch.no_grad()
    def hidden(self, z: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """[n_atoms, atom_dim] float64 features of one molecule (all elements covered)."""
        species = self.model.species_converter(z.view(1, -1))
        aev = self.aev(species, pos.view(1, -1, 3).double())[0]
        out = torch.zeros(z.numel(), self.atom_dim, dtype=torch.float64)
        for k, member in enumerate(self.members):
            for idx, symbol in enumerate(member.atomics):
                rows = species[0] == idx
                if not rows.any():
                    continue
                net = member.atomics[symbol]
                h = aev[rows]
                for layer in net.layers[:self.layer + 1]:
                    h = net.activation(layer(h))
                out[rows, k * self.width:k * self.width + h.size(1)] = h
        return out

    def compute(self, records: Sequence) -> list[TeacherOutput]:
        outputs = []
        for r in records:
            bad = sorted({int(e) for e in r.z.tolist()} - set(ELEMENTS))
            if bad:
                outputs.append(TeacherOutput(None, None, f"element(s) Z={', '.join(map(str, bad))} not covered by "
                                                         f"ANI-2x ({' '.join(ELEMENTS.values())})"))
                continue
            outputs.append(TeacherOutput(self.hidden(r.z, r.pos).float().numpy()))
        return outputs
