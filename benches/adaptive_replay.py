"""Adaptive N by replay on the real sample pools: samples spent vs majority accuracy.

For each pool (Faithful-CoT: 41 samples per GSM8K test problem; Qwen2.5-Math: 8 per MATH
problem) the samples are replayed through `bestofn generate --backend replay`, once with a fixed
N (the first N samples of every problem) and once per adaptive setting (`--adaptive --adaptive-round R
--adaptive-confidence C`, at most the whole pool). A pool's index order follows its sources (Faithful-CoT's
runs come one model and prompt after another), while sampling draws from a model independently:
each problem's samples are replayed in a random order, the same for every setting, and every
figure is the mean over --orders such orders. Each output is labeled against the gold answers and
ranked by majority vote; the table gives the samples drawn per problem and the accuracy of the
majority answer, and an SVG plots accuracy against samples per problem.

usage: python3 benches/adaptive_replay.py [--orders 5] [--out DIR]   (run scripts/setup.sh first)
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "samples"
BIN = ROOT / "target" / "release" / "bestofn"
# (import format, file, samples per problem, the field answers come from: Faithful-CoT's program
# styles state no answer in their text, the pool carries what running them printed)
POOLS = {
    "faithful-cot": ("faithful-cot-pool", DATA / "faithful_cot_gsm8k_test_pool.derived.jsonl.gz", 41,
                     "source_answer"),
    "qwen2.5-math": ("qwen-math-rm", DATA / "qwen25math_rm_maj" / "math_cot_100.jsonl", 8, None),
}
ADAPTIVE = [(1, 0.9), (4, 0.9), (1, 0.95), (4, 0.95), (1, 0.99), (4, 0.99)]


def bestofn(*args: str) -> str:
    result = subprocess.run([str(BIN), *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bestofn {' '.join(args)} failed:\n{result.stderr}")
    return result.stderr


def majority_accuracy(work: Path, problems: Path, samples: Path, field: str | None) -> tuple[float, float]:
    """(samples per problem, majority accuracy in %) of a samples file."""
    labeled, answers = work / "labeled.jsonl", work / "answers.jsonl"
    for path in (labeled, answers):
        path.unlink(missing_ok=True)
    from_field = ["--answer-field", field] if field else []
    bestofn("label", "--problems", str(problems), "--samples", str(samples), "--out", str(labeled), *from_field)
    bestofn("rank", "--samples", str(labeled), "--strategy", "majority", "--out", str(answers))
    rows = [json.loads(line) for line in answers.open()]
    drawn = sum(1 for _ in samples.open())
    correct = sum(1 for row in rows if row.get("correct"))
    return drawn / len(rows), 100.0 * correct / len(rows)


def replay(work: Path, problems: Path, pool: Path, n: int, extra: list[str]) -> Path:
    out = work / "replayed.jsonl"
    out.unlink(missing_ok=True)
    bestofn("generate", "--backend", "replay", "--replay-from", str(pool), "--problems", str(problems),
            "--n", str(n), "--out", str(out), *extra)
    return out


def reorder(pool: Path, order: int, out: Path) -> Path:
    """The pool with each problem's samples renumbered in a random order (seeded by `order`)."""
    by_problem: dict[str, list[dict]] = {}
    for line in pool.open():
        record = json.loads(line)
        by_problem.setdefault(record["problem_id"], []).append(record)
    with out.open("w") as f:
        for problem, records in by_problem.items():
            indices = list(range(len(records)))
            random.Random(f"{order}:{problem}").shuffle(indices)
            for record, index in zip(records, indices):
                record["sample_idx"] = index
                f.write(json.dumps(record) + "\n")
    return out


def mean(rows: list[tuple[float, float]]) -> tuple[float, float]:
    return sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows)


