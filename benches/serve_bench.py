"""`bestofn serve` under load, beside a FastAPI + Math-Verify reward server on the same requests.

Requests are real: Qwen2.5-Math's 100 MATH problems, each request one problem's gold and its 8
sampled responses (a GRPO group). Both servers listen on loopback with two workers (bestofn:
`--threads 2`; uvicorn: `--workers 2`, Math-Verify as its README uses it, in `async def` so its
signal-based timeouts run on the main thread). A client of C concurrent connections (asyncio +
aiohttp, in this process) sends the same requests to each for `--seconds`; printed per server
and C: requests/s, responses graded/s, p50 and p99 latency, and bestofn's throughput ratio. With
a verifier directory (`--verifier`, default out/experiment/verifier when present) `/score` is
measured too (bestofn alone: one problem's question and 8 solutions per request).

The client shares the machine's cores with the servers: figures are for this machine as a
whole, the client's cost included. `--client wrk` sends the same requests with wrk (Debian's
`wrk`, C, one thread, a Lua script cycling through the bodies): far less client CPU per request
than Python, so more of the machine is left to the servers.

usage: .venv/bin/python benches/serve_bench.py [--seconds 10] [--concurrency 1,16,64] [--client aiohttp|wrk]
"""
import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "bestofn"
QWEN = ROOT / ".." / "shared" / "data" / "samples" / "qwen25math_rm_maj" / "math_cot_100.jsonl"

