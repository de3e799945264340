#!/usr/bin/env bash
# The drug-like D&D pretraining behind the shipped D-MPNN models and results/druglike/, as run on the
# 2-core development machine (OMP_NUM_THREADS=1). Each step resumes or is skipped when its output
# exists, so the script can be re-run after an interruption.
#   DATA=../shared/data bash scripts/druglike_pretrain.sh
set -euo pipefail
export OMP_NUM_THREADS=1
DND=${DND:-dnd}
W=${WORK:-data-work}
R=${RUNS:-runs/druglike}
CHUNKS=${CHUNKS:-8}            # corpus of the teacher and the students: the first CHUNKS x 2000 MOSES rows
mkdir -p "$W" "$R"

# 1. MOSES training SMILES (from the molsets wheel, checksum-checked) and RDKit conformers
[ -f "$W/moses/train.csv.gz" ] || $DND data moses --out "$W/moses/train.csv.gz"
$DND data conformers "$W/moses/train.csv.gz" --out "$W/moses-60k" --limit 60000 --chunk-size 2000 --workers 2
CORPUS="$W/moses-60k/records-first-$CHUNKS.pt"
[ -f "$CORPUS" ] || $DND data conformers "$W/moses/train.csv.gz" --out "$W/moses-60k" --limit 60000 \
    --chunk-size 2000 --merge --merge-first "$CHUNKS"

# 2. teacher: TorchMD-NET ET (cpu-fast) denoising the drug-like conformers, one epoch
[ -f "$R/teacher/checkpoints/last.ckpt" ] || $DND denoise --preset cpu-fast --source records \
    --path "$CORPUS" --out "$R/teacher" --max-epochs 1 --no-progress --seed 0

# 3. D&D-NODE and D&D-GRAPH into chemprop's D-MPNN (its defaults), cached teacher features shared
for v in node graph; do
  [ -f "$R/dmpnn-$v/student.ckpt" ] || $DND distill --teacher "$R/teacher/checkpoints/last.ckpt" \
      --variant $v --encoder dmpnn --preset chemprop --source records --path "$CORPUS" --cached \
      --feature-cache "$R/teacher_features" --lr 1e-3 --max-epochs ${EPOCHS:-10} --out "$R/dmpnn-$v" --no-progress --seed 0
  $DND export chemprop "$R/dmpnn-$v/student.ckpt" --out "$R/dmpnn-$v/chemprop_foundation.pt"
done
