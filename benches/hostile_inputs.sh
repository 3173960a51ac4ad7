#!/usr/bin/env bash
# Peak memory and time of the commands on hostile inputs: no newline (/dev/zero), a 1 MB gzip of
# 1 GB of blank lines, one 50 MB sample text to score, 8,000 calculator annotations in one
# problem to compose, 800,000 unknown keys on one sample line. Every run must end (an error or
# a result) with bounded memory; prints "case command exit seconds peak-MB".
# usage: benches/hostile_inputs.sh   (uses target/release/bestofn; builds it first)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/bestofn"
problems="$root/tests/fixtures/problems.jsonl"
verifier="$root/tests/fixtures/verifier-tiny"
cd "$work"
python3 - <<'PY'
import gzip, json
with gzip.open("blank.jsonl.gz", "wb", compresslevel=9) as f:
    chunk = b"\n" * (1 << 20)
    for _ in range(1024):
        f.write(chunk)
with open("big-text.jsonl", "w") as f:
    f.write(json.dumps({"problem_id": "eggs", "sample_idx": 0,
                        "text": "seven plus eight is fifteen. " * 1_800_000}) + "\n")
steps = "".join(f"Step {i}: {i}+1 = <<{i}+1={i+1}>>{i+1}.\n" for i in range(8000))
question = "Start with 0." + "".join(f" Add {i}." for i in range(3000))
with open("annotations.jsonl", "w") as f:
    f.write(json.dumps({"id": "huge", "question": question,
                        "solution": steps + "#### 8000", "answer": "8000"}) + "\n")
sample = {"problem_id": "eggs", "sample_idx": 0, "text": "#### 18", "correct": True}
sample.update({f"k{i}": i for i in range(800_000)})
with open("many-keys.jsonl", "w") as f:
    f.write(json.dumps(sample) + "\n")
PY
run() { # case, then the command's arguments
  local case=$1; shift
  local started=$SECONDS
  /usr/bin/time -f "%e %M" -o time.txt "$bin" "$@" >/dev/null 2>stderr.txt
  local code=$?
  read -r seconds kb < <(tail -1 time.txt)
  printf '%-13s %-9s exit %-3s %7ss %7.0f MB\n' "$case" "$1" "$code" "$seconds" "$((kb / 1024))"
  rm -rf out out.jsonl report cmp
}
for input in /dev/zero blank.jsonl.gz; do
  name=$([ "$input" = /dev/zero ] && echo no-newline || echo blank-gzip)
  run "$name" label --problems "$problems" --samples "$input" --out out.jsonl
  run "$name" label --problems "$input" --samples many-keys.jsonl --out out.jsonl
  run "$name" score --problems "$problems" --samples "$input" --verifier "$verifier" --out out.jsonl
  run "$name" rank --samples "$input" --out out.jsonl
  run "$name" eval --samples "$input" --out report
  run "$name" compare --run "a=$input" --out cmp
  run "$name" export --problems "$problems" --samples "$input" --sft out.jsonl
  run "$name" import --format faithful-cot-pool --input "$input" --out out.jsonl
  run "$name" compose --problems "$input" --out out/c.jsonl
  run "$name" generate --backend replay --replay-from "$input" --problems "$problems" --n 1 --out out.jsonl
done
run big-text score --problems "$problems" --samples big-text.jsonl --verifier "$verifier" --out out.jsonl
run big-text label --problems "$problems" --samples big-text.jsonl --out out.jsonl
run annotations compose --problems annotations.jsonl --out out/c.jsonl
for command in rank eval compare label; do
  case $command in
    rank) run many-keys rank --samples many-keys.jsonl --out out.jsonl ;;
    eval) run many-keys eval --samples many-keys.jsonl --out report ;;
    compare) run many-keys compare --run a=many-keys.jsonl --out cmp ;;
    label) run many-keys label --problems "$problems" --samples many-keys.jsonl --out out.jsonl ;;
  esac
done
