#!/usr/bin/env bash
# Times label + rank (every strategy) + eval (with bootstrap) on 1,319 problems x 100 samples
# resampled from the real Faithful-CoT candidates, pinned to one core. Prints wall and CPU
# (user + sys) seconds per stage for each of ROUNDS rounds, then the best round.
# usage: benches/label_rank_eval.sh [N] [ROUNDS]   (builds the release binary first)
set -euo pipefail
n=${1:-100}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/bestofn"
python3 "$root/benches/make_pool.py" "$data" "$n" "$work/samples.jsonl" "$work/problems.jsonl"
echo "pool: $(wc -l < "$work/samples.jsonl") samples, $(du -h "$work/samples.jsonl" | cut -f1)"
export RAYON_NUM_THREADS=1
TIMEFORMAT='%R %U %S'
timed() { # label, command... ; appends "label wall cpu" to $work/times
  local name=$1
  shift
  local t
  t=$( { time taskset -c 0 "$@" >/dev/null 2>&1; } 2>&1 )
  echo "$name $t" | awk '{ printf "%s %.3f %.3f\n", $1, $2, $3 + $4 }' >> "$work/times"
}
for round in $(seq "$rounds"); do
  : > "$work/times"
  timed label "$bin" label --problems "$work/problems.jsonl" --samples "$work/samples.jsonl" --out "$work/labeled.jsonl"
  timed rank "$bin" rank --samples "$work/labeled.jsonl" --strategy first,majority,verifier,weighted,topk-vote --out "$work/answers.jsonl"
  timed eval "$bin" eval --samples "$work/labeled.jsonl" --out "$work/report"
  awk -v r="$round" '{ w += $2; c += $3; s = s sprintf("%s %.2f s, ", $1, $2) }
    END { printf "round %d: %stotal %.2f s wall, %.2f s CPU (one core)\n", r, s, w, c }' "$work/times" | tee -a "$work/rounds"
done
sort -t, -k4 "$work/rounds" | awk -F'total ' '{ split($2, a, " "); if (best == "" || a[1] < best) { best = a[1]; line = $0 } } END { print "best " line }'
