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

__all__ = ["extract", "grade", "grade_many", "explain", "reward"]


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


def reward(completions, solution=None, answer=None, **kwargs):
    """A reward function in TRL's signature (``GRPOTrainer(reward_funcs=[reward])``): 1.0 for a
    completion whose answer matches its gold answer, else 0.0. The gold answers come from the
    dataset column ``solution`` or ``answer``."""
    golds = solution if solution is not None else answer
    if golds is None:
        raise TypeError("reward needs the gold answers: a dataset column named `solution` or `answer`")
    texts = [_text(c) for c in completions]
    return [1.0 if ok else 0.0 for ok in grade_many(list(golds), texts, kwargs.get("style"))]
