#!/usr/bin/env bash
# The main job on embedded defaults: set up, train (first run, about 15 minutes on 2 cores) or
# reuse the default verifier (scripts/verifier_experiment.sh), then `bestofn solve` on the small
# problem set in data/ with the bundled llama.cpp model and that verifier. Then the reports on the
# real sample sets of ../shared/data (grade, rank, evaluate) and the studies (scripts/studies.sh),
# all under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BESTOFN_SETUP_DONE=1
bin=target/release/bestofn
data=../shared/data/samples
out=out

# Train (or reuse) the default MiniLM verifier and measure it on held-out problems.
bash scripts/verifier_experiment.sh "$out/experiment"

echo "== solve: data/easy-arithmetic.jsonl, bundled SmolLM2-135M-Instruct, verifier out/experiment/verifier" >&2
mkdir -p "$out/solve"
"$bin" solve --out "$out/solve/answers.jsonl" 2>&1 | tee "$out/solve/summary.txt" >&2

run_set() { # name format input strategies [label flags...]
  local name=$1 format=$2 input=$3 strategies=$4
  shift 4
  echo "== $name" >&2
  "$bin" import --format "$format" --input "$input" \
    --out "$out/$name/samples.jsonl" --problems-out "$out/$name/problems.jsonl"
  "$bin" label --problems "$out/$name/problems.jsonl" --samples "$out/$name/samples.jsonl" \
    --out "$out/$name/labeled.jsonl" --summary-json "$out/$name/label-summary.json" \
    --export-verifier-data "$out/$name/verifier-data.jsonl" --balance --dedup "$@"
  "$bin" rank --samples "$out/$name/labeled.jsonl" --strategy "$strategies" \
    --out "$out/$name/answers.jsonl"
  "$bin" eval --samples "$out/$name/labeled.jsonl" --out "$out/$name/report"
}

# Most Faithful-CoT candidates are Python programs whose answer came from running them: grade
# the answer the pool recorded (`source_answer`), not the program text.
run_set faithful-cot faithful-cot-pool "$data/faithful_cot_gsm8k_test_pool.derived.jsonl.gz" first,majority \
  --answer-field source_answer
run_set qwen-math qwen-math-rm "$data/qwen25math_rm_maj/math_cot_100.jsonl" first,majority,verifier,weighted,topk-vote
echo "reports: $out/solve/answers.report/report.md, $out/faithful-cot/report/report.md, $out/qwen-math/report/report.md" >&2

bash scripts/studies.sh "$out/studies"

cat >&2 <<EOF

== Summary
Held-out verifier experiment (the headline): GSM8K test, the odd-numbered problems, 12 candidates
each from the GPT-3 davinci family; the MiniLM verifier was trained on the even-numbered problems.
  verifier:                 $(head -1 "$out/experiment/headline-verifier.txt")
  "who wrote it" baseline:  $(head -1 "$out/experiment/headline-identity.txt")
  report: $out/experiment/report-verifier/report.md

Pipeline run (solve): the bundled 135M SmolLM2 on data/easy-arithmetic.jsonl. It shows every stage
working end to end on a model small enough for 2 cores; such a model solves only a few easy
problems, so its accuracy says nothing about verification.
$(grep -E '^(verifier|weighted|majority|first):|^coverage@' "$out/solve/summary.txt" | sed 's/^/  /')

Real sample sets and studies: $out/faithful-cot/report, $out/qwen-math/report, $out/studies
EOF
