"""A straightforward Python scorer, as a researcher would write it: onnxruntime + tokenizers,
fixed batch size, input order. It is the baseline of the scoring benchmark and the reference
for parity checks of `bestofn score`.

usage: python -m bestofn_verifier score --verifier DIR --problems P --samples S --out O
"""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort

from .config import VerifierConfig, configured_tokenizer, encode, sigmoid


def load_session(directory, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(f"{directory}/model.onnx", options, providers=["CPUExecutionProvider"])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verifier", required=True)
    parser.add_argument("--problems", required=True)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="0: onnxruntime's default")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    config = VerifierConfig.load(args.verifier)
    tokenizer = configured_tokenizer(f"{args.verifier}/tokenizer.json", config)
    session = load_session(args.verifier, args.threads)
    with open(args.problems) as f:
        questions = {str(p["id"]): p["question"] for p in map(json.loads, f) if p}
    with open(args.samples) as f:
        samples = [json.loads(line) for line in f if line.strip()]

    scores = []
    tokens = padded = 0
    for start in range(0, len(samples), args.batch_size):
        batch = samples[start:start + args.batch_size]
        inputs = encode(tokenizer, [(questions[str(s["problem_id"])], s["text"]) for s in batch], config)
        tokens += int(inputs["attention_mask"].sum())
        padded += inputs["attention_mask"].size
        outputs = session.run([config.output["name"]], inputs)[0].reshape(-1).astype(np.float64)
        if config.output["type"] == "probability":
            outputs = np.log(outputs / (1 - outputs))
        if config.calibration:
            outputs = config.calibration["scale"] * outputs + config.calibration["shift"]
        scores.extend(sigmoid(outputs))

    with open(args.out, "w") as f:
        for sample, score in zip(samples, scores):
            sample["score"] = float(np.float32(score))
            f.write(json.dumps(sample) + "\n")
    elapsed = time.perf_counter() - started
    print(f"scored {len(samples)} samples in {elapsed:.2f} s: {tokens / elapsed:.0f} tokens/s, "
          f"padding {100 * (1 - tokens / max(padded, 1)):.1f}%")


if __name__ == "__main__":
    main()
