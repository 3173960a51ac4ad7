#!/usr/bin/env bash
# Times label + rank (every strategy) + eval (with bootstrap) on 1,319 problems x 100 samples
# resampled from the real Faithful-CoT candidates, pinned to one core.
# usage: benches/label_rank_eval.sh [N]   (from the repository root; builds the release binary)
set -euo pipefail
n=${1:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/bestofn"
python3 "$root/benches/make_pool.py" "$data" "$n" "$work/samples.jsonl" "$work/problems.jsonl"
echo "pool: $(wc -l < "$work/samples.jsonl") samples, $(du -h "$work/samples.jsonl" | cut -f1)"
export RAYON_NUM_THREADS=1
one_core() { taskset -c 0 "$@"; }
start=$(date +%s.%N)
one_core "$bin" label --problems "$work/problems.jsonl" --samples "$work/samples.jsonl" --out "$work/labeled.jsonl" 2>/dev/null
t_label=$(date +%s.%N)
one_core "$bin" rank --samples "$work/labeled.jsonl" --strategy first,majority,verifier,weighted,topk-vote --out "$work/answers.jsonl" 2>/dev/null
t_rank=$(date +%s.%N)
one_core "$bin" eval --samples "$work/labeled.jsonl" --out "$work/report" 2>/dev/null
end=$(date +%s.%N)
awk -v s="$start" -v a="$t_label" -v b="$t_rank" -v e="$end" 'BEGIN {
  printf "label %.2f s, rank (5 strategies) %.2f s, eval %.2f s, total %.2f s (one core)\n", a-s, b-a, e-b, e-s }'
