"""Reading molecules for inference (CSV with a SMILES column, or SDF) into OGB graphs.

Inference must give one answer per input row, in input order, so a molecule that cannot be
parsed or featurized is kept as a row with its error message instead of being dropped or
crashing the run. The caller writes the message into an `error` column.
"""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rdkit import Chem, RDLogger
from torch_geometric.data import Data

from dnd.data.featurize import FeaturizationError, mol_to_graph, smiles_to_graph


class InputError(ValueError):
    """The input file as a whole is unusable (missing, wrong format, no SMILES column)."""


@dataclass
class MoleculeInputs:
    """`table`: the input's own columns, one row per molecule (copied to the output);
    `graphs[i]` is row i's graph or None, in which case `errors[i]` says why."""

    table: pd.DataFrame
    graphs: list[Data | None]
    errors: list[str]
    kind: str = "csv"

    def where(self, i: int) -> str:
        """Human position of row i: CSV data row (and file line) or SDF record, 1-based."""
        return f"record {i + 1}" if self.kind == "sdf" else f"row {i + 1} (line {i + 2})"

    @property
    def valid(self) -> list[int]:
        return [i for i, g in enumerate(self.graphs) if g is not None]


def _is_sdf(path: Path) -> bool:
    return path.name.lower().endswith((".sdf", ".sdf.gz", ".sd", ".mol"))


def read_csv(path: Path, smiles_column: str) -> MoleculeInputs:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read as CSV ({err})") from err
    if smiles_column not in table.columns:
        raise InputError(f"{path}: no column {smiles_column!r} (columns: {list(table.columns)}); "
                         "name the SMILES column with --smiles-column")
    graphs: list[Data | None] = []
    errors: list[str] = []
    for smiles in table[smiles_column]:
        try:
            graphs.append(smiles_to_graph(smiles.strip()))
            errors.append("")
        except FeaturizationError as err:
            graphs.append(None)
            errors.append(str(err))
    return MoleculeInputs(table, graphs, errors)


def read_sdf(path: Path) -> MoleculeInputs:
    """One row per SDF record; hydrogens removed (graphs are heavy-atom graphs, as in OGB)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    rows, graphs, errors = [], [], []
    with opener(path, "rb") as fh:
        for i, mol in enumerate(Chem.ForwardSDMolSupplier(fh, sanitize=True, removeHs=True)):
            name = mol.GetProp("_Name") if mol is not None and mol.HasProp("_Name") else ""
            smiles = Chem.MolToSmiles(mol) if mol is not None else ""
            rows.append({"record": i, "name": name, "smiles": smiles})
            try:
                if mol is None:
                    raise FeaturizationError("RDKit cannot read or sanitize this SDF record")
                g = mol_to_graph(mol)
                g.smiles = smiles
                graphs.append(g)
                errors.append("")
            except FeaturizationError as err:
                graphs.append(None)
                errors.append(str(err))
    return MoleculeInputs(pd.DataFrame(rows, columns=["record", "name", "smiles"]), graphs, errors, "sdf")


def read_molecules(path: str | Path, smiles_column: str = "smiles", quiet_rdkit: bool = True) -> MoleculeInputs:
    """Molecules of a CSV (SMILES in `smiles_column`) or SDF file; bad rows are reported on
    stderr with file and row and kept as errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: input file not found")
    if quiet_rdkit:
        RDLogger.DisableLog("rdApp.*")  # our own per-row messages replace RDKit's
    try:
        inputs = read_sdf(path) if _is_sdf(path) else read_csv(path, smiles_column)
    finally:
        if quiet_rdkit:
            RDLogger.EnableLog("rdApp.*")
    for i, err in enumerate(inputs.errors):
        if err:
            print(f"{path}: {inputs.where(i)}: skipped: {err}", file=sys.stderr)
    return inputs
