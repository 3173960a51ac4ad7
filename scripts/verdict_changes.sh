#!/usr/bin/env bash
# Lists every verdict that changes between two builds of bestofn on the real sample sets (the
# Faithful-CoT pool, graded from its texts and from its own extracted answers; Qwen2.5-Math; the
# four GSM8K paper runs): what a grading change must show before it lands.
#
# usage: scripts/verdict_changes.sh OLD_BINARY NEW_BINARY [WORK_DIR]
#   e.g. git worktree add /tmp/base main && (cd /tmp/base && cargo build --release)
#        scripts/verdict_changes.sh /tmp/base/target/release/bestofn target/release/bestofn
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") work=$(realpath -m "${3:-$(mktemp -d)}")
data="$(cd "$(dirname "$0")/.." && pwd)/../shared/data"

label_all() {
  local bin=$1 out=$2
  mkdir -p "$out"
  one() {
    local name=$1 format=$2 input=$3; shift 3
    "$bin" import --format "$format" --input "$input" --out "$out/$name.samples.jsonl" \
      --problems-out "$out/$name.problems.jsonl" 2>/dev/null
    "$bin" label --problems "$out/$name.problems.jsonl" --samples "$out/$name.samples.jsonl" \
      --out "$out/$name.labeled.jsonl" "$@" 2>/dev/null
  }
  one faithful faithful-cot-pool "$data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz"
  one faithful-answer-field faithful-cot-pool "$data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz" \
    --answer-field source_answer
  one qwen qwen-math-rm "$data/samples/qwen25math_rm_maj/math_cot_100.jsonl"
  for run in 6b_finetuning 6b_verification 175b_finetuning 175b_verification; do
    one "paper-$run" "gsm8k-example-solutions:$run" "$data/gsm8k/example_model_solutions.jsonl"
  done
}

label_all "$old" "$work/old"
label_all "$new" "$work/new"
cd "$(dirname "$0")/../verifier"
../.venv/bin/python -m bestofn_verifier experiment verdict-changes --old "$work/old" --new "$work/new"
