"""The estimators over lists and the pandas loader, against a real `bestofn eval` report: the
exact estimators give eval's figures to the last digit, and the loader reads what eval wrote."""

import json
import pathlib
import subprocess

import pytest

from bestofn_grade import estimators as E
from bestofn_grade import results

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "release" / "bestofn"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not BINARY.exists():
        pytest.skip(f"{BINARY} is not built (scripts/setup.sh builds it)")
    dir = tmp_path_factory.mktemp("report")
    labeled = dir / "labeled.jsonl"
    subprocess.run(
        [BINARY, "label", "--problems", FIXTURES / "problems.jsonl", "--samples", FIXTURES / "samples.jsonl", "--out", labeled],
        check=True,
        capture_output=True,
    )
    subprocess.run([BINARY, "eval", "--samples", labeled, "--out", dir / "report"], check=True, capture_output=True)
    return labeled, dir / "report"


def test_exact_estimators_over_lists_give_evals_figures(report):
    labeled, report_dir = report
    samples = results.samples(labeled)
    by_problem = [group.sort_values("sample_idx") for _, group in samples.groupby("problem_id", sort=False)]
    curves = results.curves(report_dir)
    for method, estimator in (("pass@k", "pass"), ("verifier", "verifier")):
        points = curves[curves["method"] == method]
        assert len(points) > 0, method
        for _, point in points.iterrows():
            k = int(point["k"])
            values = []
            for group in by_problem:
                correct = [bool(c) for c in group["correct"]]
                if estimator == "pass":
                    values.append(E.pass_at_k(correct, k))
                else:
                    answers = [a if isinstance(a, str) else None for a in group["extracted"]]
                    values.append(E.verifier_at_k(correct, list(group["score"]), k, answers=answers))
            assert sum(values) / len(values) == pytest.approx(point["mean"], abs=1e-12), (method, k)


def test_the_loader_reads_the_report_as_written(report):
    _, report_dir = report
    metrics = json.loads((report_dir / "metrics.json").read_text())
    curves = results.curves(report_dir)
    assert len(curves) == sum(len(c["points"]) for c in metrics["curves"])
    assert set(curves.columns) >= {"method", "estimator", "k", "mean", "lower", "upper"}
    problems = results.problems(report_dir)
    assert len(problems) == metrics["problems"]
    differences = results.differences(report_dir)
    assert set(differences["a"]) | set(differences["b"]) <= set(curves["method"])
    with pytest.raises(FileNotFoundError, match="eval report"):
        results.curves(report_dir / "missing")


def test_the_verifier_package_is_importable_from_any_directory():
    python = ROOT / ".venv" / "bin" / "python"
    found = subprocess.run(
        [python, "-c", "import bestofn_verifier, bestofn_grade; print(bestofn_verifier.__file__)"],
        cwd="/",
        check=True,
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == str(ROOT / "verifier" / "bestofn_verifier" / "__init__.py")
