"""The training study's report: one row per variant, the baselines, the learning curve's table
and plot, from the files each variant's experiment writes."""

import json
import sys
from pathlib import Path

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


def test_no_finished_variant_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no variant has a report yet"):
        study_report.main([str(tmp_path)])
