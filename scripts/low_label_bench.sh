#!/usr/bin/env bash
# The few-label benchmark of the teachers' foundations (results/vs-chemprop): chemprop defaults,
# the ANI-2x and xTB foundations with their controls, and the earlier shipped denoiser foundation,
# on paired training subsets (benchmarks/vs_chemprop.py). Resumes; run after
# scripts/teachers_pretrain.sh.  scripts/low_label_bench.sh TASKS... [-- extra vs_chemprop options]
set -euo pipefail
R=${RUNS:-runs/teachers}
export OMP_NUM_THREADS=1
tasks=(); while [[ $# -gt 0 && $1 != -- ]]; do tasks+=("$1"); shift; done; [[ ${1:-} == -- ]] && shift
.venv/bin/python benchmarks/vs_chemprop.py --data-root "${DATA:-../shared/data}" --out results/vs-chemprop \
  --tasks "${tasks[@]}" --train-fractions 0.1 0.25 --workers 2 --plot \
  --foundation "D&D-NODE D-MPNN=$R/shipped-node.chemprop.pt" \
  --foundation "ANI-2x NODE=$R/ani2x-node.chemprop.pt" \
  --foundation "ANI-2x NODE, control=$R/ani2x-node-control.chemprop.pt" \
  --foundation "xTB NODE+GRAPH=$R/xtb-nodegraph.chemprop.pt" \
  --foundation "xTB NODE+GRAPH, control=$R/xtb-nodegraph-control.chemprop.pt" \
  --control "ANI-2x NODE, control=ANI-2x NODE" --control "xTB NODE+GRAPH, control=xTB NODE+GRAPH" "$@"
