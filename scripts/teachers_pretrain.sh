#!/usr/bin/env bash
# Foundations from the chemistry-aware teachers (ANI-2x, GFN2-xTB) and their controls, on the
# first N molecules of the shared MOSES conformer corpus (shard 0): D-MPNN students (exported for
# chemprop) and, from xTB, TokenGT students (`cpu-fast`, for `dnd finetune`). Two lanes run side by
# side (one core each); every run resumes (`--resume`) and the teacher features are computed once
# into FEATURES and shared by the runs (xTB: ~7.6 molecules/s on one core, ANI-2x: ~210/s).
#   scripts/teachers_pretrain.sh [N] [EPOCHS]       (defaults 12000, 20)
set -euo pipefail
N=${1:-12000}
EPOCHS=${2:-20}
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/teachers}
FEATURES=${FEATURES:-runs/teacher-features}
export OMP_NUM_THREADS=1 TORCHANI_DATA_DIR=${TORCHANI_DATA_DIR:-../shared/models/ani2x}
DND=${DND:-.venv/bin/dnd}
common=(--source sdf --path "$DATA/moses-conformers/moses-conformers-0.sdf.gz"
        --limit "$N" --feature-cache "$FEATURES" --max-epochs "$EPOCHS" --lr 1e-3 --seed 0 --no-progress --resume
        --exclude-tasks ogbg-molesol ogbg-molfreesolv ogbg-mollipo ogbg-molbbbp ogbg-molbace ogbg-molclintox
        ogbg-molsider --data-root "$DATA")
lane() {  # NAME TEACHER VARIANT ENCODER PRESET [--control]
  local name=$1 teacher=$2 variant=$3 encoder=$4 preset=$5; shift 5
  $DND distill --teacher "$teacher" --variant "$variant" --encoder "$encoder" --preset "$preset" "$@" \
    "${common[@]}" --out "$RUNS/$name" > "$RUNS/$name.log" 2>&1
  if [ "$encoder" = dmpnn ]; then
    $DND export chemprop "$RUNS/$name/student.ckpt" --out "$RUNS/$name.chemprop.pt" >> "$RUNS/$name.log" 2>&1
  fi
}
mkdir -p "$RUNS"
( lane ani2x-node ani2x node dmpnn chemprop; lane ani2x-node-control ani2x node dmpnn chemprop --control ) &
( lane xtb-nodegraph xtb node+graph dmpnn chemprop; lane xtb-nodegraph-control xtb node+graph dmpnn chemprop --control ) &
wait
# the TokenGT students read the xTB features the D-MPNN lane cached
lane tokengt-xtb-nodegraph xtb node+graph tokengt cpu-fast &
lane tokengt-xtb-nodegraph-control xtb node+graph tokengt cpu-fast --control &
wait
