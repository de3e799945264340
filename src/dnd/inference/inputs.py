"""Reading molecules for inference (CSV with a SMILES column, or SDF) into OGB graphs.

Inference must give one answer per input row, in input order, so a molecule that cannot be
parsed or featurized is kept as a row with its error message instead of being dropped or
crashing the run. The caller writes the message into an `error` column.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rdkit import Chem, RDLogger
from torch_geometric.data import Data

from dnd.data.featurize import FeaturizationError, mol_to_graph, smiles_to_graph
from dnd.errors import UserError


class InputError(UserError, ValueError):
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


# a file that is not what its name says: corrupt or truncated gzip, binary data, bad quoting
_UNREADABLE = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
               EOFError, zlib.error)


def read_csv(path: Path, smiles_column: str) -> MoleculeInputs:
    """One row per line after the header, blank and whitespace-only lines included (flagged as
    errors), so output row i is input row i and `where(i)` names the file's real line."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except _UNREADABLE as err:
        raise InputError(f"{path}: cannot read as CSV ({type(err).__name__}: {err})") from None
    if smiles_column not in table.columns:
        raise InputError(f"{path}: no column {smiles_column!r} (columns: {list(table.columns)}); "
                         "name the SMILES column with --smiles-column")
    graphs: list[Data | None] = []
    errors: list[str] = []
    blank = (table.apply(lambda col: col.str.strip()) == "").all(axis=1).tolist()
    for smiles, is_blank in zip(table[smiles_column], blank):
        if is_blank:
            graphs.append(None)
            errors.append("blank line")
            continue
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
    try:
        with opener(path, "rb") as fh:
            _read_sdf_records(fh, rows, graphs, errors)
    except (OSError, EOFError, zlib.error, SystemError) as err:  # corrupt or truncated gzip
        cause = err.__context__ if isinstance(err, SystemError) else err  # RDKit's wrapper
        if not isinstance(cause, (OSError, EOFError, zlib.error)):
            raise
        raise InputError(f"{path}: cannot read as SDF ({type(cause).__name__}: {cause})") from None
    if not any(r["smiles"] for r in rows) and not _has_sdf_block(path, opener):
        raise InputError(f"{path}: no SDF record found (no 'M  END' line): not an SDF file?")
    return MoleculeInputs(pd.DataFrame(rows, columns=["record", "name", "smiles"]), graphs, errors, "sdf")


def _has_sdf_block(path: Path, opener) -> bool:
    """Whether the file holds at least one molfile block (tells an SDF whose records all fail
    from a file that is not an SDF at all, e.g. binary data)."""
    with opener(path, "rb") as fh:
        return any(line.startswith(b"M  END") for line in fh)


def _read_sdf_records(fh, rows: list, graphs: list, errors: list) -> None:
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
