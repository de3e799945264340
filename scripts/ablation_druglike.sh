#!/usr/bin/env bash
# Why the D&D foundations do not beat chemprop's defaults by more (issue 12): three D&D-NODE
# D-MPNN students that each change one thing against a common 2,000-molecule reference, all
# distilled 10 epochs at lr 1e-3 with cached teacher features, exported, then used as chemprop
# foundations on FreeSolv and ClinTox, seeds 0-2 (results/vs-chemprop/ablations/).
#   corpus size:   drug-like teacher, first 2,000 MOSES conformers   (vs the shipped 16,000)
#   teacher:       an untrained teacher of the same architecture (cpu-fast), same 2,000 molecules
#   corpus domain: the QM9 teacher of configs/cpu-qm9.yaml (3 epochs on 10k QM9 conformers),
#                  distilled on 2,000 of its QM9 pretraining molecules
# Each step is skipped when its output exists.
#   DATA=../shared/data bash scripts/ablation_druglike.sh
set -euo pipefail
export OMP_NUM_THREADS=1
DND=${DND:-dnd}
PY=${PY:-python}
R=${RUNS:-runs/ablation}
CORPUS=${CORPUS:-data-work/moses-60k/records-first-8.pt}
TEACHER=${TEACHER:-runs/druglike/teacher/checkpoints/last.ckpt}
QM9_TEACHER=${QM9_TEACHER:-runs/cpu-qm9/denoise/checkpoints/last.ckpt}
mkdir -p "$R"

student() {  # NAME TEACHER SOURCE-ARGS...
  local name=$1 teacher=$2; shift 2
  [ -f "$R/$name/student.ckpt" ] || $DND distill --teacher "$teacher" --variant node --encoder dmpnn \
      --preset chemprop "$@" --cached --feature-cache "$R/$name-features" --lr 1e-3 --max-epochs 10 \
      --out "$R/$name" --no-progress --seed 0
  [ -f "$R/$name/chemprop_foundation.pt" ] || $DND export chemprop "$R/$name/student.ckpt" \
      --out "$R/$name/chemprop_foundation.pt"
}

# an untrained teacher: one step at a vanishing learning rate leaves the initial weights
[ -f "$R/teacher-untrained/checkpoints/last.ckpt" ] || $DND denoise --preset cpu-fast --source records \
    --path "$CORPUS" --limit 64 --max-steps 1 --lr 1e-20 --warmup-steps 0 --weight-decay 0 \
    --out "$R/teacher-untrained" --no-progress --seed 0

student druglike-2k "$TEACHER" --source records --path "$CORPUS" --limit 2000
student untrained-2k "$R/teacher-untrained/checkpoints/last.ckpt" --source records --path "$CORPUS" --limit 2000
FOUND=(--foundation "D&D-NODE 2k=$R/druglike-2k/chemprop_foundation.pt"
       --foundation "D&D-NODE 2k, untrained teacher=$R/untrained-2k/chemprop_foundation.pt")
if [ -f "$QM9_TEACHER" ]; then
  student qm9-2k "$QM9_TEACHER" --source qm9 --path "$DATA/qm9/qm9pack_qm9_coords_props.csv.xz" \
      --cache-dir runs/cache --sample 2000
  FOUND+=(--foundation "D&D-NODE 2k, QM9 teacher=$R/qm9-2k/chemprop_foundation.pt")
fi
$PY benchmarks/vs_chemprop.py --data-root "$DATA" --out results/vs-chemprop/ablations --work "$R/chemprop" \
    --workers 1 --no-defaults --tasks ogbg-molfreesolv ogbg-molclintox "${FOUND[@]}"
