#!/usr/bin/env python3
"""Parity of one verifier across its three runtimes on the same real pairs: PyTorch (the training
checkpoint), Python ONNX Runtime (the baseline scorer) and `bestofn score`. Prints the maximum
absolute differences of the probabilities.

usage: .venv/bin/python benches/parity.py --checkpoint CKPT --verifier DIR --problems P --samples S [--limit N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "verifier"))
from bestofn_verifier import score_baseline  # noqa: E402
from bestofn_verifier.config import VerifierConfig, configured_tokenizer, encode, sigmoid  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--verifier", required=True)
    parser.add_argument("--problems", required=True)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForSequenceClassification

    work = Path(tempfile.mkdtemp(prefix="bestofn-parity-"))
    with open(args.samples) as f:
        samples = [json.loads(line) for _, line in zip(range(args.limit), f)]
    (work / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    subprocess.run([str(REPO / "target/release/bestofn"), "score", "--verifier", args.verifier,
                    "--problems", args.problems, "--samples", str(work / "samples.jsonl"),
                    "--out", str(work / "rust.jsonl")], check=True, capture_output=True)
    score_baseline.main(["--verifier", args.verifier, "--problems", args.problems,
                         "--samples", str(work / "samples.jsonl"), "--out", str(work / "python.jsonl")])
    rust = np.array([json.loads(l)["score"] for l in open(work / "rust.jsonl")])
    python = np.array([json.loads(l)["score"] for l in open(work / "python.jsonl")])

    config = VerifierConfig.load(args.verifier)
    tokenizer = configured_tokenizer(Path(args.verifier) / "tokenizer.json", config)
    model = AutoModelForSequenceClassification.from_pretrained(
        Path(args.checkpoint) / "model", attn_implementation="eager").eval()
    questions = {str(p["id"]): p["question"] for p in map(json.loads, open(args.problems))}
    pairs = [(questions[str(s["problem_id"])], s["text"]) for s in samples]
    torch_scores = []
    with torch.inference_mode():
        for start in range(0, len(pairs), 16):
            inputs = encode(tokenizer, pairs[start:start + 16], config)
            logits = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.reshape(-1).numpy()
            torch_scores.extend(sigmoid(logits))
    torch_scores = np.array(torch_scores)
    print(f"{len(samples)} real pairs; max |difference| of P(correct):")
    print(f"  bestofn score vs Python onnxruntime: {np.abs(rust - python).max():.2e}")
    print(f"  bestofn score vs PyTorch:            {np.abs(rust - torch_scores).max():.2e}")
    print(f"  Python onnxruntime vs PyTorch:       {np.abs(python - torch_scores).max():.2e}")


if __name__ == "__main__":
    main()
