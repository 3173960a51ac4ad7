"""The confidence scorers of `bestofn score --backend confidence` against an independent
implementation of the published formulas, on the same recorded log-probabilities.

DeepConf (Fu et al. 2025): token confidence C_i = -mean of the top-k log-probabilities (with the
chosen token when it is not among them, as the reference code reads vLLM's dict); group
confidences = means over sliding windows of n tokens (one group, the mean, for a shorter trace);
lowest group, mean of the lowest 10% of groups, mean of the last n tokens. Self-certainty (Kang
et al. 2025): mean over tokens of KL(U || p). Written here from the papers, not from bestofn.
"""

import json
import math
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
BINARY = REPOSITORY / "target" / "release" / "bestofn"
PROBLEMS = REPOSITORY / "tests" / "fixtures" / "problems.jsonl"

needs_binary = pytest.mark.skipif(not BINARY.is_file(), reason="target/release/bestofn is absent")


def groups(values, n):
    if len(values) < n:
        return [sum(values) / len(values)]
    return [sum(values[i:i + n]) / n for i in range(len(values) - n + 1)]


def reference(method, tokens, n):
    c = tokens["confidence"]
    if method == "lowest-group":
        return min(groups(c, n))
    if method == "bottom-10":
        g = sorted(groups(c, n))
        count = max(1, int(len(g) * 0.1))
        return sum(g[:count]) / count
    if method == "tail":
        tail = c[-n:]
        return sum(tail) / len(tail)
    if method == "mean":
        return sum(c) / len(c)
    if method == "self-certainty":
        return sum(tokens["self_certainty"]) / len(tokens["self_certainty"])
    if method == "mean-logprob":
        return sum(tokens["logprobs"]) / len(tokens["logprobs"])
    raise ValueError(method)


def run(*args):
    done = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("confidence") / "samples.jsonl"
    done = subprocess.run([str(BINARY), "generate", "--problems", PROBLEMS, "--n", "4",
                           "--max-tokens", "48", "--token-stats", "--top-logprobs", "5",
                           "--keep-top-logprobs", "--out", out], capture_output=True, text=True)
    if done.returncode != 0 and "llama" in done.stderr:
        pytest.skip(f"no embedded engine in this build: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return out


@needs_binary
@pytest.mark.parametrize("method", ["lowest-group", "bottom-10", "tail", "mean", "self-certainty",
                                    "mean-logprob"])
@pytest.mark.parametrize("window", [1, 8, 1000])
def test_each_confidence_measure_equals_the_published_formula(samples, tmp_path, method, window):
    scored = tmp_path / "scored.jsonl"
    run("score", "--backend", "confidence", "--method", method, "--window", window,
        "--problems", PROBLEMS, "--samples", samples, "--out", scored)
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == 12
    for row in rows:
        want = reference(method, row["tokens"], window)
        assert math.isclose(row["score"], want, rel_tol=1e-6, abs_tol=1e-6), (method, window, row)
        assert row["score_kind"].startswith(f"confidence:{method}")


@needs_binary
def test_recorded_token_statistics_follow_their_definitions(samples):
    for line in samples.read_text().splitlines():
        tokens = json.loads(line)["tokens"]
        count = tokens["completion"]
        assert count >= 1
        for key in ("logprobs", "confidence", "self_certainty", "top_logprobs"):
            assert len(tokens[key]) == count, key
        for chosen, top, confidence, certainty in zip(tokens["logprobs"], tokens["top_logprobs"],
                                                      tokens["confidence"],
                                                      tokens["self_certainty"]):
            assert len(top) == 5 and top == sorted(top, reverse=True)
            assert all(value <= 0 for value in top) and chosen <= 0
            read = top + ([chosen] if chosen < top[-1] else [])
            # Each recorded value is rounded to 4 decimals.
            assert abs(confidence + sum(read) / len(read)) <= 2e-4
            # KL(U || p) >= 0, and at least the chosen token's mass is far from uniform.
            assert certainty >= 0
