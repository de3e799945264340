"""`dnd predict`: properties of new molecules from a finetuned checkpoint.

The checkpoint alone defines the model and the task (target names, units, standardisation), so
predictions come out in the task's original units (probabilities for classification). The output
has one row per input row, in input order, with the input's own columns first; a molecule that
cannot be parsed or featurized gets empty predictions and its reason in the `error` column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dnd.checks import output_file
from dnd.inference.inputs import MoleculeInputs, read_molecules
from dnd.models.property import PropertyModel, predict_records


def prediction_columns(model: PropertyModel) -> list[str]:
    prefix = "prob" if model.spec.task_type == "classification" else "pred"
    return [f"{prefix}_{name}" for name in model.spec.target_names]


def predict_inputs(model: PropertyModel, inputs: MoleculeInputs, batch_size: int = 256) -> pd.DataFrame:
    """Input table + one column per target + `error`; rows that failed have NaN predictions."""
    preds = np.full((len(inputs.graphs), model.spec.num_tasks), np.nan)
    valid = inputs.valid
    if valid:
        preds[valid] = predict_records(model, [inputs.graphs[i] for i in valid], batch_size)
    out = inputs.table.copy()
    for j, col in enumerate(prediction_columns(model)):
        out[col] = preds[:, j]
    out["error"] = inputs.errors
    return out


def predict_file(model: PropertyModel, input_path: str | Path, out_path: str | Path,
                 smiles_column: str = "smiles", batch_size: int = 256) -> pd.DataFrame:
    """Predict every molecule of a CSV/SDF and write the table as CSV to `out_path`."""
    out_path = output_file(out_path)
    inputs = read_molecules(input_path, smiles_column)
    table = predict_inputs(model, inputs, batch_size)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(out_path)  # never a half-written output under the real name
    return table
