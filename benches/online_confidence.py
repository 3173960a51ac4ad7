"""DeepConf online against offline DeepConf and the majority vote, at the tokens each spent.

Input: one problems file, the samples of a full offline run (`bestofn generate --token-stats`,
N per problem) and the samples of one or more online runs on the same problems with the same
seed (`generate --online-confidence ...`), named NAME=FILE. Every file is labeled once and scored
by its lowest group confidence (`--window`, the online runs' `--confidence-window`); the table
gives, per method, accuracy (95% bootstrap interval over problems) and the generated tokens spent
per problem, stopped traces included.

Rows: majority and offline DeepConf (confidence-vote@η over all N traces) on the offline file;
for each online run, its own answer (online-vote@η/warm-up, the online rule's vote) and the
majority of its finished traces.

usage: python3 benches/online_confidence.py --problems P --offline S --window 32
           --online 10=S10 --online 90=S90 --warmup 8
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "bestofn"


def bestofn(*args) -> str:
    result = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bestofn {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stdout + result.stderr


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def spent_tokens(samples_path):
    """Generated tokens per problem, every trace (stopped ones too), and the traces."""
    tokens, traces, stopped = defaultdict(int), defaultdict(int), 0
    for sample in read_jsonl(samples_path):
        tokens[sample["problem_id"]] += sample["tokens"]["completion"]
        traces[sample["problem_id"]] += 1
        stopped += "early_stop" in sample
    return tokens, traces, stopped


def accuracy(answers, strategy, problems, seed=0, resamples=2000):
    correct = {a["problem_id"]: bool(a.get("correct")) for a in answers if a["strategy"] == strategy}
    values = [correct.get(p, False) for p in problems]
    rng = random.Random(seed)
    means = sorted(
        sum(rng.choice(values) for _ in values) / len(values) for _ in range(resamples)
    )
    return (
        sum(values) / len(values),
        means[int(0.025 * resamples)],
        means[int(0.975 * resamples) - 1],
    )


def ranked(args, work, name, samples, strategies):
    labeled, scored, answers = (work / f"{name}.{kind}.jsonl" for kind in ("labeled", "scored", "answers"))
    bestofn("label", "--problems", args.problems, "--samples", samples, "--out", labeled)
    bestofn("score", "--backend", "confidence", "--method", "lowest-group", "--window", args.window,
            "--problems", args.problems, "--samples", labeled, "--out", scored)
    bestofn("rank", "--samples", scored, "--strategy", ",".join(strategies), "--out", answers)
    return read_jsonl(answers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", required=True)
    parser.add_argument("--offline", required=True)
    parser.add_argument("--online", action="append", default=[], metavar="ETA=FILE",
                        help="an online run and the --keep-top it was made with")
    parser.add_argument("--window", default="32")
    parser.add_argument("--warmup", type=int, default=16)
    args = parser.parse_args()
    problems = [p["id"] for p in read_jsonl(args.problems)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tokens, traces, _ = spent_tokens(args.offline)
        per_problem = sum(tokens.values()) / len(problems)
        n = max(traces.values())
        etas = [spec.partition("=")[0] for spec in args.online]
        replayed = [f"online-vote@{eta}/{args.warmup}" for eta in etas]
        offline = ranked(args, work, "offline", args.offline,
                         ["majority", "confidence-vote@90", "confidence-vote@10", *replayed])
        for label, strategy in [(f"majority, N = {n}", "majority"),
                                ("offline DeepConf-high (confidence-vote η=90%)", "confidence-vote@90"),
                                ("offline DeepConf-low (confidence-vote η=10%)", "confidence-vote@10"),
                                *[(f"online rule's vote on all N traces ({r})", r) for r in replayed]]:
            rows.append((label, accuracy(offline, strategy, problems), per_problem, f"{n} per problem"))
        for spec in args.online:
            eta, _, path = spec.partition("=")
            name = f"η={eta}%"
            tokens, traces, stopped = spent_tokens(path)
            spent = sum(tokens.values()) / len(problems)
            online_vote = f"online-vote@{eta}/{args.warmup}"
            answers = ranked(args, work, f"online{eta}", path, [online_vote, "majority"])
            drawn = sum(traces.values()) / len(problems)
            note = f"{drawn:.1f} per problem, {stopped} stopped"
            rows.append((f"online {name} ({online_vote})", accuracy(answers, online_vote, problems),
                         spent, note))
            rows.append((f"online {name}: majority of finished traces", accuracy(answers, "majority", problems),
                         spent, note))
    baseline = rows[0][2]
    print("| method | accuracy % [95% CI] | generated tokens per problem | tokens saved vs N traces | traces |")
    print("|---|---|---|---|---|")
    for label, (mean, low, high), spent, note in rows:
        saving = f"{100 * (1 - spent / baseline):.1f}%" if spent != baseline else "—"
        print(f"| {label} | {100 * mean:.1f} [{100 * low:.1f}, {100 * high:.1f}] | {spent:.0f} | "
              f"{saving} | {note or ''} |")


if __name__ == "__main__":
    main()
