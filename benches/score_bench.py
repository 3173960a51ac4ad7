#!/usr/bin/env python3
"""Scoring speed, side by side in one run on the same samples and verifier:

1. ONNX Runtime's own throughput on ideal batches: pre-tokenized (not timed), sorted by length,
   cut under the same token budget as bestofn; only session.run is timed.
2. `bestofn score` end to end (read, tokenize, batch, run, write), as a subprocess.
3. A straightforward Python script (onnxruntime + tokenizers, batch size 32, input order).
4. With --int8 DIR: `bestofn score` on the int8 copy, and AUROC of both against the labels.

usage: .venv/bin/python benches/score_bench.py --verifier DIR [--int8 DIR] --problems P --samples S
       [--limit N] [--threads T]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "verifier"))
from bestofn_verifier.config import VerifierConfig, configured_tokenizer  # noqa: E402
from bestofn_verifier.metrics import auroc  # noqa: E402

TOKEN_BUDGET = 8192
MAX_BATCH = 128


def ideal_onnxruntime(verifier, pairs, threads):
    config = VerifierConfig.load(verifier)
    tokenizer = configured_tokenizer(Path(verifier) / "tokenizer.json", config)
    encodings = tokenizer.encode_batch(list(pairs))
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        while (end < len(order) and end - start < MAX_BATCH
               and (end - start + 1) * len(encodings[order[end]].ids) <= TOKEN_BUDGET):
            end += 1
        rows = [encodings[i] for i in order[start:end]]
        width = len(rows[-1].ids)
        arrays = {n: np.zeros((len(rows), width), dtype=np.int64) for n in config.onnx_inputs}
        for r, e in enumerate(rows):
            arrays["input_ids"][r, :len(e.ids)] = e.ids
            arrays["attention_mask"][r, :len(e.ids)] = 1
            if "token_type_ids" in arrays:
                arrays["token_type_ids"][r, :len(e.ids)] = e.type_ids
        batches.append(arrays)
        start = end
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(Path(verifier) / "model.onnx"), options, providers=["CPUExecutionProvider"])
    session.run(None, batches[0])  # warm-up, as bestofn's first batch is not excluded either
    started = time.perf_counter()
    for arrays in batches:
        session.run(None, arrays)
    elapsed = time.perf_counter() - started
    tokens = sum(len(e.ids) for e in encodings)
    padded = sum(a["input_ids"].size for a in batches)
    return elapsed, tokens, 1 - tokens / padded


def timed(command):
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{result.stderr}")
    return elapsed, result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verifier", required=True)
    parser.add_argument("--int8")
    parser.add_argument("--problems", required=True)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--limit", type=int, default=2000, help="first N samples")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bestofn-score-bench-"))
    with open(args.samples) as f:
        samples = [json.loads(line) for _, line in zip(range(args.limit), f)]
    (work / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    questions = {str(p["id"]): p["question"] for p in map(json.loads, open(args.problems))}
    pairs = [(questions[str(s["problem_id"])], s["text"]) for s in samples]
    binary = str(REPO / "target" / "release" / "bestofn")

    ideal, tokens, ideal_padding = ideal_onnxruntime(args.verifier, pairs, args.threads)
    ours, ours_line = timed([binary, "score", "--verifier", args.verifier, "--problems", args.problems,
                             "--samples", str(work / "samples.jsonl"), "--out", str(work / "rust.jsonl"),
                             "--threads", str(args.threads)])
    python, python_line = timed([sys.executable, "-c",
                                 "import sys; sys.path.insert(0, %r); from bestofn_verifier.score_baseline import main; "
                                 "main(sys.argv[1:])" % str(REPO / "verifier"),
                                 "--verifier", args.verifier, "--problems", args.problems,
                                 "--samples", str(work / "samples.jsonl"), "--out", str(work / "python.jsonl"),
                                 "--threads", str(args.threads)])

    print(f"{len(samples)} samples, {tokens} tokens, {args.threads} threads, verifier {args.verifier}")
    print(f"| scorer | seconds | tokens/s | vs ONNX Runtime ideal | vs Python script |")
    print(f"|---|---:|---:|---:|---:|")
    for name, seconds in [("ONNX Runtime, ideal pre-tokenized batches (run only)", ideal),
                          ("bestofn score, end to end", ours), ("Python onnxruntime+tokenizers script", python)]:
        print(f"| {name} | {seconds:.2f} | {tokens / seconds:.0f} | {ideal / seconds:.2f}x | {python / seconds:.2f}x |")
    print(f"padding: ideal batches {100 * ideal_padding:.1f}%; bestofn: {ours_line}; python: {python_line}")

    labels = [s.get("correct") for s in samples]
    if all(isinstance(l, bool) for l in labels):
        rust_scores = [json.loads(l)["score"] for l in open(work / "rust.jsonl")]
        print(f"AUROC fp32 {auroc(rust_scores, labels):.4f}")
        if args.int8:
            int8, int8_line = timed([binary, "score", "--verifier", args.int8, "--problems", args.problems,
                                     "--samples", str(work / "samples.jsonl"), "--out", str(work / "int8.jsonl"),
                                     "--threads", str(args.threads)])
            int8_scores = [json.loads(l)["score"] for l in open(work / "int8.jsonl")]
            print(f"int8 bestofn score: {int8:.2f} s, {tokens / int8:.0f} tokens/s, {ours / int8:.2f}x fp32; "
                  f"AUROC {auroc(int8_scores, labels):.4f} (fp32 {auroc(rust_scores, labels):.4f})")


if __name__ == "__main__":
    main()
