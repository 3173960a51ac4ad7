"""The training study's summary (scripts/training_study.sh): one row per variant from its
verifier.json and `bestofn eval` metrics, the identity baseline and majority beside them, and the
learning curve — held-out verifier@N against the number of training problems — as a table and
an SVG plot.

usage: python -m bestofn_verifier study-report OUT   (writes OUT/study.md and OUT/learning_curve.svg)
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def at_n(metrics, method):
    """(mean, lower, upper) of `method` at the largest k."""
    curve = next(c for c in metrics["curves"] if c["method"] == method)
    point = curve["points"][-1]
    return point["mean"], point["lower"], point["upper"]


def answered_accuracy(metrics, rate):
    return next(a["accuracy"] for a in metrics["abstention"] if abs(a["answer_rate"] - rate) < 1e-9)


def percent(triple):
    mean, lower, upper = triple
    return f"{100 * mean:.1f} [{100 * lower:.1f}, {100 * upper:.1f}]"


def variant_row(directory: Path):
    metrics = json.loads((directory / "report-verifier" / "metrics.json").read_text())
    training = json.loads((directory / "verifier" / "verifier.json").read_text())["training"]
    return {
        "variant": directory.name,
        "objective": training.get("objective", "pointwise"),
        "balanced": training.get("balanced_per_problem"),
        "train_problems": training.get("train_problems"),
        "train_examples": training.get("train_examples"),
        "epochs": training.get("hyperparameters", {}).get("epochs"),
        "world_size": training.get("world_size", 1),
        "global_batch_size": training.get("global_batch_size"),
        "seconds": training.get("seconds"),
        "validation_auroc": training.get("best_validation_auroc"),
        "auroc": metrics["calibration"]["auroc"],
        "ece": metrics["calibration"]["ece"],
        "verifier": at_n(metrics, "verifier"),
        "weighted": at_n(metrics, "weighted"),
        "majority": at_n(metrics, "majority"),
        "at_10": answered_accuracy(metrics, 0.1),
        "at_100": answered_accuracy(metrics, 1.0),
        "k": metrics["ks"][-1],
        "problems": metrics["problems"],
    }


def picks_correct(path: Path, strategy: str):
    """problem_id -> whether `strategy`'s answer was correct, from `bestofn rank` output."""
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {r["problem_id"]: bool(r.get("correct")) for r in rows if r["strategy"] == strategy}


def paired_difference(a, b, resamples=1000, seed=0):
    """Mean of b − a over the problems both answered, with a 95% percentile-bootstrap interval
    (problems resampled): (mean, lower, upper) as fractions, and the number of problems."""
    shared = sorted(a.keys() & b.keys())
    if not shared:
        sys.exit("no problem has picks of both runs to compare")
    differences = np.array([float(b[p]) - float(a[p]) for p in shared])
    means = differences[np.random.default_rng(seed).integers(0, len(shared), (resamples, len(shared)))].mean(axis=1)
    lower, upper = np.percentile(means, [2.5, 97.5])
    return (differences.mean(), lower, upper), len(shared)


def against_identity(directory: Path):
    """verifier@N and weighted@N each minus the identity baseline's own, paired by problem; None
    without the experiment's ranked picks."""
    ranked, identity_ranked = directory / "heldout-ranked.jsonl", directory / "heldout-identity-ranked.jsonl"
    if not (ranked.exists() and identity_ranked.exists()):
        return None
    return {method: paired_difference(picks_correct(identity_ranked, method), picks_correct(ranked, method))
            for method in ("verifier", "weighted")}


def signed_points(triple):
    mean, lower, upper = triple
    return f"{100 * mean:+.1f} [{100 * lower:+.1f}, {100 * upper:+.1f}]"


def identity(directory: Path):
    metrics = json.loads((directory / "report-identity-baseline" / "metrics.json").read_text())
    return at_n(metrics, "verifier")


