#!/usr/bin/env bash
# The verifier experiment, end to end and reproducible: train the default MiniLM verifier on the
# labeled Faithful-CoT candidates of the even-numbered GSM8K test problems, score the candidates of
# the odd-numbered (held-out) problems with it, and evaluate. Generator: the GPT-3 davinci family
# (code-davinci-001/002, text-davinci-002/003) with the natural-language prompt styles (COT, LtM,
# standard): 12 candidates per problem from one model family, so the verifier cannot rank by which
# family wrote a solution. A "who wrote it" baseline (score = the writing configuration's accuracy on
# the training half) shows how much of the ranking such identity alone would explain.
#
# Re-runs reuse the trained verifier while its training data is unchanged.
# usage: scripts/verifier_experiment.sh [OUT_DIR]   (default out/experiment)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-out/experiment}
bin=target/release/bestofn
py=.venv/bin/python
mkdir -p "$out"

"$bin" import --format faithful-cot-pool \
  --input ../shared/data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz \
  --out "$out/pool.jsonl" --problems-out "$out/problems.jsonl"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
family = {"code001", "code002", "text002", "text003"}
styles = {"COT", "LtM", "standard"}
with open(f"{out}/pool.jsonl") as pool, open(f"{out}/train-samples.jsonl", "w") as train, \
        open(f"{out}/heldout-samples.jsonl", "w") as heldout:
    for line in pool:
        s = json.loads(line)
        if s["generator"]["model"] in family and s["generator"]["prompt"] in styles:
            (train if int(s["problem_id"]) % 2 == 0 else heldout).write(line)
PY

# The natural-language candidates state their answers in the text: grade the text.
"$bin" label --problems "$out/problems.jsonl" --samples "$out/train-samples.jsonl" \
  --out "$out/train-labeled.jsonl" --export-verifier-data "$out/train-examples.jsonl" --dedup
"$bin" label --problems "$out/problems.jsonl" --samples "$out/heldout-samples.jsonl" \
  --out "$out/heldout-labeled.jsonl"

verifier="$out/verifier"
data_sha=$(sha256sum "$out/train-examples.jsonl" | cut -d' ' -f1)
trained_sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["training"]["data_sha256"])' \
  "$verifier/verifier.json" 2>/dev/null || true)
if [ "$data_sha" != "$trained_sha" ]; then
  (cd verifier && ../$py -m bestofn_verifier train --data "../$out/train-examples.jsonl" --out "../$out/checkpoint")
  (cd verifier && ../$py -m bestofn_verifier export --checkpoint "../$out/checkpoint" --out "../$verifier")
  (cd verifier && ../$py -m bestofn_verifier quantize --verifier "../$verifier" --out "../$verifier-int8")
else
  echo "experiment: reusing $verifier (trained on the same data)" >&2
fi

"$bin" score --verifier "$verifier" --problems "$out/problems.jsonl" \
  --samples "$out/heldout-labeled.jsonl" --out "$out/heldout-scored.jsonl"
"$bin" eval --samples "$out/heldout-scored.jsonl" --out "$out/report-verifier"

python3 - "$out" <<'PY'
import json, sys
from collections import defaultdict
out = sys.argv[1]
right, total = defaultdict(int), defaultdict(int)
for line in open(f"{out}/train-labeled.jsonl"):
    s = json.loads(line)
    total[s["generator"]["config"]] += 1
    right[s["generator"]["config"]] += s["correct"]
with open(f"{out}/heldout-labeled.jsonl") as src, open(f"{out}/heldout-identity.jsonl", "w") as dst:
    for line in src:
        s = json.loads(line)
        config = s["generator"]["config"]
        s["score"] = right[config] / total[config]
        dst.write(json.dumps(s) + "\n")
PY
"$bin" eval --samples "$out/heldout-identity.jsonl" --out "$out/report-identity-baseline"
echo "reports: $out/report-verifier/report.md, $out/report-identity-baseline/report.md" >&2
