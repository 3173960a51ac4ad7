#!/usr/bin/env bash
# The studies on the real data of ../shared/data:
#  1. verification vs fine-tuning: the GSM8K paper's four runs, graded by us, side by side;
#  2. Compositional GSM: pairs built from GSM8K test;
#  3. self-improvement / collapse diagnostics: the Faithful-CoT models (each with the five prompts
#     they all share) read as iterations code001 → code002 → text002 → text003 → gpt-3.5 → gpt4,
#     with embedding similarity from the MiniLM sentence encoder (exported once; over the first
#     300 problems), and the SFT/DPO export of one iteration with 10% original solutions.
# usage: scripts/studies.sh [OUT_DIR]   (default out/studies)
set -euo pipefail
cd "$(dirname "$0")/.."
# demo.sh has run setup already.
[ -n "${BESTOFN_SETUP_DONE:-}" ] || bash scripts/setup.sh
out=${1:-out/studies}
bin=target/release/bestofn
gsm8k=../shared/data/gsm8k
mkdir -p "$out/paper" "$out/iterations"

echo "== verification vs fine-tuning (GSM8K paper runs)" >&2
for run in 6b_finetuning 6b_verification 175b_finetuning 175b_verification; do
  "$bin" import --format "gsm8k-example-solutions:$run" --input "$gsm8k/example_model_solutions.jsonl" \
    --out "$out/paper/$run.jsonl" --problems-out "$out/paper/problems.jsonl"
  "$bin" label --problems "$out/paper/problems.jsonl" --samples "$out/paper/$run.jsonl" \
    --out "$out/paper/$run.labeled.jsonl" 2>/dev/null
done
"$bin" compare --out "$out/paper/compare" \
  --run 6B-finetuning="$out/paper/6b_finetuning.labeled.jsonl" \
  --run 6B-verification="$out/paper/6b_verification.labeled.jsonl" \
  --run 175B-finetuning="$out/paper/175b_finetuning.labeled.jsonl" \
  --run 175B-verification="$out/paper/175b_verification.labeled.jsonl"

echo "== Compositional GSM" >&2
"$bin" compose --problems "$gsm8k/test.jsonl" --out "$out/compose/composed.jsonl"

echo "== Faithful-CoT models as iterations" >&2
"$bin" import --format faithful-cot-pool \
  --input ../shared/data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz \
  --out "$out/iterations/pool.jsonl" --problems-out "$out/iterations/problems.jsonl"
"$bin" label --answer-field source_answer --problems "$out/iterations/problems.jsonl" \
  --samples "$out/iterations/pool.jsonl" --out "$out/iterations/labeled.jsonl"
(cd verifier && ../.venv/bin/python -m bestofn_verifier experiment by-model \
  --samples "../$out/iterations/labeled.jsonl" --out-dir "../$out/iterations" \
  --prompts COT,LtM,NL+SL,noNL,standard)
if [ ! -f out/embedder/embedder.json ]; then
  (cd verifier && HF_HUB_OFFLINE=1 ../.venv/bin/python -m bestofn_verifier embedder --out ../out/embedder)
fi
"$bin" compare --out "$out/iterations/compare" --iterations --embedder out/embedder --embed-max-problems 300 \
  --run code001="$out/iterations/code001.jsonl" --run code002="$out/iterations/code002.jsonl" \
  --run text002="$out/iterations/text002.jsonl" --run text003="$out/iterations/text003.jsonl" \
  --run gpt-3.5="$out/iterations/gpt-3.5-turbo.jsonl" --run gpt4="$out/iterations/gpt4.jsonl"
"$bin" export --problems "$gsm8k/test.jsonl" --samples "$out/iterations/code002.jsonl" \
  --sft "$out/iterations/code002.sft.jsonl" --dpo "$out/iterations/code002.dpo.jsonl" \
  --max-per-problem 4 --original-fraction 0.1
echo "reports: $out/paper/compare/compare.md, $out/compose/composed.summary.json, $out/iterations/compare/compare.md" >&2
