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
# demo.sh has run setup already.
[ -n "${BESTOFN_SETUP_DONE:-}" ] || bash scripts/setup.sh
out=${1:-out/experiment}
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
"$bin" eval --samples "$out/heldout-scored.jsonl" --out "$out/report-verifier" 2>&1 \
  | tee "$out/headline-verifier.txt" >&2

(cd verifier && ../$py -m bestofn_verifier experiment identity \
  --train-labeled "../$out/train-labeled.jsonl" --heldout-labeled "../$out/heldout-labeled.jsonl" \
  --out "../$out/heldout-identity.jsonl")
"$bin" eval --samples "$out/heldout-identity.jsonl" --out "$out/report-identity-baseline" 2>&1 \
  | tee "$out/headline-identity.txt" >&2
echo "reports: $out/report-verifier/report.md, $out/report-identity-baseline/report.md" >&2
