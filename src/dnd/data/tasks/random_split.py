"""Seeded random 8:1:1 split used by the curated property sets (bp, mp, ri, logp) and user CSVs.

A dedicated `numpy.random.default_rng(seed)` permutation, so the split depends on the seed and the
number of usable rows only, never on global random state or on the Python/torch version.
"""

from __future__ import annotations

import numpy as np


def random_split(n: int, seed: int, frac_train: float = 0.8, frac_valid: float = 0.1
                 ) -> dict[str, list[int]]:
    """{"train", "valid", "test"} -> indices in 0..n-1 (sizes floor(0.8n), floor(0.1n), rest)."""
    if not 0 < frac_train < 1 or not 0 <= frac_valid < 1 or frac_train + frac_valid > 1:
        raise ValueError(f"bad split fractions train={frac_train} valid={frac_valid}")
    perm = np.random.default_rng(seed).permutation(n).tolist()
    n_train, n_valid = int(frac_train * n), int(frac_valid * n)
    return {"train": perm[:n_train], "valid": perm[n_train:n_train + n_valid],
            "test": perm[n_train + n_valid:]}