def learning_curve_svg(points, identity_at_n, majority_at_n, k):
    """verifier@k (with its interval) against training problems; identity and majority as lines."""
    width, height, left, bottom, top, right = 560, 340, 60, 40, 20, 20
    xs = [p[0] for p in points]
    values = [v for p in points for v in p[1]] + [identity_at_n[0], majority_at_n[0]]
    y_low, y_high = min(values) - 0.02, max(values) + 0.02
    x_high = max(xs) * 1.05

    def x(v):
        return left + v / x_high * (width - left - right)

    def y(v):
        return height - bottom - (v - y_low) / (y_high - y_low) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11">', f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
             f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">training problems</text>',
             f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" text-anchor="middle">'
             f'held-out accuracy @{k} (%)</text>']
    steps = 6
    for i in range(steps + 1):
        v = y_low + (y_high - y_low) * i / steps
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{100 * v:.0f}</text>')
    for v in xs:
        parts.append(f'<text x="{x(v):.1f}" y="{height - bottom + 14}" text-anchor="middle">{v}</text>')
    for label, (mean, _, _), colour in (("identity baseline", identity_at_n, "#d62728"),
                                        ("majority", majority_at_n, "#7f7f7f")):
        parts.append(f'<line x1="{left}" y1="{y(mean):.1f}" x2="{width - right}" y2="{y(mean):.1f}" '
                     f'stroke="{colour}" stroke-dasharray="5,4"/>')
        parts.append(f'<text x="{width - right - 4}" y="{y(mean) - 4:.1f}" text-anchor="end" fill="{colour}">'
                     f'{label} {100 * mean:.1f}</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(n):.1f},{y(v[0]):.1f}" for i, (n, v) in enumerate(points))
    parts.append(f'<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for n, (mean, lower, upper) in points:
        parts.append(f'<line x1="{x(n):.1f}" y1="{y(lower):.1f}" x2="{x(n):.1f}" y2="{y(upper):.1f}" stroke="#1f77b4"/>')
        parts.append(f'<circle cx="{x(n):.1f}" cy="{y(mean):.1f}" r="3.5" fill="#1f77b4"/>')
    parts.append(f'<text x="{left + 8}" y="{top + 10}" fill="#1f77b4">verifier@{k} (95% interval)</text>')
    return "\n".join(parts + ["</svg>"]) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier study-report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    done = sorted(d for d in out.iterdir() if (d / "report-verifier" / "metrics.json").exists())
    if not done:
        sys.exit(f"{out}: no variant has a report yet (run scripts/training_study.sh)")
    rows = [variant_row(d) for d in done]
    baseline = identity(done[0])
    k = rows[0]["k"]
    lines = [f"# Verifier training study ({rows[0]['problems']} held-out problems, N = {k})", "",
             f"identity baseline verifier@{k}: {percent(baseline)}; majority@{k}: {percent(rows[0]['majority'])}", "",
             f"| variant | objective | balanced | train problems | examples | epochs | processes | global batch | seconds "
             f"| validation AUROC | held-out AUROC | ECE | verifier@{k} | weighted@{k} | acc. at 10% answered "
             f"| acc. at 100% |", "|" + "---|" * 16]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['objective']} | {r['balanced']} | {r['train_problems']} | "
                     f"{r['train_examples']} | {r['epochs'] if r['epochs'] is None else format(r['epochs'], 'g')} | {r['world_size']} | {r['global_batch_size']} | {r['seconds']} | "
                     f"{r['validation_auroc'] or float('nan'):.4f} | {r['auroc']:.4f} | {r['ece']:.4f} | "
                     f"{percent(r['verifier'])} | {percent(r['weighted'])} | {100 * r['at_10']:.1f} | "
                     f"{100 * r['at_100']:.1f} |")
    paired = [(d.name, against_identity(d)) for d in done]
    paired = [(name, p) for name, p in paired if p]
    if paired:
        lines += ["", "## Against the identity baseline, paired by problem (points, 95% bootstrap interval)", "",
                  f"| variant | problems | verifier@{k} − identity's | weighted@{k} − identity's |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {p['verifier'][1]} | {signed_points(p['verifier'][0])} | "
                  f"{signed_points(p['weighted'][0])} |" for name, p in paired]
    curve = sorted((r["train_problems"], r["verifier"]) for r in rows
                   if r["objective"] == "pointwise" and r["balanced"] and r["world_size"] == 1
                   and (r["variant"].startswith("curve-") or r["variant"] == "pointwise"))
    if len(curve) >= 2:
        (out / "learning_curve.svg").write_text(learning_curve_svg(curve, baseline, rows[0]["majority"], k))
        lines += ["", f"## Learning curve (pointwise, balanced): held-out verifier@{k}", "",
                  "| training problems | verifier@k |", "|---:|---:|"]
        lines += [f"| {n} | {percent(v)} |" for n, v in curve]
        lines += ["", "![learning curve](learning_curve.svg)"]
    (out / "study.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
