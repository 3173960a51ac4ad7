"""Replicas: `generate --backend openai` against one llama.cpp server and against two (each
server one thread, so two use both cores), the same problems, settings and seeds, in rotating
order; aggregate generated tokens per second and where each problem's samples went.

usage: .venv-llama/bin/python benches/replicas_bench.py [--limit 8] [--n 4] [--max-tokens 96] [--rounds 3]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_bench import ROOT, SUMMARY, bundled_gguf, start_server  # noqa: E402


def run(binary: Path, args: list[str], out: Path) -> tuple[float, dict[str, set]]:
    out.unlink(missing_ok=True)
    result = subprocess.run([str(binary), "generate", *args, "--out", str(out)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bestofn generate failed:\n{result.stderr}")
    match = SUMMARY.search(result.stderr)
    if not match:
        sys.exit(f"no summary in:\n{result.stderr}")
    replicas: dict[str, set] = {}
    tokens = 0
    for line in out.open():
        sample = json.loads(line)
        tokens += sample["num_tokens"] or 0
        server = sample["generator"].get("server") or {}
        replicas.setdefault(sample["problem_id"], set()).add(server.get("replica", "the only one"))
    return tokens / float(match.group(3)), replicas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default=str(ROOT / "data/easy-arithmetic.jsonl"))
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binary = ROOT / "target/release/bestofn"
    gguf = bundled_gguf()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        problems = tmp / "problems.jsonl"
        problems.write_text("\n".join(Path(args.problems).read_text().splitlines()[: args.limit]) + "\n")
        with (tmp / "a.log").open("w") as log_a, (tmp / "b.log").open("w") as log_b:
            first, url_a = start_server(gguf, 1, log_a)
            second, url_b = start_server(gguf, 1, log_b)
            try:
                common = ["--backend", "openai", "--model", gguf.name, "--problems", str(problems),
                          "--n", str(args.n), "--n-per-request", "1", "--max-tokens", str(args.max_tokens),
                          "--temperature", "0.8", "--top-k", "40", "--template", "chat", "--seed", "1"]
                variants = {
                    "one": common + ["--base-url", url_a, "--max-in-flight", "1"],
                    "two": common + ["--base-url", url_a, "--base-url", url_b, "--max-in-flight", "2"],
                }
                print(f"{args.limit} problems x {args.n} samples, max {args.max_tokens} tokens, "
                      "llama-cpp-python servers with 1 thread each, SmolLM2-135M-Instruct Q4_1")
                print("| round | one replica tok/s | two replicas tok/s | two / one | problems on one replica |")
                print("|---|---|---|---|---|")
                for round_ in range(1, args.rounds + 1):
                    speed, pinned = {}, ""
                    for name in (["one", "two"] if round_ % 2 else ["two", "one"]):
                        speed[name], replicas = run(binary, variants[name], tmp / f"{name}.jsonl")
                        if name == "two":
                            pinned = f"{sum(len(r) == 1 for r in replicas.values())}/{len(replicas)}"
                    print(f"| {round_} | {speed['one']:.1f} | {speed['two']:.1f} | "
                          f"{speed['two'] / speed['one']:.2f}x | {pinned} |", flush=True)
            finally:
                for server in (first, second):
                    server.terminate()
                    server.wait()


if __name__ == "__main__":
    main()
