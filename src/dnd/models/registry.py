"""Encoders by name: the registry table, presets, and building an encoder from a config dict.

Every stage stores `encoder_name` and `encoder_config` (a plain dict) in its hparams and the
encoder's weights under "student." in the state dict, so `dnd.models.checkpoint.load_encoder`
rebuilds a student from the checkpoint file alone, without the code or command line that
trained it. Adding an encoder is one line in ENCODERS and its presets in PRESETS.

Presets:
- tokengt `paper`: 12 layers, 32 heads, hidden 128 (Table 5b as the project issue quotes it; the
  table itself was not available to check), FFN 128 (TokenGT's own configs use FFN width = hidden width), Laplacian identifiers with
  k = 16 and random sign flips, attention dropout 0.1, dropout 0 (jw9730/tokengt pcqv2-lap.sh).
- pna `paper`: 3DInfomax's QM9 PNA (see dnd.models.pna).
- `cpu-small`: sizes that train at a useful speed on a few CPU cores (see docs/encoders.md);
  TokenGT without attention dropout, because on CPU any attention dropout sends
  `scaled_dot_product_attention` from its fused kernel to a math fallback (1.3-2x slower
  per training step in our 2-core measurements).
- tokengt `cpu-fast`: hidden 64, 3 layers, 4 heads; about 4x the throughput of `cpu-small`, so
  that the CPU experiment (configs/cpu-small.yaml: 4 methods x 2 readouts x 8 tasks x 3 seeds)
  fits in a session on 2 cores.
- dmpnn `chemprop`: chemprop's defaults (hidden 300, depth 3, no bias, ReLU, dropout 0), the
  model `chemprop train` builds; `paper` is the same (the paper has no D-MPNN; it is the size
  every comparison against chemprop must use).
- `tiny`: for tests and the quickstart.
PNA presets leave `deg` unset: it is data, filled from the training records by `build_encoder`.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, Iterable

from dnd.errors import UnknownNameError

if TYPE_CHECKING:
    from torch_geometric.data import Data

    from dnd.models.encoder import GraphEncoder

# name -> (module, encoder class, config class). Entries are imported on first use, so reading
# the names and presets (the command line does) loads no torch. One line per encoder.
ENCODERS: dict[str, tuple[str, str, str]] = {
    "tokengt": ("dnd.models.tokengt", "TokenGT", "TokenGTConfig"),
    "pna": ("dnd.models.pna", "PNA", "PNAConfig"),
    "dmpnn": ("dnd.models.dmpnn", "DMPNN", "DMPNNConfig"),
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tokengt": {
        "paper": dict(hidden_dim=128, num_layers=12, num_heads=32, ffn_dim=128, dropout=0.0,
                      attention_dropout=0.1, id_type="lap", id_dim=16, lap_sign_flip=True),
        "cpu-small": dict(hidden_dim=128, num_layers=4, num_heads=8, ffn_dim=256, dropout=0.0,
                          attention_dropout=0.0, id_type="lap", id_dim=16, lap_sign_flip=True),
        "cpu-fast": dict(hidden_dim=64, num_layers=3, num_heads=4, ffn_dim=128, dropout=0.0,
                         attention_dropout=0.0, id_type="lap", id_dim=16, lap_sign_flip=True),
        "tiny": dict(hidden_dim=32, num_layers=2, num_heads=4, ffn_dim=64, dropout=0.0,
                     attention_dropout=0.0, id_type="lap", id_dim=8, lap_sign_flip=True),
    },
    "pna": {
        "paper": dict(hidden_dim=200, num_layers=7, pre_layers=2, post_layers=1),
        "cpu-small": dict(hidden_dim=128, num_layers=4, pre_layers=2, post_layers=1),
        "tiny": dict(hidden_dim=32, num_layers=2, pre_layers=1, post_layers=1),
    },
    "dmpnn": {
        "chemprop": dict(hidden_dim=300, depth=3),
        "paper": dict(hidden_dim=300, depth=3),
        "tiny": dict(hidden_dim=32, depth=2),
    },
}


def _lookup(name: str) -> tuple[type, type]:
    """(encoder class, config class) of registry entry `name`."""
    if name not in ENCODERS:
        raise UnknownNameError(f"unknown encoder {name!r}; choose from {sorted(ENCODERS)}")
    module, cls, config_cls = ENCODERS[name]
    module = importlib.import_module(module)
    return getattr(module, cls), getattr(module, config_cls)


def encoder_preset(name: str, preset: str) -> dict[str, Any]:
    """Full config dict of a preset (defaults filled in), ready for `build_encoder`."""
    if name not in PRESETS:
        raise UnknownNameError(f"unknown encoder {name!r}; choose from {sorted(ENCODERS)}")
    if preset not in PRESETS[name]:
        raise UnknownNameError(f"unknown {name} preset {preset!r}; choose from {sorted(PRESETS[name])}")
    config = dict(PRESETS[name][preset])
    if name == "pna":
        config.setdefault("deg", None)
    return config


def build_encoder(name: str, config: dict[str, Any], records: Iterable[Data] | None = None) -> GraphEncoder:
    """Encoder `name` from a config dict. `records` (the training split) fill data-dependent
    fields the config leaves unset: PNA's degree histogram."""
    cls, config_cls = _lookup(name)
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"{name} config has unknown keys {unknown}; known: {sorted(known)}")
    config = dict(config)
    if name == "pna" and config.get("deg") is None and records is not None:
        from dnd.models.pna import degree_histogram

        config["deg"] = degree_histogram(records)
    return cls(config_cls(**config))


def encoder_config_dict(enc: GraphEncoder) -> tuple[str, dict[str, Any]]:
    """(name, plain config dict) to store in checkpoint hparams."""
    return enc.name, asdict(enc.config)