MATH_VERIFY_SERVER = textwrap.dedent(
    """
    from fastapi import FastAPI
    from math_verify import parse, verify

    app = FastAPI()

    @app.post("/grade")
    async def grade(request: dict):
        gold = parse("$" + str(request["gold"]) + "$")
        return {"correct": [bool(verify(gold, parse(r))) for r in request["responses"]]}
    """
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requests_of_qwen(group):
    """One request per problem: its gold and `group` responses (its 8, repeated as needed)."""
    problems = [json.loads(line) for line in QWEN.read_text().splitlines()]
    take = lambda responses: (responses * (group // len(responses) + 1))[:group]
    grade = [{"gold": p["gt"], "responses": take(p["response"])} for p in problems]
    score = [{"question": p["question"], "solutions": p["response"]} for p in problems]
    return grade, score


async def wait_ready(url, seconds=120):
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def load(url, bodies, concurrency, seconds):
    """Requests/s, items/s, p50 and p99 latency in ms, with `concurrency` clients for `seconds`.
    Bodies are encoded once and answers only read, so the client spends little per request."""
    encoded = [(json.dumps(b).encode(), len(b.get("responses") or b.get("solutions"))) for b in bodies]
    headers = {"Content-Type": "application/json"}
    latencies, items = [], 0
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def client(offset):
            nonlocal items
            i = offset
            while time.monotonic() < stop:
                body, count = encoded[i % len(encoded)]
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    assert response.status == 200, answer
                latencies.append(time.perf_counter() - started)
                items += count
                i += concurrency
        began = time.monotonic()
        await asyncio.gather(*(client(c) for c in range(concurrency)))
        elapsed = time.monotonic() - began
    latencies.sort()
    p = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return len(latencies) / elapsed, items / elapsed, p(0.5), p(0.99)


WRK_SCRIPT = """
local bodies = {}
init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
local next_body = 0
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[next_body])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT %d %f %f %f %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.status + errors.timeout + errors.connect + errors.read + errors.write))
end
"""


def wrk_load(url, bodies, concurrency, seconds):
    """`load`'s figures, measured by wrk."""
    per_request = len(bodies[0].get("responses") or bodies[0].get("solutions"))
    workdir = Path(tempfile.mkdtemp())
    (workdir / "load.lua").write_text(WRK_SCRIPT)
    (workdir / "bodies.jsonl").write_text("".join(json.dumps(b) + "\n" for b in bodies))
    output = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
         "-s", str(workdir / "load.lua"), url, "--", str(workdir / "bodies.jsonl")],
        check=True, capture_output=True, text=True).stdout
    requests, elapsed, p50, p99, errors = output.split("RESULT ")[1].split()
    assert int(errors) == 0, output
    rate = int(requests) / float(elapsed)
    return rate, rate * per_request, float(p50), float(p99)


async def agree(ours_port, peer_port, bodies):
    """Share of responses both servers give the same verdict."""
    same = total = 0
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            verdicts = []
            for port in (ours_port, peer_port):
                async with session.post(f"http://127.0.0.1:{port}/grade", json=body) as response:
                    verdicts.append((await response.json())["correct"])
            same += sum(a == b for a, b in zip(*verdicts))
            total += len(verdicts[0])
    return same / total


def cpu_seconds(pid):
    """User + system CPU time of a process and all its descendants (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return total


def start(command, env=None):
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--group", type=int, default=8, help="responses per /grade request")
    parser.add_argument("--verifier", default=str(ROOT / "out" / "experiment" / "verifier"))
    parser.add_argument("--client", choices=["aiohttp", "wrk"], default="aiohttp")
    args = parser.parse_args()
    if args.client == "wrk":
        measure = lambda url, bodies, c: wrk_load(url, bodies, c, args.seconds)  # noqa: E731
    else:
        measure = lambda url, bodies, c: asyncio.run(load(url, bodies, c, args.seconds))  # noqa: E731
    levels = [int(c) for c in args.concurrency.split(",")]
    grade_bodies, score_bodies = requests_of_qwen(args.group)
    verifier = Path(args.verifier) if Path(args.verifier, "verifier.json").exists() else None

    ours_port, peer_port = free_port(), free_port()
    command = [BINARY, "serve", "--port", str(ours_port), "--threads", "2", "--max-concurrent", "256"]
    if verifier:
        command += ["--verifier", verifier]
    ours = start(command)
    workdir = tempfile.mkdtemp()
    Path(workdir, "mv_server.py").write_text(MATH_VERIFY_SERVER)
    peer = start(
        [sys.executable, "-m", "uvicorn", "mv_server:app", "--port", str(peer_port), "--workers", "2",
         "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": workdir},
    )
    try:
        asyncio.run(wait_ready(f"http://127.0.0.1:{ours_port}/health"))
        asyncio.run(wait_ready(f"http://127.0.0.1:{peer_port}/docs"))
        agreement = asyncio.run(agree(ours_port, peer_port, grade_bodies))
        print(f"{len(grade_bodies)} requests of {args.group} responses (Qwen2.5-Math on MATH), "
              f"{args.seconds:.0f} s per cell, client {args.client}; verdicts agree on {agreement:.1%}")
        print(f"{'server':<22} {'C':>3} {'req/s':>9} {'graded/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'graded per server CPU-s':>24}")
        for concurrency in levels:
            row = {}
            for name, port, process in (("bestofn serve", ours_port, ours), ("FastAPI + Math-Verify", peer_port, peer)):
                before = cpu_seconds(process.pid)
                result = measure(f"http://127.0.0.1:{port}/grade", grade_bodies, concurrency)
                per_cpu = result[1] * args.seconds / max(cpu_seconds(process.pid) - before, 1e-9)
                row[name] = (*result, per_cpu)
                print(f"{name:<22} {concurrency:>3} {result[0]:>9.1f} {result[1]:>10.1f} {result[2]:>8.2f} {result[3]:>8.2f} {per_cpu:>24.0f}")
            ours_row, peer_row = row["bestofn serve"], row["FastAPI + Math-Verify"]
            print(f"{'':<22} {concurrency:>3} ratio {ours_row[0] / peer_row[0]:.1f}x throughput, "
                  f"{ours_row[4] / peer_row[4]:.1f}x per server CPU second")
        if verifier:
            print(f"/score with {verifier.name} ({verifier}), 8 solutions per request")
            for concurrency in levels:
                result = measure(f"http://127.0.0.1:{ours_port}/score", score_bodies, concurrency)
                print(f"{'bestofn serve /score':<22} {concurrency:>3} {result[0]:>9.1f} {result[1]:>10.1f} {result[2]:>8.2f} {result[3]:>8.2f}")
    finally:
        for process in (ours, peer):
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
