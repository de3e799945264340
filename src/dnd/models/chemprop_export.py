"""A distilled D-MPNN student as a chemprop model file, for `chemprop train --from-foundation`.

chemprop 2.3 reads a local foundation file with `MPNN.load_from_file` and keeps only its
`message_passing` and `agg`, building a fresh predictor for the task; so the file we write is a
whole chemprop `MPNN` (written by chemprop's own `save_model`) whose message passing is the
student's module with its trained weights, and whose aggregation is chemprop's default `norm`
(sum / 100). The aggregation matters: chemprop takes it from the foundation file, and in our pilot
mean aggregation cost ESOL about 0.25 RMSE by hiding the molecule's size. The predictor in the
file is chemprop's default regression FFN with untrained weights; `--from-foundation` replaces it.

The student's features are chemprop's V2 atom features and default bond features, which is what
`chemprop train` uses by default (`--multi-hot-atom-featurizer-mode V2`); pass no other mode.
"""

from __future__ import annotations

import os
from pathlib import Path

from dnd.errors import UsageError
from dnd.models.dmpnn import DMPNN
from dnd.models.checkpoint import load_encoder

AGGREGATIONS = ("norm", "mean", "sum")


class ExportError(UsageError):
    """The checkpoint cannot be exported (not a D-MPNN student, unknown aggregation)."""


def to_chemprop(encoder: DMPNN, aggregation: str = "norm"):
    """A chemprop `MPNN` around the student's message passing (weights shared, not copied)."""
    from chemprop import nn as cnn
    from chemprop.models import MPNN

    if aggregation not in AGGREGATIONS:
        raise ExportError(f"--aggregation {aggregation!r}: choose from {', '.join(AGGREGATIONS)}")
    agg = {"norm": cnn.NormAggregation, "mean": cnn.MeanAggregation, "sum": cnn.SumAggregation}[aggregation]()
    mp = encoder.message_passing
    return MPNN(mp, agg, cnn.RegressionFFN(input_dim=mp.output_dim))


def export_chemprop(student: str | os.PathLike, out: str | os.PathLike, aggregation: str = "norm") -> Path:
    """Write `out` (a chemprop model file) from a distilled D-MPNN student checkpoint."""
    from chemprop.models.utils import save_model

    encoder = load_encoder(student)
    if not isinstance(encoder, DMPNN):
        raise ExportError(f"{student}: holds a {encoder.name} student; only D-MPNN students "
                          "(--encoder dmpnn) can be exported to chemprop")
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder; give a file name such as {out / 'dnd_dmpnn.pt'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    save_model(tmp, to_chemprop(encoder, aggregation))
    os.replace(tmp, out)
    return out
