"""A verl reward function: point verl at this file.

    custom_reward_function.path=$(python -c "import bestofn_grade.verl as v; print(v.__file__)")
    custom_reward_function.name=compute_score

``compute_score`` grades ``solution_str`` against ``ground_truth`` with bestofn's grader: 1.0 when
its final answer matches, else 0.0. ``ground_truth`` may be text, a reference solution (``#### 18``
or a ``\\boxed{}``), a number, or a list of acceptable answers (any match counts); None or blank
scores 0.0. ``extra_info["style"]`` ("gsm8k" or "math") overrides the inferred answer style.
"""

from . import grade

__all__ = ["compute_score"]


def _golds(ground_truth):
    values = ground_truth if isinstance(ground_truth, (list, tuple)) else [ground_truth]
    for value in values:
        if value is None or isinstance(value, bool):
            continue
        text = repr(value) if isinstance(value, float) else str(value)
        if text.strip():
            yield text


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """verl's signature: the reward of one response. ``data_source`` is not needed to grade."""
    del data_source
    style = (extra_info or {}).get("style") if isinstance(extra_info, dict) else None
    if style not in (None, "gsm8k", "math"):
        style = None
    return 1.0 if any(grade(gold, solution_str, style) for gold in _golds(ground_truth)) else 0.0
