"""Teacher features per second per core, for each teacher kind, against a named reference run in
the same process on the same molecules (printed as a ratio), with peak memory.

- ani2x: our hidden-layer features of one member vs torchani's own energy call on that member
  (the reference does the same AEV and network work, minus our per-element slicing);
- xtb: our three GFN2-xTB single points (gas, water, octanol, restarted) vs one plain gas-phase
  tblite single point;
- the pilot of the teachers issue measured ~200 molecules/s (ANI-2x) and ~7/s (xTB gas + water)
  per core; printed beside ours.

    OMP_NUM_THREADS=1 python benchmarks/teacher_speed.py --path ../shared/data/moses-conformers/moses-conformers-0.sdf.gz \
        --limit 200 --ani2x-dir ../shared/models/ani2x
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from dnd.data.config import CorpusConfig
from dnd.data.corpus import load_corpus
from dnd.teachers import TeacherSpec, build_teacher
from dnd.teachers.base import formal_charge
from dnd.teachers.xtb import BOHR_PER_ANGSTROM, _calculator

PILOT = {"ani2x": 200.0, "xtb": 7.0}


def rate(fn, records) -> float:
    t0 = time.perf_counter()
    fn(records)
    return len(records) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="an SDF(.gz) of conformers with hydrogens")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--xtb-limit", type=int, default=40, help="molecules for xTB (slow)")
    ap.add_argument("--ani2x-dir")
    args = ap.parse_args()
    torch.set_num_threads(1)
    records = load_corpus(CorpusConfig(source="sdf", path=args.path, limit=args.limit))
    print(f"{len(records)} molecules, {np.mean([r.z.numel() for r in records]):.1f} atoms each (with H); one thread")

    ani = build_teacher(TeacherSpec("ani2x"), args.ani2x_dir)
    covered = [r for r in records if not (ani.compute([r])[0].error)]
    ours = rate(ani.compute, covered)

    @torch.no_grad()
    def torchani_energy(recs):
        for r in recs:
            ani.model((r.z.view(1, -1), r.pos.view(1, -1, 3).double()))

    ref = rate(torchani_energy, covered)
    print(f"ani2x: {ours:.0f} molecules/s, torchani energy {ref:.0f}/s, ratio {ours / ref:.2f}; pilot ~{PILOT['ani2x']:.0f}/s")

    xtb = build_teacher(TeacherSpec("xtb"), None)
    few = records[:args.xtb_limit]
    ours = rate(xtb.compute, few)

    def gas_only(recs):
        for r in recs:
            _calculator(r.z.numpy(), r.pos.numpy().astype(np.float64) * BOHR_PER_ANGSTROM, formal_charge(r), None).singlepoint()

    ref = rate(gas_only, few)
    print(f"xtb: {ours:.2f} molecules/s (gas + water + octanol), one gas single point {ref:.2f}/s, ratio {ours / ref:.2f}; "
          f"pilot (gas + water) ~{PILOT['xtb']:.0f}/s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
