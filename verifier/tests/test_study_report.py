"""The training study's report: one row per variant, the baselines, the learning curve's table
and plot, from the files each variant's experiment writes."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bestofn_verifier import study_report  # noqa: E402


def metrics(verifier, auroc, at_10, at_100):
    def curve(method, mean):
        return {"method": method, "points": [{"mean": mean / 2, "lower": 0, "upper": 1},
                                             {"mean": mean, "lower": mean - 0.04, "upper": mean + 0.04}]}
    return {"ks": [1, 12], "problems": 659, "calibration": {"auroc": auroc, "ece": 0.03},
            "curves": [curve("verifier", verifier), curve("weighted", 0.64), curve("majority", 0.528)],
            "abstention": [{"answer_rate": 0.1, "accuracy": at_10}, {"answer_rate": 1.0, "accuracy": at_100}]}


def variant(out, name, problems, balanced, epochs, report):
    (out / name / "report-verifier").mkdir(parents=True)
    (out / name / "report-identity-baseline").mkdir()
    (out / name / "verifier").mkdir()
    (out / name / "report-verifier" / "metrics.json").write_text(json.dumps(report))
    (out / name / "report-identity-baseline" / "metrics.json").write_text(json.dumps(metrics(0.613, 0.5, 0, 0)))
    (out / name / "verifier" / "verifier.json").write_text(json.dumps({"training": {
        "objective": "pointwise", "balanced_per_problem": balanced, "train_problems": problems,
        "train_examples": problems * 6, "world_size": 1, "global_batch_size": 16, "seconds": 1.5,
        "best_validation_auroc": 0.7, "hyperparameters": {"epochs": epochs}}}))


def test_the_report_has_a_row_per_variant_and_the_learning_curve(tmp_path):
    variant(tmp_path, "curve-50", 41, True, 2.0, metrics(0.411, 0.55, 0.379, 0.411))
    variant(tmp_path, "pointwise", 500, True, 2.0, metrics(0.598, 0.709, 0.576, 0.598))
    variant(tmp_path, "token-all-1epoch", 588, False, 1.0, metrics(0.575, 0.752, 0.697, 0.575))
    (tmp_path / "not-finished").mkdir()
    study_report.main([str(tmp_path)])
    report = (tmp_path / "study.md").read_text().splitlines()
    assert report[0] == "# Verifier training study (659 held-out problems, N = 12)"
    assert report[2] == "identity baseline verifier@12: 61.3 [57.3, 65.3]; majority@12: 52.8 [48.8, 56.8]"
    assert report[6] == ("| curve-50 | pointwise | True | 41 | 246 | 2 | 1 | 16 | 1.5 | 0.7000 | 0.5500 | 0.0300 "
                         "| 41.1 [37.1, 45.1] | 64.0 [60.0, 68.0] | 37.9 | 41.1 |")
    assert report[8].startswith("| token-all-1epoch | pointwise | False | 588 | 3528 | 1 | 1 |")
    assert len([line for line in report if line.startswith("| ")]) == 1 + 3 + 1 + 2  # header, rows, curve
    assert report[-3:-1] == ["| 500 | 59.8 [55.8, 63.8] |", ""]
    svg = (tmp_path / "learning_curve.svg").read_text()
    assert svg.count("<circle") == 2 and "identity baseline 61.3" in svg


def ranked(path, picks):
    path.write_text("".join(json.dumps({"problem_id": str(p), "answer": "1", "strategy": strategy, "correct": correct})
                            + "\n" for strategy, column in picks.items() for p, correct in enumerate(column)))


def test_variants_are_compared_with_the_identity_baseline_problem_by_problem(tmp_path):
    variant(tmp_path, "pointwise", 500, True, 2.0, metrics(0.598, 0.709, 0.576, 0.598))
    variant(tmp_path, "token", 500, True, 2.0, metrics(0.598, 0.709, 0.576, 0.598))
    # verifier: right on 3 more of 10 problems than the identity baseline; weighted: the same picks.
    ranked(tmp_path / "pointwise" / "heldout-ranked.jsonl",
           {"verifier": [True] * 8 + [False] * 2, "weighted": [True] * 5 + [False] * 5})
    ranked(tmp_path / "pointwise" / "heldout-identity-ranked.jsonl",
           {"verifier": [True] * 5 + [False] * 5, "weighted": [True] * 5 + [False] * 5})
    study_report.main([str(tmp_path)])
    report = (tmp_path / "study.md").read_text().splitlines()
    section = report[report.index(next(line for line in report if line.startswith("## Against"))):]
    section = section[:next((i for i, line in enumerate(section) if i and line.startswith("## ")), len(section))]
    rows = [line for line in section if line.startswith("| ") and not line.startswith("| variant")]
    assert len(rows) == 1  # token has no ranked picks: no row
    verifier, weighted = rows[0].split(" | ")[2:4]
    assert rows[0].startswith("| pointwise | 10 |")
    assert verifier.startswith("+30.0 [") and weighted.startswith("+0.0 [+0.0, +0.0]")


def test_paired_difference_interval_holds_the_mean():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 50))
        a = {str(p): bool(rng.random() < 0.5) for p in range(n)}
        b = {str(p): bool(rng.random() < 0.6) for p in range(n // 2, n + 5)}  # partly other problems
        (mean, lower, upper), shared = study_report.paired_difference(a, b)
        assert shared == len(a.keys() & b.keys())
        assert -1 <= lower <= mean + 1e-12 and mean - 1e-12 <= upper <= 1


def test_no_finished_variant_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no variant has a report yet"):
        study_report.main([str(tmp_path)])
