"""Regenerate src/dnd/embedded/qm9_subset.npz from the qm9pack CSV.

    python scripts/make_embedded.py PATH/qm9pack_qm9_coords_props.csv.xz [--n 3000] [--seed 0]

Draws `n` molecules uniformly at random (seeded) from all QM9 rows, solves each molecule's
SMILES-to-coordinates atom mapping (as `dnd.data.sources.qm9` does) and stores the result.
Molecules whose mapping fails are skipped and replaced by the next draw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dnd.data.embedded import QM9_FILE, embedded_dir, write_qm9_subset
from dnd.data.report import RecordError
from dnd.data.sources import qm9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="qm9pack_qm9_coords_props.csv.xz")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=embedded_dir() / QM9_FILE)
    args = parser.parse_args()

    items = [payload for _, payload in qm9.read_items(args.csv, None, qm9.Options())]
    order = np.random.default_rng(args.seed).permutation(len(items))
    records, skipped = [], 0
    for idx in order:
        if len(records) == args.n:
            break
        payload = items[idx]
        try:
            mol_h, pos, _, y = qm9.parse(payload)
        except RecordError:
            skipped += 1
            continue
        records.append((int(idx), (mol_h, pos, payload[1], payload[0], y)))
    records.sort(key=lambda r: r[0])  # keep QM9 order inside the subset
    write_qm9_subset(args.out, [r for _, r in records], qm9.PROPERTY_COLUMNS)
    print(f"wrote {len(records)} molecules to {args.out} ({args.out.stat().st_size / 1e6:.2f} MB);"
          f" {skipped} draws skipped (no atom mapping)")


if __name__ == "__main__":
    main()
