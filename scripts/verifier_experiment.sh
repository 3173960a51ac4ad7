#!/usr/bin/env bash
# The verifier experiment, end to end and reproducible: train the default MiniLM verifier on the
# labeled Faithful-CoT candidates of the even-numbered GSM8K test problems, score the candidates of
# the odd-numbered (held-out) problems with it, and evaluate. Generator: the GPT-3 davinci family
# (code-davinci-001/002, text-davinci-002/003) with the natural-language prompt styles (COT, LtM,
# standard): 12 candidates per problem from one model family, so the verifier cannot rank by which
# family wrote a solution. A "who wrote it" baseline (score = the writing configuration's accuracy on
# the training half) shows how much of the ranking such identity alone would explain.
#
# Flags after OUT_DIR go to `bestofn_verifier train`, so a variant is trained on the same data and
# measured on the same held-out problems, e.g. the token-level verifier or a SmolLM2 backbone:
#   scripts/verifier_experiment.sh out/experiment-token --head token --step-separator $'\n'
#   scripts/verifier_experiment.sh out/experiment-smollm2 --base ../models/smollm2-135m-instruct --max-steps 300
# (a --base path is read from verifier/, where training runs). A step-level verifier is evaluated
# with every aggregation of its step scores side by side.
#
# A verifier too slow to score every held-out candidate on 2 cores (a decoder backbone) is measured
# on the first K held-out problems with BESTOFN_HELDOUT_PROBLEMS=K; heldout-labeled.jsonl keeps all.
#
# BESTOFN_TRAIN_PROCS=N trains with N processes under accelerate launch (DDP; gloo on CPU), each with
# --batch-size / N examples per batch, so the global batch stays the one-process batch.
#
# Re-runs reuse the trained verifier while its training data and flags are unchanged.
# usage: scripts/verifier_experiment.sh [OUT_DIR [TRAIN_FLAG...]]   (default out/experiment)
set -euo pipefail
cd "$(dirname "$0")/.."
# demo.sh has run setup already.
[ -n "${BESTOFN_SETUP_DONE:-}" ] || bash scripts/setup.sh
out=${1:-out/experiment}
train_flags=("${@:2}")
bin=target/release/bestofn
py=.venv/bin/python
mkdir -p "$out"

"$bin" import --format faithful-cot-pool \
  --input ../shared/data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz \
  --out "$out/pool.jsonl" --problems-out "$out/problems.jsonl"

# One generator family and the natural-language prompt styles; even problems train, odd are held out.
(cd verifier && ../$py -m bestofn_verifier experiment split --pool "../$out/pool.jsonl" \
  --train "../$out/train-samples.jsonl" --heldout "../$out/heldout-samples.jsonl")

# The natural-language candidates state their answers in the text: grade the text.
"$bin" label --problems "$out/problems.jsonl" --samples "$out/train-samples.jsonl" \
  --out "$out/train-labeled.jsonl" --export-verifier-data "$out/train-examples.jsonl" --dedup
"$bin" label --problems "$out/problems.jsonl" --samples "$out/heldout-samples.jsonl" \
  --out "$out/heldout-labeled.jsonl"

verifier="$out/verifier"
# What the verifier was trained from: the data and the flags; written once export has succeeded.
procs=${BESTOFN_TRAIN_PROCS:-1}
launch=(../$py -m bestofn_verifier train)
if [ "$procs" -gt 1 ]; then
  # torch threads split between the processes: the cores are shared.
  launch=(../.venv/bin/accelerate launch --config_file accelerate/cpu-2proc.yaml --num_processes "$procs"
    -m bestofn_verifier train
    --batch-size $((16 / procs)) --threads $(( $(nproc) / procs > 0 ? $(nproc) / procs : 1 )))
fi
trained_from="data $(sha256sum "$out/train-examples.jsonl" | cut -d' ' -f1) procs $procs flags ${train_flags[*]:-}"
if [ ! -f "$verifier/verifier.json" ] || [ "$(cat "$out/trained-from.txt" 2>/dev/null)" != "$trained_from" ]; then
  (cd verifier && "${launch[@]}" --data "../$out/train-examples.jsonl" --out "../$out/checkpoint" \
    ${train_flags[@]+"${train_flags[@]}"}) 2>&1 | tee "$out/train.log"
  (cd verifier && ../$py -m bestofn_verifier export --checkpoint "../$out/checkpoint" --out "../$verifier")
  (cd verifier && ../$py -m bestofn_verifier quantize --verifier "../$verifier" --out "../$verifier-int8")
  echo "$trained_from" > "$out/trained-from.txt"
else
  echo "experiment: reusing $verifier (trained on the same data with the same flags)" >&2
fi
aggregates=()
if python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["output"].get("per") != "step")' \
  "$verifier/verifier.json"; then
  aggregates=(--aggregate last,min,prod,mean)
fi

heldout="$out/heldout-labeled.jsonl"
if [ -n "${BESTOFN_HELDOUT_PROBLEMS:-}" ]; then
  heldout="$out/heldout-labeled.first-$BESTOFN_HELDOUT_PROBLEMS.jsonl"
  (cd verifier && ../$py -m bestofn_verifier experiment first-problems \
    --samples "../$out/heldout-labeled.jsonl" --problems "$BESTOFN_HELDOUT_PROBLEMS" --out "../$heldout")
  echo "experiment: measuring on the first $BESTOFN_HELDOUT_PROBLEMS held-out problems ($heldout)" >&2
fi
"$bin" score --verifier "$verifier" --problems "$out/problems.jsonl" \
  --samples "$heldout" --out "$out/heldout-scored.jsonl"
"$bin" eval --samples "$out/heldout-scored.jsonl" ${aggregates[@]+"${aggregates[@]}"} \
  --html --problems "$out/problems.jsonl" --out "$out/report-verifier" 2>&1 \
  | tee "$out/headline-verifier.txt" >&2

(cd verifier && ../$py -m bestofn_verifier experiment identity \
  --train-labeled "../$out/train-labeled.jsonl" --heldout-labeled "../$out/heldout-labeled.jsonl" \
  --out "../$out/heldout-identity.jsonl")
"$bin" eval --samples "$out/heldout-identity.jsonl" --out "$out/report-identity-baseline" 2>&1 \
  | tee "$out/headline-identity.txt" >&2
# Each problem's picks, for the training study's comparison with the baseline problem by problem.
"$bin" rank --samples "$out/heldout-scored.jsonl" --strategy verifier,weighted --out "$out/heldout-ranked.jsonl"
"$bin" rank --samples "$out/heldout-identity.jsonl" --strategy verifier,weighted \
  --out "$out/heldout-identity-ranked.jsonl"
echo "reports: $out/report-verifier/report.md (and report.html), $out/report-identity-baseline/report.md" >&2
