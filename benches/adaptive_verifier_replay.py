"""Adaptive N stopped by the verifier, by replay: samples spent vs the verifier's accuracy.

The held-out half of the verifier experiment (scripts/verifier_experiment.sh: 12 candidates per
GSM8K test problem from the GPT-3 davinci family, a verifier trained on the other half) is
replayed through the real pipeline, `bestofn solve --backend replay`, once with fixed N (the first
N samples of every problem) and once per threshold P with `--adaptive --adaptive-round 1
--adaptive-score P` (each sample scored as it comes, a problem stopped at its first sample scored
at least P). A problem's candidates come in their sources' order, while sampling draws
independently: each problem's samples are replayed in a random order, the same for every
setting, and every figure is the mean over --orders orders. The table gives samples drawn per
problem and the accuracy of the `verifier` and `majority` answers.

usage: python3 benches/adaptive_verifier_replay.py [--experiment out/experiment] [--problems 150]
       [--orders 2] [--fixed 1,4,12] [--thresholds 0.4,0.45,0.48,0.5]   (run scripts/verifier_experiment.sh first)
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

from adaptive_replay import BIN, ROOT, bestofn, reorder


def subset(labeled: Path, problems: Path, limit: int, work: Path) -> tuple[Path, Path]:
    """The first `limit` held-out problems and their samples."""
    samples = [json.loads(line) for line in labeled.open()]
    kept = list(dict.fromkeys(s["problem_id"] for s in samples))[:limit]
    keep = set(kept)
    pool, chosen = work / "pool.jsonl", work / "problems.jsonl"
    with pool.open("w") as f:
        for s in samples:
            if s["problem_id"] in keep:
                f.write(json.dumps({"problem_id": s["problem_id"], "sample_idx": s["sample_idx"],
                                    "text": s["text"]}) + "\n")
    with chosen.open("w") as f:
        for line in problems.open():
            if json.loads(line)["id"] in keep:
                f.write(line)
    return pool, chosen


def solve(work: Path, problems: Path, pool: Path, verifier: Path, n: int, extra: list[str]) -> dict:
    """Samples per problem and accuracy per strategy of one solve run."""
    run = work / f"run-{n}-{'-'.join(extra) or 'fixed'}"
    run.mkdir()
    bestofn("solve", "--backend", "replay", "--replay-from", str(pool), "--problems", str(problems),
            "--verifier", str(verifier), "--n", str(n), "--strategy", "verifier,majority",
            "--out", str(run / "answers.jsonl"), *extra)
    answers = [json.loads(line) for line in (run / "answers.jsonl").open()]
    drawn = sum(1 for _ in (run / "answers.samples.jsonl").open())
    result = {"samples": drawn / len({a["problem_id"] for a in answers})}
    for strategy in ("verifier", "majority"):
        rows = [a for a in answers if a["strategy"] == strategy]
        result[strategy] = 100.0 * sum(1 for a in rows if a.get("correct")) / len(rows)
    return result


def mean(runs: list[dict]) -> dict:
    return {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default=str(ROOT / "out" / "experiment"))
    parser.add_argument("--problems", type=int, default=150, help="held-out problems replayed")
    parser.add_argument("--orders", type=int, default=2, help="random replay orders averaged")
    parser.add_argument("--fixed", default="1,4,12", help="fixed N runs; the largest is every candidate")
    parser.add_argument("--thresholds", default="0.4,0.45,0.48,0.5",
                        help="--adaptive-score values (the default verifier's calibrated scores stay under ~0.6)")
    parser.add_argument("--out", default=str(ROOT / "out" / "adaptive"), help="where the table goes")
    args = parser.parse_args()
    experiment = Path(args.experiment)
    verifier = experiment / "verifier"
    for needed in (BIN, verifier / "verifier.json", experiment / "heldout-labeled.jsonl"):
        if not needed.exists():
            sys.exit(f"{needed} is missing: run scripts/verifier_experiment.sh first")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pool, problems = subset(experiment / "heldout-labeled.jsonl", experiment / "problems.jsonl",
                                args.problems, work)
        fixed = [int(n) for n in args.fixed.split(",")]
        settings = [(f"fixed N = {n}", n, []) for n in fixed]
        settings += [(f"adaptive, P {p}", max(fixed), ["--adaptive", "--adaptive-round", "1", "--adaptive-score", p])
                     for p in args.thresholds.split(",")]
        results = {name: [] for name, _, _ in settings}
        for order in range(args.orders):
            ordered = work / f"order{order}"
            ordered.mkdir()
            replayed = reorder(pool, order, ordered / "pool.jsonl")
            for name, n, extra in settings:
                results[name].append(solve(ordered, problems, replayed, verifier, n, extra))
                print(f"order {order}: {name}: {results[name][-1]}", file=sys.stderr, flush=True)
        full = mean(results[f"fixed N = {max(fixed)}"])
        lines = [f"{args.problems} held-out problems of {experiment}, {args.orders} orders",
                 "", "| run | samples / problem | verifier accuracy | vs all | majority accuracy | fewer samples |",
                 "|---|---|---|---|---|---|"]
        for name, _, _ in settings:
            m = mean(results[name])
            lines.append(f"| {name} | {m['samples']:.2f} | {m['verifier']:.2f}% | {m['verifier'] - full['verifier']:+.2f} "
                         f"| {m['majority']:.2f}% | {full['samples'] / m['samples']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "adaptive-verifier.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
