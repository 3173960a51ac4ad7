"""Served vs in-process scoring on one machine: the same verifier (a checkpoint `train` writes,
exported to ONNX) scores the same real pairs in process through ONNX Runtime and through a
real vLLM server (`--runner pooling`, fp32, CPU), in rotating order. Prints samples/s, requests
per problem, the client's CPU time (what bestofn itself spends beside the server) and the
largest score difference.

usage: .venv/bin/python benches/score_served_bench.py [--problems 300] [--rounds 2] [--request-size 32]
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target/release/bestofn"
PYTHON = ROOT / ".venv/bin/python"
DATA = ROOT.parent / "shared/data/gsm8k/example_model_solutions.jsonl"
RUNS = ["6b_finetuning", "175b_finetuning", "6b_verification", "175b_verification"]
SUMMARY = re.compile(r"scored (\d+) samples in (\d+) batches")


def write_data(work: Path, problems: int) -> tuple[Path, Path, Path]:
    rows = [json.loads(line) for line in DATA.open()]
    examples, problem_rows, samples = [], [], []
    for i, row in enumerate(rows[:200]):
        for idx, run in enumerate(RUNS):
            examples.append({"problem_id": f"t{i}", "sample_idx": idx, "question": row["question"],
                             "solution": row[run]["solution"], "label": int(row[run]["is_correct"])})
    for i, row in enumerate(rows[200:200 + problems]):
        problem_rows.append({"id": f"p{i}", "question": row["question"]})
        for idx, run in enumerate(RUNS):
            samples.append({"problem_id": f"p{i}", "sample_idx": idx, "text": row[run]["solution"]})
    paths = work / "examples.jsonl", work / "problems.jsonl", work / "samples.jsonl"
    for path, records in zip(paths, (examples, problem_rows, samples)):
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return paths


def verifier_tool(*args: str) -> None:
    subprocess.run([str(PYTHON), "-m", "bestofn_verifier", *args], cwd=ROOT / "verifier", check=True,
                   stdout=subprocess.DEVNULL)


def start_vllm(model: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1")
    server = subprocess.Popen(
        [str(PYTHON), "-m", "vllm.entrypoints.launchers.api_server.entry", "--model", str(model),
         "--served-model-name", "verifier", "--host", "127.0.0.1", "--port", str(port),
         "--dtype", "float32", "--enforce-eager", "--runner", "pooling"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 400
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"vLLM exited; see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    sys.exit("vLLM did not start in 400 s")


def run_score(args: list[str], out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([str(BINARY), "score", *args, "--out", str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"bestofn score failed:\n{result.stderr}")
    samples, batches = map(int, SUMMARY.search(result.stderr).groups())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"samples": samples, "batches": batches, "wall": wall, "cpu": cpu}


def scores(path: Path) -> dict:
    return {(s["problem_id"], s["sample_idx"]): s["score"] for s in map(json.loads, path.open())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--request-size", type=int, default=32)
    parser.add_argument("--port", type=int, default=18431)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        examples, problems, samples = write_data(work, args.problems)
        verifier_tool("train", "--data", str(examples), "--out", str(work / "checkpoint"), "--max-steps", "20",
                      "--batch-size", "16", "--max-length", "512", "--threads", "2")
        verifier_tool("export", "--checkpoint", str(work / "checkpoint"), "--out", str(work / "verifier"))
        server = start_vllm(work / "checkpoint/model", args.port, work / "vllm.log")
        try:
            common = ["--problems", str(problems), "--samples", str(samples)]
            ways = {
                "in-process ONNX (2 threads)": [*common, "--verifier", str(work / "verifier"), "--threads", "2"],
                f"vLLM /score (request size {args.request_size})": [
                    *common, "--backend", "vllm", "--base-url", f"http://127.0.0.1:{args.port}",
                    "--model", "verifier", "--request-size", str(args.request_size)],
            }
            results = {name: [] for name in ways}
            for round_ in range(args.rounds):
                names = list(ways)[round_ % 2:] + list(ways)[:round_ % 2]
                for name in names:
                    results[name].append(run_score(ways[name], work / f"{len(results[name])}-{hash(name)}.jsonl"))
            print(f"{args.problems} GSM8K problems x {len(RUNS)} real solutions, {args.rounds} rounds in rotating order")
            print("| scorer | samples/s per round | batches (ONNX) or requests (vLLM) per problem | client CPU s / wall s |")
            print("|---|---|---|---|")
            for name, rounds in results.items():
                rates = ", ".join(f"{r['samples'] / r['wall']:.1f}" for r in rounds)
                requests = rounds[0]["batches"] / args.problems
                cpu = ", ".join(f"{r['cpu']:.2f} / {r['wall']:.1f}" for r in rounds)
                print(f"| {name} | {rates} | {requests:.2f} | {cpu} |")
            a = scores(work / f"0-{hash(list(ways)[0])}.jsonl")
            b = scores(work / f"0-{hash(list(ways)[1])}.jsonl")
            print(f"max |Δp| in-process vs vLLM: {max(abs(a[k] - b[k]) for k in a):.2e} over {len(a)} samples")
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
