#!/usr/bin/env bash
# GPU checks of issue 15, one script, at most 8 minutes on one GPU (each step has its own time
# limit; the limits sum to 430 s, plus at most 10 s per step to kill one that overran). It tests
# the checkout it lives in (its src/ goes first on PYTHONPATH), from any working directory:
#
#     bash benchmarks/gpu_check.sh [OUT]            # OUT defaults to gpu-check-<date>
#
# 1. training throughput at bf16, peak memory and MFU of the teacher (`paper`), TokenGT (`paper`)
#    and the D-MPNN student (benchmarks/gpu_throughput.py);
# 2. `dnd denoise` (tiny, bf16-mixed) -> `dnd distill` -> `dnd finetune`, the last two as 1-device
#    DDP runs, each to completion on tiny data (embedded QM9 / embedded ogbg-molesol);
# 3. cached-vs-live distillation throughput at bf16 (benchmarks/distill_speed.py), paper teacher
#    and paper TokenGT.
# Everything lands in OUT: one log per step, throughput.jsonl, distill_speed.jsonl, summary.txt.
# The exit status is 1 if any step failed or ran out of time, else 0.
#
# The same logic runs without a GPU for testing (tests/test_gpu_check.py does this):
#     DEVICE=cpu STEPS=2 MODELS="teacher:tiny tokengt:tiny dmpnn" DISTILL_PRESETS=tiny \
#         TIME_SCALE=10 bash benchmarks/gpu_check.sh /tmp/gpu-check
set -uo pipefail

OUT=$(realpath -m "${1:-gpu-check-$(date +%Y%m%d-%H%M%S)}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 2
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}                        # cuda, or cpu to test the script's logic
STEPS=${STEPS:-30}                            # timed training steps per throughput model
MODELS=${MODELS:-teacher:paper tokengt:paper dmpnn}
DISTILL_PRESETS=${DISTILL_PRESETS:-paper}     # teacher and TokenGT preset of the distill ratio
TIME_SCALE=${TIME_SCALE:-1}                   # multiplies every step's time limit (CPU dry runs)
if [ "$DEVICE" = cpu ]; then ACCEL=cpu; else ACCEL=gpu; fi
mkdir -p "$OUT"
: > "$OUT/summary.txt"
status=0

CARD=""
if command -v nvidia-smi > /dev/null 2>&1; then
    CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/card.csv"
fi
echo "card: ${CARD:-none (nvidia-smi absent)}; device: $DEVICE; $(date -u +%FT%TZ)" | tee -a "$OUT/summary.txt"

step() {  # step NAME LIMIT_S COMMAND...: run with a time limit, log to OUT/NAME.log
    local name=$1 limit=$(( $2 * TIME_SCALE )) start rc
    shift 2
    start=$(date +%s)
    timeout -k 10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED (exit $rc$([ $rc -eq 124 ] && echo ', out of time'))"; status=1; fi
    echo "$name: $result in $(( $(date +%s) - start )) s (limit $limit s)" | tee -a "$OUT/summary.txt"
}

TRAIN=(--accelerator "$ACCEL" --devices 1 --precision bf16-mixed --no-progress)

# shellcheck disable=SC2086  # MODELS is a list
step throughput 180 "$PY" benchmarks/gpu_throughput.py --device "$DEVICE" --card "$CARD" \
    --steps "$STEPS" --models $MODELS --json "$OUT/throughput.jsonl"
step denoise 60 "$PY" -m dnd.cli denoise --source embedded --sample 512 --preset tiny \
    --max-steps 40 --out "$OUT/denoise" "${TRAIN[@]}"
step distill_ddp 60 "$PY" -m dnd.cli distill --teacher "$OUT/denoise/checkpoints/last.ckpt" \
    --source embedded --sample 512 --encoder tokengt --preset tiny --max-epochs 1 \
    --out "$OUT/distill" --strategy ddp "${TRAIN[@]}"
step finetune_ddp 60 "$PY" -m dnd.cli finetune --task ogbg-molesol --init "$OUT/distill/student.ckpt" \
    --max-epochs 2 --seeds 0 --out "$OUT/finetune" --strategy ddp "${TRAIN[@]}"
step distill_speed 70 "$PY" benchmarks/distill_speed.py --device "$DEVICE" --bf16 \
    --teacher-preset "$DISTILL_PRESETS" --encoder tokengt --preset "$DISTILL_PRESETS" \
    --sample 2048 --batch-size 256 --steps "$STEPS" --json "$OUT/distill_speed.jsonl"

echo "--- throughput (bf16)" | tee -a "$OUT/summary.txt"
grep -E "mol/s|skipped|failed|autocast" "$OUT/throughput.log" | tee -a "$OUT/summary.txt"
echo "--- distillation, live vs cached teacher (bf16)" | tee -a "$OUT/summary.txt"
grep -E "^(live|cached|cache build)" "$OUT/distill_speed.log" | tee -a "$OUT/summary.txt"
echo "exit status $status" | tee -a "$OUT/summary.txt"
exit $status
