"""Build the refractive-index task table from the `chemicals` package (PyPI, MIT).

No public refractive-index dataset with SMILES could be found, but `chemicals` ships the CRC
Handbook's organic refractive-index table (n_D with its measurement temperature, keyed by CAS)
and its own PubChem-derived identifier database. Joining the two gives SMILES + n_D. Steps, each
counted in the provenance record written next to the CSV:
1. every CAS of the table is looked up in chemicals' identifier database (missing: dropped);
2. its SMILES is parsed by RDKit and canonicalised (unparsable or empty: dropped);
3. entries whose canonical SMILES coincide (e.g. stereoisomers whose SMILES carry no stereo) are
   merged into one row with the mean n_D, so one compound cannot sit in two splits.
The measurement temperature (mostly 20 °C) is kept as a column for reference, not as input.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

TABLE = "CRC Handbook Organic RI.csv"


def _lookup(cas: str):
    """chemicals' identifier-database entry for a CAS number, or None if it has none."""
    from chemicals.identifiers import search_chemical
    try:
        return search_chemical(cas)
    except Exception:  # noqa: BLE001 - chemicals raises bare Exception for unknown identifiers
        return None


def build_refractive_index() -> tuple[pd.DataFrame, dict]:
    """(table with columns smiles, ri, temperature_K, cas, name; provenance dict)."""
    try:
        from chemicals import refractivity
    except ImportError as e:
        raise ImportError("building the refractive-index set needs the `chemicals` package: "
                          "pip install 'dnd[refractive]' (or pip install chemicals)") from e
    table = refractivity.RI_data_CRC_organic
    counts = {"table_rows": int(len(table)), "not_in_identifier_db": 0, "no_smiles": 0,
              "rdkit_unparsable": 0, "non_finite_ri": 0}
    rows: dict[str, list[tuple[float, float, str, str]]] = {}
    with rdBase.BlockLogs():
        for cas, ri, temp in zip(table.index, table["RI"], table["RIT"]):
            if not np.isfinite(ri):
                counts["non_finite_ri"] += 1
                continue
            meta = _lookup(str(cas))
            if meta is None or not meta.smiles:
                counts["not_in_identifier_db" if meta is None else "no_smiles"] += 1
                continue
            mol = Chem.MolFromSmiles(meta.smiles)
            if mol is None:
                counts["rdkit_unparsable"] += 1
                continue
            rows.setdefault(Chem.MolToSmiles(mol), []).append(
                (float(ri), float(temp), str(cas), meta.common_name or ""))
    out = pd.DataFrame({
        "smiles": list(rows),
        "ri": [round(float(np.mean([r[0] for r in v])), 6) for v in rows.values()],
        "temperature_K": [float(np.mean([r[1] for r in v])) if all(np.isfinite(r[1]) for r in v)
                          else float("nan") for v in rows.values()],
        "cas": [";".join(r[2] for r in v) for v in rows.values()],
        "name": [v[0][3] for v in rows.values()],
    })
    counts["merged_duplicate_smiles"] = int(sum(len(v) - 1 for v in rows.values()))
    counts["written"] = int(len(out))
    provenance = {
        "dataset": "refractive index (n_D) of organic compounds",
        "source_package": "chemicals", "source_package_version": version("chemicals"),
        "source_table": f"chemicals.refractivity.RI_data_CRC_organic ({TABLE})",
        "source_table_origin": "CRC Handbook of Chemistry and Physics, physical constants of "
                               "organic compounds (as distributed by chemicals, MIT licence)",
        "smiles_from": "chemicals.identifiers.search_chemical(CAS).smiles (chemicals' PubChem-"
                       "derived identifier database), canonicalised with RDKit",
        "rdkit_version": rdBase.rdkitVersion, "python": platform.python_version(),
        "duplicates": "rows with the same canonical SMILES merged; ri = mean",
        "counts": counts,
    }
    return out, provenance


def provenance_path(csv_path: str | Path) -> Path:
    """`x.csv.gz` / `x.csv` -> `x.provenance.json` in the same folder."""
    p = Path(csv_path)
    stem = p.name.split(".csv")[0]
    return p.with_name(stem + ".provenance.json")


def write_refractive_index(out: str | Path) -> dict:
    """Build the table, write it (gzip if the name ends in .gz) and its provenance JSON."""
    table, provenance = build_refractive_index()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip bytes reproducible, so the file's hash keys the task cache stably
    compression = {"method": "gzip", "mtime": 0} if out.suffix == ".gz" else None
    table.to_csv(out, index=False, compression=compression)
    provenance["file"] = out.name
    provenance_path(out).write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance
