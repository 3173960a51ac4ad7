"""The grader's Python bindings: verdicts, explanations, the batch function, TRL's reward
signature, and use from many threads at once."""

import json
import pathlib
from concurrent.futures import ThreadPoolExecutor

import pytest

import bestofn_grade as bg

CONFORMANCE = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "grading-conformance"


def test_grade_decides_equivalence():
    assert bg.grade("\\frac{1}{2}", "so the answer is $\\boxed{0.5}$")
    assert bg.grade("\\frac{x+2}{7}", "$\\boxed{\\frac{x}{7}+\\frac{2}{7}}$")
    assert not bg.grade("18", "so #### \u221218")
    assert not bg.grade("\\frac{1}{3}", "$\\boxed{0.333}$")
    # A reference solution as the gold answer: its final answer is the gold.
    assert bg.grade("16 - 3 - 4 = 9, 9 * 2 = 18\n#### 18", "The answer is 18.")


def test_an_empty_gold_answer_is_refused():
    with pytest.raises(ValueError, match="empty"):
        bg.grade(" ", "5")
    with pytest.raises(ValueError, match="index 1"):
        bg.grade_many(["5", ""], ["5", "5"])


def test_style_is_checked():
    assert bg.grade("18", "#### 18", style="gsm8k")
    with pytest.raises(ValueError, match="unknown answer style"):
        bg.grade("18", "#### 18", style="latex")


def test_explain_names_the_rule():
    explanation = bg.explain("2x+4y-3=0", "So $y = -\\frac{1}{2}x + \\frac{3}{4}$.")
    assert explanation["correct"] is True
    assert explanation["rule"] == "answer-tree"
    assert explanation["extracted"] == "y=-\\frac{1}{2}x+\\frac{3}{4}"
    assert explanation["gold_parsed"] == "(2·x + 4·y - 3) = 0"
    wrong = bg.explain("42", "no idea")
    assert wrong["correct"] is False and wrong["rule"] == "no-answer"


def test_extract():
    assert bg.extract("so $\\boxed{\\dfrac{1}{2}}$.") == "\\frac{1}{2}"
    assert bg.extract("The answer is 1,000.", style="gsm8k") == "1000"
    assert bg.extract("nothing") is None


def test_grade_many_matches_grade_and_checks_lengths():
    golds = ["18", "\\frac{1}{2}", "(1,2)", "x \\leq 5"]
    responses = ["#### 18", "$\\boxed{0.5}$", "$\\boxed{(2,1)}$", "$\\boxed{5 \\geq x}$"]
    assert bg.grade_many(golds, responses) == [bg.grade(g, r) for g, r in zip(golds, responses)]
    assert bg.grade_many(golds, responses) == [True, True, False, True]
    with pytest.raises(ValueError, match="one gold answer per response"):
        bg.grade_many(golds, responses[:2])


def test_reward_has_trls_signature():
    completions = ["The answer is 18.", [{"role": "assistant", "content": "#### 17"}]]
    assert bg.reward(completions=completions, solution=["18", "#### 18"]) == [1.0, 0.0]
    assert bg.reward(completions=completions, answer=["18", "17"], prompts=["p", "q"]) == [1.0, 1.0]
    with pytest.raises(TypeError, match="solution"):
        bg.reward(completions=completions)
    with pytest.raises(TypeError, match="completion"):
        bg.reward(completions=[42], solution=["42"])
    # Positional arguments would let a call grade the prompts: refused.
    with pytest.raises(TypeError, match="positional"):
        bg.reward(["prompt"], ["#### 18"], solution=["18"])


def test_reward_takes_every_column_trl_passes():
    completions = ["The answer is 18.", "#### 7", "\\boxed{0.5}", "#### 3"]
    # Columns as lists, one value per row: a None solution falls back to the answer column; an
    # int gold is read as written; style per row (None: inferred); unknown columns ignored; a
    # row with no gold at all gets no reward (None).
    rewards = bg.reward(
        completions=completions,
        solution=[None, "#### 7", None, None],
        answer=[18, "8", "\\frac{1}{2}", None],
        style=["gsm8k", None, "math", None],
        prompts=["p"] * 4,
        completion_ids=[[1], [2], [3], [4]],
        trainer_state=object(),
    )
    assert rewards == [1.0, 1.0, 1.0, None]
    # A dataset written by `bestofn import --problems-out`: `style` and `"solution": null`.
    assert bg.reward(completions=["#### 5"], solution=[None], answer=["5"], style=["gsm8k"]) == [1.0]
    with pytest.raises(ValueError, match="2 values for 1 completions"):
        bg.reward(completions=["#### 5"], answer=["5", "6"])


