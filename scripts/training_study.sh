#!/usr/bin/env bash
# The training study of docs/verifier.md, on the held-out experiment of verifier_experiment.sh:
# the objectives side by side (pointwise, pairwise, token-level; balanced and all the data), one
# process against two (accelerate launch, gloo), and the learning curve (training problems 50..all).
# Each variant is one verifier_experiment.sh run in OUT/VARIANT; the summary table and the curve's
# plot are written by `python -m bestofn_verifier study-report OUT`. Re-runs reuse what was trained.
# usage: scripts/training_study.sh [OUT] [VARIANT...]   (default out/study, every variant)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BESTOFN_SETUP_DONE:-}" ] || bash scripts/setup.sh
export BESTOFN_SETUP_DONE=1
out=${1:-out/study}
shift || true
declare -A flags=(
  [pointwise]=""
  [pairwise]="--objective pairwise"
  [token]="--head token --step-separator \n"
  [pointwise-all]="--no-balance"
  [pairwise-all]="--objective pairwise --no-balance"
  [token-all]="--head token --step-separator \n --no-balance"
  [token-all-1epoch]="--head token --step-separator \n --no-balance --epochs 1"
  [curve-50]="--train-problems 50"
  [curve-100]="--train-problems 100"
  [curve-250]="--train-problems 250"
)
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(pointwise pointwise-2proc pairwise token pointwise-all pairwise-all token-all
  token-all-1epoch curve-50 curve-100 curve-100-2proc curve-250)
for variant in "${variants[@]}"; do
  echo "study: $variant" >&2
  # VARIANT-2proc: VARIANT's flags, trained by two processes.
  base=${variant%-2proc}
  procs=1
  [ "$base" = "$variant" ] || procs=2
  [ -n "${flags[$base]+known}" ] || { echo "study: unknown variant $variant" >&2; exit 2; }
  read -ra variant_flags <<< "${flags[$base]}"
  # printf %b turns the \n of a step separator into a newline (the x keeps $(...) from eating it).
  for i in "${!variant_flags[@]}"; do
    flag=$(printf '%bx' "${variant_flags[$i]}")
    variant_flags[$i]=${flag%x}
  done
  BESTOFN_TRAIN_PROCS=$procs bash scripts/verifier_experiment.sh "$out/$variant" \
    ${variant_flags[@]+"${variant_flags[@]}"}
done
.venv/bin/python -m bestofn_verifier study-report "$out"
