"""Selection without a trained verifier, measured: majority, each confidence vote, self-certainty
Borda, optionally an LLM judge, and the default trained verifier, on the same samples.

Input: problems and samples generated with `bestofn generate --token-stats` (the embedded engine
records self-certainty too). Each sample file is labeled once, scored once per method, and
evaluated; the table gives accuracy at N (with 95% bootstrap intervals over problems) and the
generated tokens per problem. `--window` is DeepConf's group size: 2,048 in the paper, for
traces of thousands of tokens; a short-answer set needs a window below its trace length, or every
group is the whole trace.

usage: python3 benches/confidence_selection.py --problems P --samples S [--window 32]
           [--verifier out/experiment/verifier] [--judge-url URL --judge-model NAME] [--out DIR]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "bestofn"

# (name, score flags, [(row label, method in metrics.json)])
METHODS = [
    ("lowest-group", ["--method", "lowest-group"], [
        ("lowest-group: most confident trace", "verifier"),
        ("lowest-group: weighted vote (all traces)", "weighted"),
        ("lowest-group: confidence-vote η=90%", "confidence-vote@90"),
        ("lowest-group: confidence-vote η=10%", "confidence-vote@10"),
    ]),
    ("bottom-10", ["--method", "bottom-10"], [
        ("bottom-10: confidence-vote η=90%", "confidence-vote@90"),
        ("bottom-10: confidence-vote η=10%", "confidence-vote@10"),
    ]),
    ("tail", ["--method", "tail"], [("tail: confidence-vote η=10%", "confidence-vote@10")]),
    ("mean", ["--method", "mean"], [("mean confidence: confidence-vote η=10%", "confidence-vote@10")]),
    ("self-certainty", ["--method", "self-certainty"], [
        ("self-certainty: most certain trace", "verifier"),
        ("self-certainty: Borda p=1", "borda@1"),
        ("self-certainty: Borda p=0.5", "borda@0.5"),
    ]),
    ("mean-logprob", ["--method", "mean-logprob"], [("mean log-probability: best trace", "verifier")]),
]


def bestofn(*args) -> str:
    result = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bestofn {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stderr


def at_n(metrics, method):
    for curve in metrics["curves"]:
        if curve["method"] == method:
            return curve["points"][-1]
    raise KeyError(method)


def evaluate(samples, out, extra=()):
    bestofn("eval", "--samples", samples, "--out", out, *extra)
    return json.loads((Path(out) / "metrics.json").read_text())


def row(label, estimate, tokens):
    interval = f"[{100 * estimate['lower']:.1f}, {100 * estimate['upper']:.1f}]"
    return f"| {label} | {100 * estimate['mean']:.1f} {interval} | {tokens:.0f} |"


def confidence_rows(args, work, labeled, tokens):
    rows = []
    for name, flags, wanted in METHODS:
        scored = work / f"{name}.jsonl"
        bestofn("score", "--backend", "confidence", *flags, "--window", args.window,
                "--problems", args.problems, "--samples", labeled, "--out", scored)
        by_setting = {}
        for _, method in wanted:
            base, _, parameter = method.partition("@")
            extra = []
            if base == "confidence-vote":
                extra = ["--keep-top", parameter]
            elif base == "borda":
                extra = ["--borda-power", parameter]
            key = tuple(extra)
            if key not in by_setting:
                by_setting[key] = evaluate(scored, work / f"{name}-{'-'.join(extra) or 'eval'}", extra)
            rows.append(row(next(l for l, m in wanted if m == method),
                            at_n(by_setting[key], base), tokens))
    return rows


def scored_rows(args, work, labeled, tokens):
    rows = []
    if args.verifier and Path(args.verifier, "verifier.json").is_file():
        scored = work / "verifier.jsonl"
        bestofn("score", "--verifier", args.verifier, "--problems", args.problems,
                "--samples", labeled, "--out", scored)
        metrics = evaluate(scored, work / "verifier-eval")
        rows.append(row("trained verifier (default MiniLM): best trace", at_n(metrics, "verifier"), tokens))
        rows.append(row("trained verifier: weighted vote", at_n(metrics, "weighted"), tokens))
    if args.judge_url:
        scored = work / "judge.jsonl"
        bestofn("score", "--backend", "judge", "--base-url", args.judge_url, "--model",
                args.judge_model, "--problems", args.problems, "--samples", labeled, "--out", scored)
        metrics = evaluate(scored, work / "judge-eval")
        rows.append(row(f"LLM judge ({args.judge_model}): best trace", at_n(metrics, "verifier"), tokens))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", required=True)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--window", default="32")
    parser.add_argument("--verifier", default=str(ROOT / "out" / "experiment" / "verifier"))
    parser.add_argument("--judge-url")
    parser.add_argument("--judge-model", default="smollm2")
    parser.add_argument("--out", help="keep the stage files here (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.out or temporary)
        work.mkdir(parents=True, exist_ok=True)
        labeled = work / "labeled.jsonl"
        bestofn("label", "--problems", args.problems, "--samples", args.samples, "--out", labeled)
        plain = evaluate(labeled, work / "majority-eval")
        tokens = plain["compute"]["generated_tokens_per_problem"][-1]
        n = plain["ks"][-1]
        print(f"{plain['problems']} problems, N = {n}, {plain['compute']['generated_tokens_per_sample']:.1f} "
              f"generated tokens per sample; accuracy at N in %, 95% bootstrap intervals\n")
        print("| method | accuracy@N | generated tokens per problem |")
        print("|---|---|---|")
        pass_at_1 = next(c for c in plain["curves"] if c["method"] == "pass@k")["points"][0]
        print(row("one sample (pass@1)", pass_at_1, tokens / n))
        print(row(f"coverage (pass@{n})", at_n(plain, "pass@k"), tokens))
        print(row("majority vote", at_n(plain, "majority"), tokens))
        for line in confidence_rows(args, work, labeled, tokens) + scored_rows(args, work, labeled, tokens):
            print(line)


if __name__ == "__main__":
    main()
