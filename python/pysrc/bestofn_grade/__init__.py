"""bestofn's answer grader from Python.

    >>> import bestofn_grade
    >>> bestofn_grade.grade("\\frac{1}{2}", "so the answer is $\\boxed{0.5}$")
    True

Gold answers may be bare answers ("18", "\\frac{x+2}{7}") or reference solutions ending in
``#### 18`` or holding a ``\\boxed{}``. ``style`` is "gsm8k" or "math"; by default it is inferred
from the gold answer. Every function releases the GIL; none uses signals or timeouts, so all are
safe from threads.
"""

import json

from ._native import extract, grade, grade_many
from ._native import explain_json as _explain_json

from . import estimators, results

__all__ = ["extract", "grade", "grade_many", "explain", "reward", "make_reward", "estimators", "results"]


def explain(gold, response, style=None):
    """The verdict on ``response`` with what decided it: the answer found, its normalized and
    parsed forms, the gold answer's, ``correct`` and the ``rule``."""
    return json.loads(_explain_json(gold, response, style))


def _text(completion):
    """A completion as TRL passes it: a string, or a conversation whose last message answers."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return completion[-1].get("content") or ""
    raise TypeError(f"a completion is a string or a list of messages, not {type(completion).__name__}")


def _per_row(column, count, name):
    """A dataset column as TRL passes it (a list, one value per completion) or one value for
    every row."""
    if isinstance(column, (list, tuple)):
        if len(column) != count:
            raise ValueError(f"`{name}` has {len(column)} values for {count} completions")
        return list(column)
    return [column] * count


def _gold_text(value):
    """A gold answer as the grader reads it: text, or a number written out; None or blank is none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return text if text.strip() else None


def reward(*, completions, solution=None, answer=None, style=None, **kwargs):
    """A reward function in TRL's signature (``GRPOTrainer(reward_funcs=[reward])``): 1.0 for a
    completion whose answer matches its gold answer, else 0.0.

    The gold answer of a row is its ``solution``, else its ``answer`` (a row whose ``solution``
    is None falls back to ``answer``; numbers are read as written). ``style`` may be a column too
    (None in a row: inferred). A row with no gold answer at all gets None, which TRL counts as
    no reward. Every other column TRL passes (``prompts``, ``completion_ids``, ...) is ignored.
    Arguments are keyword-only, as TRL passes them: a positional call cannot grade the prompts."""
    del kwargs  # the columns TRL passes beside these are not needed to grade
    if solution is None and answer is None:
        raise TypeError("reward needs the gold answers: a dataset column named `solution` or `answer`")
    count = len(completions)
    solutions = _per_row(solution, count, "solution")
    answers = _per_row(answer, count, "answer")
    styles = _per_row(style, count, "style")
    texts = [_text(c) for c in completions]
    golds = [_gold_text(s) if _gold_text(s) is not None else _gold_text(a) for s, a in zip(solutions, answers)]
    rewards = [None] * count
    by_style = {}
    for index, (gold, row_style) in enumerate(zip(golds, styles)):
        if gold is not None:
            by_style.setdefault(row_style or None, []).append(index)
    for row_style, rows in by_style.items():
        verdicts = grade_many([golds[i] for i in rows], [texts[i] for i in rows], row_style)
        for i, ok in zip(rows, verdicts):
            rewards[i] = 1.0 if ok else 0.0
    return rewards


def make_reward(gold="answer", *, style=None, fallback=None, name=None):
    """A reward function in TRL's signature whose gold answers are the dataset column ``gold``
    (``make_reward("final_answer")``), else the column ``fallback`` in rows where ``gold`` is None.

    Golds may be text, reference solutions (``#### 18``, a box), integers or floats; a row with
    no gold gets None (no reward). ``style`` is "gsm8k", "math", None (inferred per row) or the
    name of a column holding each row's style. The function takes keyword arguments only, as TRL
    calls it, and is named ``name`` (default ``bestofn_<gold>``) in TRL's logs.

        >>> trainer = GRPOTrainer(..., reward_funcs=[make_reward("answer")])
    """
    if not isinstance(gold, str) or not gold:
        raise TypeError("gold is the name of the dataset column that holds the gold answers")
    style_column = style if style not in (None, "gsm8k", "math") else None

    def reward_of_column(*, completions, **columns):
        if gold not in columns:
            raise TypeError(f"the dataset has no column `{gold}` (columns passed: {sorted(columns)})")
        count = len(completions)
        golds = _per_row(columns[gold], count, gold)
        if fallback is not None:
            backup = _per_row(columns.get(fallback), count, fallback)
            golds = [g if _gold_text(g) is not None else b for g, b in zip(golds, backup)]
        styles = _per_row(columns.get(style_column) if style_column else style, count, "style")
        return reward(completions=completions, answer=golds, style=styles)

    reward_of_column.__name__ = name or f"bestofn_{gold}"
    reward_of_column.__qualname__ = reward_of_column.__name__
    return reward_of_column
