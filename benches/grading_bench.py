"""Grading speed, bestofn vs Math-Verify on the same inputs in one run, and bestofn's worst case
on adversarial inputs.

  faithful  GSM8K-style responses of the Faithful-CoT pool (gsm8k style)
  qwen      Qwen2.5-Math responses to MATH problems (math style)

Both graders see the same (gold, response) pairs, one core each: bestofn through its Python
bindings called once per pair (GIL released, so the loop's Python overhead is counted too) and
Math-Verify 0.9.0 as its README uses it (`verify(parse("$gold$"), parse(response))`). Each side's
time is the best of `--rounds` passes over the pairs. The verdict agreement is printed beside the
speed.

usage: .venv/bin/python benches/grading_bench.py [--per-set 1000] [--rounds 3]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bestofn_grade as bg

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".." / "shared" / "data" / "samples"
SETS = {
    "faithful": ("faithful-cot-pool", DATA / "faithful_cot_gsm8k_test_pool.derived.jsonl.gz"),
    "qwen": ("qwen-math-rm", DATA / "qwen25math_rm_maj" / "math_cot_100.jsonl"),
}


def pairs(name, limit, workdir):
    """(gold, response, style) triples of a real set, imported by bestofn itself."""
    fmt, path = SETS[name]
    samples, problems = workdir / f"{name}.samples.jsonl", workdir / f"{name}.problems.jsonl"
    subprocess.run(
        [ROOT / "target" / "release" / "bestofn", "import", "--format", fmt, "--input", path,
         "--out", samples, "--problems-out", problems],
        check=True, capture_output=True,
    )
    by_id = {p["id"]: p for p in map(json.loads, problems.read_text().splitlines())}
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    step = max(1, len(rows) // limit)
    chosen = rows[::step][:limit]
    return [(by_id[r["problem_id"]]["answer"], r["text"], by_id[r["problem_id"]]["style"]) for r in chosen]


def time_bestofn(triples):
    start = time.perf_counter()
    verdicts = [bg.grade(gold, text, style=style) for gold, text, style in triples]
    return time.perf_counter() - start, verdicts


def time_math_verify(triples):
    from math_verify import parse, verify

    start = time.perf_counter()
    verdicts = []
    for gold, text, _ in triples:
        try:
            verdicts.append(bool(verify(parse(f"${gold}$"), parse(text))))
        except Exception:  # Math-Verify raises on some inputs; count it as wrong, as a user would
            verdicts.append(False)
    return time.perf_counter() - start, verdicts


def adversarial():
    """Inputs built to be slow: deep nesting, huge numbers, huge expressions with free symbols."""
    terms = [f"x_{{{i}}}^{{{i % 7}}}" for i in range(3000)]
    huge_expr = "+".join(terms)
    huge_expr_reordered = "+".join(reversed(terms))
    digits = "7" * 100_000
    return {
        "braces nested 200k deep": ("1", "$\\boxed{" + "{" * 200_000 + "1" + "}" * 200_000 + "}$"),
        "parentheses nested 100k deep": ("1", "$\\boxed{" + "(" * 100_000 + "1" + ")" * 100_000 + "}$"),
        "\\frac nested 20k deep": ("1", "$\\boxed{" + "\\frac{1}{" * 20_000 + "1" + "}" * 20_000 + "}$"),
        "\\sqrt nested 20k deep": ("x", "$\\boxed{" + "\\sqrt{" * 20_000 + "x" + "}" * 20_000 + "}$"),
        "power tower 10k high": ("x", "$\\boxed{" + "x^{" * 10_000 + "x" + "}" * 10_000 + "}$"),
        "10^5-digit numbers": (digits, f"The answer is $\\boxed{{{digits}8}}$"),
        "10^5-digit number, gsm8k": (digits, f"#### {digits}"),
        "3,000-term expression, 3,000 symbols": (huge_expr, f"$\\boxed{{{huge_expr_reordered}}}$"),
        "1,000-element set of expressions": (
            "\\{" + ",".join(f"{i}x+{i}" for i in range(1000)) + "\\}",
            "$\\boxed{\\{" + ",".join(f"{i}+{i}x" for i in reversed(range(1000))) + "\\}}$",
        ),
        "100x100 matrix": (
            "\\begin{pmatrix}" + "\\\\".join("&".join(f"{r*c}" for c in range(100)) for r in range(100)) + "\\end{pmatrix}",
            "$\\boxed{\\begin{pmatrix}" + "\\\\".join("&".join(f"{c}\\cdot{r}" for c in range(100)) for r in range(100)) + "\\end{pmatrix}}$",
        ),
        "20,000 boxes": ("1", "\\boxed{1}, " * 20_000),
        "1 MB of prose and dollars": ("5", "the $ answer is $ maybe 5. " * 40_000),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-set", type=int, default=1000, help="pairs graded per set")
    parser.add_argument("--rounds", type=int, default=3, help="passes per grader; the best counts")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit("grading_bench: ../shared/data/samples is missing")
    with tempfile.TemporaryDirectory() as tmp:
        for name in SETS:
            triples = pairs(name, args.per_set, Path(tmp))
            ours, our_verdicts = min(time_bestofn(triples) for _ in range(args.rounds))
            theirs, their_verdicts = min(time_math_verify(triples) for _ in range(args.rounds))
            agree = sum(a == b for a, b in zip(our_verdicts, their_verdicts))
            n = len(triples)
            print(
                f"{name:9} {n} pairs: bestofn {n / ours:,.0f}/s, Math-Verify {n / theirs:,.0f}/s, "
                f"ratio {theirs / ours:,.0f}x; verdicts agree on {agree}/{n}; "
                f"correct: bestofn {sum(our_verdicts)}, Math-Verify {sum(their_verdicts)}"
            )
    worst = 0.0
    for label, (gold, response) in adversarial().items():
        start = time.perf_counter()
        verdict = bg.grade(gold, response)
        elapsed = time.perf_counter() - start
        worst = max(worst, elapsed)
        print(f"adversarial  {label:40} {elapsed * 1000:9.1f} ms  ({len(response):,} bytes, verdict {verdict})")
    print(f"adversarial  worst case per sample: {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()
