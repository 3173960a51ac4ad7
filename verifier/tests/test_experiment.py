"""The scripts' data steps (`python -m bestofn_verifier experiment ...`): what they keep, in what
order, and what they refuse."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "verifier"))

from bestofn_verifier.experiment import by_model, first_problems, verdict_changes  # noqa: E402


def line(problem, idx, **fields):
    return json.dumps({"problem_id": problem, "sample_idx": idx, "text": "t", **fields}) + "\n"


def test_first_problems_keeps_every_sample_of_the_first_k_problems_in_file_order():
    lines = [line("b", 0), line("a", 0), line("b", 1), line("c", 0), line("a", 1)]
    assert first_problems(lines, 2) == [lines[0], lines[1], lines[2], lines[4]]
    assert first_problems(lines, 10) == lines
    with pytest.raises(SystemExit, match="keeps nothing"):
        first_problems(lines, 0)


def test_by_model_splits_the_chosen_prompt_styles_byte_for_byte():
    lines = [
        line("1", 0, generator={"model": "m1", "prompt": "COT"}),
        line("1", 1, generator={"model": "m2", "prompt": "COT"}),
        line("1", 2, generator={"model": "m1", "prompt": "other"}),
        line("2", 0, generator={"model": "m1", "prompt": "LtM"}),
        line("2", 1),
    ]
    assert by_model(lines, {"COT", "LtM"}) == {"m1": [lines[0], lines[3]], "m2": [lines[1]]}
    with pytest.raises(SystemExit, match="no sample"):
        by_model(lines, {"nothing"})


def test_verdict_changes_lists_each_flip_and_refuses_missing_samples():
    old = [json.loads(line("p", i, correct=c)) for i, c in enumerate([True, False, None])]
    new = [json.loads(line("p", i, correct=c)) for i, c in enumerate([True, True, False])]
    changes = verdict_changes(old, new)
    assert [key for key, _, _ in changes] == [("p", 1), ("p", 2)]
    with pytest.raises(SystemExit, match="missing"):
        verdict_changes(old, new[:2])


def test_the_command_line_writes_what_the_functions_return(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(line(p, 0) for p in ["x", "y", "z"]))
    out = tmp_path / "first.jsonl"
    subprocess.run([sys.executable, "-m", "bestofn_verifier", "experiment", "first-problems",
                    "--samples", str(samples), "--problems", "2", "--out", str(out)],
                   cwd=REPO / "verifier", check=True)
    assert out.read_text() == "".join(line(p, 0) for p in ["x", "y"])


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path):
    samples = tmp_path / "code001.jsonl"
    text = "".join(line(p, 0, generator={"model": "code001", "prompt": "COT"}) for p in ["x", "y"])
    samples.write_text(text)
    for args in (["first-problems", "--samples", str(samples), "--problems", "1", "--out", str(samples)],
                 ["by-model", "--samples", str(samples), "--out-dir", str(tmp_path)]):
        done = subprocess.run([sys.executable, "-m", "bestofn_verifier", "experiment", *args],
                              cwd=REPO / "verifier", capture_output=True, text=True)
        assert done.returncode != 0 and "is the input" in done.stderr, done.stderr
        assert samples.read_text() == text