def test_an_empty_gold_is_refused_by_grade_and_explain_alike():
    for call in (bg.grade, bg.explain):
        with pytest.raises(ValueError, match="gold answer is empty"):
            call("", "5")
        with pytest.raises(ValueError, match="gold answer is empty"):
            call("  ", "5")


def test_many_threads_at_once_agree_with_one():
    pairs = [(str(n), f"so the total is {n if n % 3 else n + 1}.") for n in range(400)]
    pairs += [("\\sec^2(y)", "$\\boxed{\\tan^2(y)+1}$"), ("\\{1,2\\}", "$\\boxed{2, 1}$")] * 50
    expected = [bg.grade(g, r) for g, r in pairs]

    def work(_):
        single = [bg.grade(g, r) for g, r in pairs]
        batch = bg.grade_many([g for g, _ in pairs], [r for _, r in pairs])
        return single, batch

    with ThreadPoolExecutor(max_workers=8) as pool:
        for single, batch in pool.map(work, range(16)):
            assert single == expected
            assert batch == expected


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/data is absent")
def test_conformance_set_from_python():
    problems = {}
    for line in (CONFORMANCE / "problems.jsonl").read_text().splitlines():
        problem = json.loads(line)
        problems[problem["id"]] = problem
    expected = json.loads((CONFORMANCE / "expected.json").read_text())
    samples = [json.loads(line) for line in (CONFORMANCE / "samples.jsonl").read_text().splitlines()]
    # Each problem in its own style, as the CLI grades them.
    verdicts = [
        bg.grade(problems[s["problem_id"]]["answer"], s["text"], style=problems[s["problem_id"]]["style"])
        for s in samples
    ]
    agree = sum(v == expected[s["problem_id"]] for v, s in zip(verdicts, samples))
    assert agree == len(samples) == 259


REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
SHARED = REPOSITORY / ".." / "shared" / "data"
BINARY = REPOSITORY / "target" / "release" / "bestofn"


