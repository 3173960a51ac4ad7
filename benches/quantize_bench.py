"""fp32 against dynamic and static int8 copies of one verifier, in one run: `bestofn score`
throughput (samples/s, best of --repeats) and the held-out AUROC `bestofn eval` reports, on the
same labeled samples.

usage: .venv/bin/python benches/quantize_bench.py --experiment out/study/pointwise
           [--problems 200] [--repeats 2]
The experiment directory is one of scripts/verifier_experiment.sh: its verifier/, problems.jsonl,
heldout-labeled.jsonl and train-examples.jsonl (the static copy calibrates on the training export).
"""
import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BESTOFN = ROOT / "target/release/bestofn"
PYTHON = ROOT / ".venv/bin/python"


def run(*args, cwd=ROOT):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, cwd=cwd)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--problems", type=int, default=200, help="held-out problems scored")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    experiment = Path(args.experiment).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        samples = scratch / "heldout.jsonl"
        run(PYTHON, "-m", "bestofn_verifier", "experiment", "first-problems", "--samples",
            experiment / "heldout-labeled.jsonl", "--problems", args.problems, "--out", samples, cwd=ROOT / "verifier")
        count = sum(1 for _ in open(samples))
        verifiers = {"fp32": experiment / "verifier"}
        for mode in ("dynamic", "static"):
            verifiers[f"int8 {mode}"] = scratch / f"verifier-{mode}"
            run(PYTHON, "-m", "bestofn_verifier", "quantize", "--verifier", verifiers["fp32"], "--out",
                verifiers[f"int8 {mode}"], "--mode", mode, "--calibration-data",
                experiment / "train-examples.jsonl", cwd=ROOT / "verifier")
        print(f"{count} held-out samples of {args.problems} problems, best of {args.repeats}")
        print("| verifier | model.onnx MB | samples/s | vs fp32 | AUROC |")
        print("|---|---|---|---|---|")
        baseline = None
        for name, verifier in verifiers.items():
            scored = scratch / f"{name.replace(' ', '-')}.jsonl"
            times = []
            for _ in range(args.repeats):
                scored.unlink(missing_ok=True)
                start = time.perf_counter()
                run(BESTOFN, "score", "--verifier", verifier, "--problems", experiment / "problems.jsonl",
                    "--samples", samples, "--out", scored)
                times.append(time.perf_counter() - start)
            rate = count / min(times)
            baseline = baseline or rate
            report = run(BESTOFN, "eval", "--samples", scored, "--out", scratch / f"report-{scored.stem}").stderr
            found = re.search(r"AUROC ([0-9.]+)", report)
            if not found:
                sys.exit(f"no AUROC in bestofn eval's report:\n{report}")
            size = (verifier / "model.onnx").stat().st_size / 1e6
            print(f"| {name} | {size:.1f} | {rate:.1f} | {rate / baseline:.2f}× | {found.group(1)} |", flush=True)


if __name__ == "__main__":
    main()
