#!/usr/bin/env bash
# Issue 20 item 6: does transfer grow with the denoiser's quality? The drug-like denoiser
# (TorchMD-NET cpu-fast, seed 0) is trained 5 epochs on the corpus of the ANI-2x/xTB students
# (first 12,000 molecules of MOSES shard 0), saving a checkpoint every epoch; each checkpoint,
# and its initialisation (the untrained control with the same seed: exactly the run's step 0),
# is distilled into chemprop's D-MPNN (D&D-NODE, 10 epochs, on the first N_DISTILL=6000 molecules
# of the same corpus, to fit the CPU) and exported. Every step resumes or is skipped when its
# output exists.
#   scripts/denoiser_quality.sh teacher           # the denoising run (~16 min per epoch on one shared core)
#   scripts/denoiser_quality.sh distill STEP...   # STEP: 0 (the init), 357 (epoch 1), 1071, 1785
# The 20-epoch teacher of item 6 (same seed and init, the lr's cosine over the 20 epochs; resumable;
# ~4.6 min per epoch with OMP_NUM_THREADS=2 on the 2-core machine alone, 91 min in all):
#   EPOCHS=20 RUNS=runs/denoiser-quality-20 OMP_NUM_THREADS=2 scripts/denoiser_quality.sh teacher
#   RUNS=runs/denoiser-quality-20 scripts/denoiser_quality.sh distill 0 1785 7140   # init, epoch 5, epoch 20
#   VARIANT=graph RUNS=runs/denoiser-quality-20 scripts/denoiser_quality.sh distill 0 7140   # D&D-GRAPH: graph-stepN
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/denoiser-quality}
EPOCHS=${EPOCHS:-5}
VARIANT=${VARIANT:-node}                         # the students' objective: node (the default) or graph
case "$VARIANT" in node|graph|node+graph) ;; *) echo "VARIANT=$VARIANT: expected node, graph or node+graph" >&2; exit 2;; esac
prefix=$([ "$VARIANT" = node ] || echo "$VARIANT-")
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DND=${DND:-.venv/bin/dnd}
corpus=(--source sdf --path "$DATA/moses-conformers/moses-conformers-0.sdf.gz")
if [ "$1" = teacher ]; then
  $DND denoise --preset cpu-fast "${corpus[@]}" --limit 12000 --hydrogens dft --out "$RUNS/teacher" --max-epochs "$EPOCHS" \
      --checkpoint-every-n-steps 357 --no-progress --seed 0 --resume
  exit
fi
shift
for step in "$@"; do
  if [ "$step" = 0 ]; then teacher=(--teacher "$RUNS/teacher/checkpoints/step357.ckpt" --control); name=${prefix}step0
  else teacher=(--teacher "$RUNS/teacher/checkpoints/step$step.ckpt"); name=${prefix}step$step; fi
  [ -f "${teacher[1]}" ] || { echo "${teacher[1]}: no such checkpoint (run '$0 teacher' first; steps are multiples of 357)" >&2; exit 2; }
  [ -f "$RUNS/$name/student.ckpt" ] || $DND distill "${teacher[@]}" --cached --variant "$VARIANT" --encoder dmpnn \
      --preset chemprop "${corpus[@]}" --limit "${N_DISTILL:-6000}" --feature-cache runs/teacher-features --max-epochs 10 --lr 1e-3 --seed 0 \
      --no-progress --resume --out "$RUNS/$name" > "$RUNS/$name.log" 2>&1 || { echo "distill of $name failed: see $RUNS/$name.log" >&2; exit 1; }
  $DND export chemprop "$RUNS/$name/student.ckpt" --out "$RUNS/$name.chemprop.pt" >> "$RUNS/$name.log" 2>&1
done