def cli_verdict(gold, response, style=None):
    """`bestofn grade --gold G --response -` (the response on stdin): its verdict."""
    import subprocess

    command = [str(BINARY), "grade", "--json", f"--gold={gold}", "--response", "-"]
    if style:
        command += ["--style", style]
    done = subprocess.run(command, input=response, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["correct"] is True


def real_pairs(count):
    """`count` real model solutions of GSM8K test problems, with each problem's gold as an answer
    and as the reference solution (`... #### N`) GSM8K gives."""
    references = {}
    for line in (SHARED / "gsm8k" / "test.jsonl").read_text().splitlines():
        row = json.loads(line)
        references[row["question"]] = row["answer"]
    pairs = []
    for line in (SHARED / "gsm8k" / "example_model_solutions.jsonl").read_text().splitlines():
        row = json.loads(line)
        reference = references.get(row["question"])
        if reference is None:
            continue
        for run, value in row.items():
            if isinstance(value, dict) and "solution" in value:
                pairs.append((reference, reference.rsplit("####", 1)[1].strip(), value["solution"]))
    assert len(pairs) >= count, f"only {len(pairs)} real solutions of GSM8K test problems"
    return pairs[:count]


@pytest.mark.skipif(
    not (SHARED.is_dir() and BINARY.is_file()), reason="../shared/data or target/release/bestofn is absent"
)
def test_the_cli_and_python_give_one_verdict_per_pair():
    problems = {}
    for line in (SHARED / "grading-conformance" / "problems.jsonl").read_text().splitlines():
        problem = json.loads(line)
        problems[problem["id"]] = problem
    cases = []
    for line in (SHARED / "grading-conformance" / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        problem = problems[sample["problem_id"]]
        cases.append((problem["answer"], sample["text"], problem["style"]))
        cases.append((problem["answer"], sample["text"], None))
    for reference, answer, response in real_pairs(1000):
        cases.append((reference, response, None))
        cases.append((answer, response, None))
    with ThreadPoolExecutor(max_workers=4) as pool:
        from_cli = list(pool.map(lambda case: cli_verdict(*case), cases))
    from_python = [bg.grade(gold, response, style=style) for gold, response, style in cases]
    differing = [case for case, a, b in zip(cases, from_cli, from_python) if a != b]
    assert not differing, f"{len(differing)} of {len(cases)} pairs differ, first: {differing[:3]}"
    # As answer and as reference solution, a real response gets one verdict.
    real = from_python[2 * 259 :]
    assert real[0::2] == real[1::2]
    assert 0 < sum(real) < len(real), "real responses both right and wrong"


def test_make_reward_reads_the_named_gold_column():
    completions = ["The answer is 18.", [{"role": "assistant", "content": "#### 17"}], "#### 3"]
    reward = bg.make_reward("final", fallback="solution")
    assert reward.__name__ == "bestofn_final"
    # Int, text and None golds; None falls back to the other column, else no reward.
    assert reward(
        prompts=["a", "b", "c"], completions=completions, final=[18, "16", None], solution=[None, None, None]
    ) == [1.0, 0.0, None]
    assert reward(completions=completions, final=[None, None, 3], solution=["#### 18", None, None]) == [1.0, None, 1.0]
    with pytest.raises(TypeError, match="no column `final`"):
        reward(completions=completions, answer=["18", "17", "3"])
    with pytest.raises(TypeError, match="positional"):
        reward(["prompt"], ["#### 18"])
    by_style_column = bg.make_reward("answer", style="kind")
    assert by_style_column(completions=["\\boxed{0.5}"], answer=["\\frac{1}{2}"], kind=["math"]) == [1.0]


def test_estimators_over_lists_match_their_definitions():
    from itertools import combinations
    from bestofn_grade import estimators as E

    correct = [True, False, True, False, False]
    scores = [0.3, 0.9, 0.8, 0.1, 0.5]
    answers = ["5", "6", "5", None, "7"]
    for k in range(1, 6):
        subsets = list(combinations(range(5), k))
        brute_pass = sum(any(correct[i] for i in s) for s in subsets) / len(subsets)
        assert abs(E.pass_at_k(correct, k) - brute_pass) < 1e-12
        best = lambda s: max((i for i in s if answers[i] is not None), key=lambda i: scores[i], default=None)
        brute_verifier = sum(correct[best(s)] for s in subsets if best(s) is not None) / len(subsets)
        assert abs(E.verifier_at_k(correct, scores, k, answers=answers) - brute_verifier) < 1e-12
    assert E.majority_at_k(answers, correct, 1) == 0.4
    assert E.majority_at_k(answers, correct, 5) == 1.0  # "5" has two votes
    # In between, within Monte-Carlo noise of the exact mean over subsets (ties to a random one).
    exact = 0.0
    for s in combinations(range(5), 3):
        votes = {}
        for i in s:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1
        top = max(votes.values())
        leaders = [a for a in votes if votes[a] == top]
        exact += sum(a == "5" for a in leaders) / len(leaders) / 10
    assert abs(E.majority_at_k(answers, correct, 3, trials=20000) - exact) < 0.02
    assert E.mean_over([[True, False], [False, False]], E.pass_at_k, 1) == 0.25
    mean, lower, upper = E.bootstrap([1, 0, 1, 1, 0, 1, 0, 1], resamples=2000)
    assert mean == 0.625 and lower < mean < upper
    with pytest.raises(ValueError, match="more than the 5 samples"):
        E.pass_at_k(correct, 6)
    with pytest.raises(ValueError, match="nothing"):
        E.bootstrap([])


def test_verls_compute_score_grades_one_response():
    from bestofn_grade.verl import compute_score

    assert compute_score("openai/gsm8k", "so #### 18", "18") == 1.0
    assert compute_score("openai/gsm8k", "so #### 17", "18") == 0.0
    assert compute_score("math", "$\\boxed{0.5}$", ["\\frac{1}{2}", "1/2"]) == 1.0
    assert compute_score("math", "$\\boxed{0.5}$", 0.5) == 1.0
    assert compute_score("x", "#### 18", None) == 0.0
    assert compute_score("x", "#### 18", "  ") == 0.0
    assert compute_score("x", "#### 18", "18", extra_info={"style": "gsm8k", "index": 3}) == 1.0


def test_openrlhfs_reward_func_grades_each_response_after_its_prompt():
    from bestofn_grade.openrlhf import reward_func

    prompts = ["Q: 9 + 9?\nA:", "Q: half of 1?\nA:", "Q: 2 + 2?\nA:"]
    responses = [" 9 + 9 = 18. #### 18", " $\\boxed{\\frac{1}{2}}$", " The answer is 5."]
    queries = [p + r for p, r in zip(prompts, responses)]
    # The prompt holds a number that is no answer: only the response is graded.
    result = reward_func(queries, prompts, ["... #### 18", "0.5", 4])
    assert result["rewards"].tolist() == [1.0, 1.0, 0.0]
    assert result["scores"].tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="label_key"):
        reward_func(queries, prompts, [])