def svg(curves: dict[str, dict[str, list[tuple[float, float]]]], path: Path) -> None:
    """Accuracy against samples per problem, one panel per pool: fixed N as a line, adaptive as dots."""
    width, height, pad = 420, 300, 48
    panels = []
    for offset, (pool, series) in enumerate(curves.items()):
        points = [p for s in series.values() for p in s]
        x_max = max(x for x, _ in points) * 1.05
        y_min, y_max = min(y for _, y in points) - 1, max(y for _, y in points) + 1
        sx = lambda x: pad + x / x_max * (width - 2 * pad)
        sy = lambda y: height - pad - (y - y_min) / (y_max - y_min) * (height - 2 * pad)
        g = [f'<g transform="translate({offset * width},0)">',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{pool}</text>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
             f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle" font-size="12">samples per problem</text>',
             f'<text x="14" y="{height / 2}" font-size="12" transform="rotate(-90 14 {height / 2})" text-anchor="middle">majority accuracy (%)</text>']
        for tick in range(0, int(x_max) + 1, max(1, int(x_max) // 8)):
            g.append(f'<text x="{sx(tick)}" y="{height - pad + 14}" text-anchor="middle" font-size="10">{tick}</text>')
        for i in range(5):
            y = y_min + i * (y_max - y_min) / 4
            g.append(f'<text x="{pad - 4}" y="{sy(y) + 3}" text-anchor="end" font-size="10">{y:.1f}</text>')
        fixed = series["fixed N"]
        g.append('<polyline fill="none" stroke="steelblue" stroke-width="2" points="'
                 + " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in fixed) + '"/>')
        for x, y in series["adaptive"]:
            g.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="darkorange"/>')
        g.append(f'<text x="{width - pad}" y="{pad}" text-anchor="end" font-size="11" fill="steelblue">fixed N</text>')
        g.append(f'<text x="{width - pad}" y="{pad + 14}" text-anchor="end" font-size="11" fill="darkorange">adaptive</text>')
        g.append("</g>")
        panels.append("\n".join(g))
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * len(curves)}" height="{height}" '
                    f'font-family="sans-serif">\n' + "\n".join(panels) + "\n</svg>\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5, help="random replay orders averaged")
    parser.add_argument("--out", default=str(ROOT / "out" / "adaptive"), help="where the table and plot go")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| pool | run | samples / problem | majority accuracy | vs full pool | samples saved |",
             "|---|---|---|---|---|---|"]
    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (fmt, source, size, field) in POOLS.items():
            if not source.exists():
                sys.exit(f"{source} is missing: the real pools live in ../shared/data")
            pool, problems = work / f"{name}.jsonl", work / f"{name}.problems.jsonl"
            bestofn("import", "--format", fmt, "--input", str(source), "--out", str(pool),
                    "--problems-out", str(problems))
            orders = [reorder(pool, order, work / f"{name}.order{order}.jsonl") for order in range(args.orders)]
            sizes = [n for n in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32) if n < size] + [size]
            fixed = [mean([majority_accuracy(work, problems, replay(work, problems, o, n, []), field) for o in orders])
                     for n in sizes]
            full = fixed[-1][1]
            for n, (spent, accuracy) in zip(sizes, fixed):
                lines.append(f"| {name} | fixed N = {n} | {spent:.2f} | {accuracy:.2f}% | {accuracy - full:+.2f} | |")
            adaptive = []
            for round_, confidence in ADAPTIVE:
                flags = ["--adaptive", "--adaptive-round", str(round_), "--adaptive-confidence", str(confidence)]
                flags += ["--vote-field", field] if field else []
                spent, accuracy = mean([majority_accuracy(work, problems, replay(work, problems, o, size, flags), field)
                                        for o in orders])
                adaptive.append((spent, accuracy))
                lines.append(f"| {name} | adaptive, round {round_}, confidence {confidence} | {spent:.2f} | "
                             f"{accuracy:.2f}% | {accuracy - full:+.2f} | {size / spent:.2f}x |")
            curves[name] = {"fixed N": fixed, "adaptive": adaptive}
    table = "\n".join(lines)
    print(table)
    (out / "adaptive.md").write_text(table + "\n")
    svg(curves, out / "adaptive.svg")
    print(f"wrote {out / 'adaptive.md'} and {out / 'adaptive.svg'}", file=sys.stderr)


if __name__ == "__main__":
    main()
