"""The estimators of ``bestofn eval`` over plain lists, for notebooks.

Each takes one problem's samples (lists in sample order) and returns that problem's value;
``mean_over`` averages a per-problem estimator over problems, and ``bootstrap`` gives a percentile
interval over problems, as ``eval`` does.

    >>> from bestofn_grade import estimators as E
    >>> E.pass_at_k([True, False, False, False], 2)
    0.5
    >>> E.verifier_at_k([True, False, False], [0.2, 0.9, 0.1], 2)
    0.3333333333333333

pass@k and verifier@k are exact (pass@k is Chen et al.'s unbiased estimator; verifier@k is the
expected correctness of the top-scored sample over all k-subsets). majority@k is exact at k = 1
and k = n and estimated over ``trials`` random k-subsets in between (ties go to the answer drawn
first, so the file's order cannot leak in), as ``eval`` estimates it; with another random stream
than ``eval``'s, its figures agree within Monte-Carlo noise, not to the digit.
"""

import math
import random

__all__ = ["pass_at_k", "verifier_at_k", "majority_at_k", "mean_over", "bootstrap"]


def _check_k(n, k):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    if k > n:
        raise ValueError(f"k = {k} is more than the {n} samples of the problem")


def _flags(correct):
    flags = list(correct)
    for value in flags:
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"a verdict is True, False or None (ungraded), not {value!r}")
    return flags


def pass_at_k(correct, k):
    """Probability that at least one of k samples drawn without replacement is correct:
    1 - C(n - c, k) / C(n, k), as a stable product. ``correct``: one verdict per sample."""
    flags = _flags(correct)
    n, c = len(flags), sum(1 for f in flags if f)
    _check_k(n, k)
    if n - c < k:
        return 1.0
    all_wrong = 1.0
    for i in range(k):
        all_wrong *= (n - c - i) / (n - i)
    return 1.0 - all_wrong


def verifier_at_k(correct, scores, k, answers=None):
    """Expected correctness of the best-scored sample of a uniform random k-subset. Samples
    whose answer is None (when ``answers`` is given) are never picked; equal scores keep the
    sample order."""
    flags = _flags(correct)
    n = len(flags)
    if len(scores) != n:
        raise ValueError(f"{len(scores)} scores for {n} samples")
    _check_k(n, k)
    eligible = [i for i in range(n) if answers is None or answers[i] is not None]
    ranked = sorted(eligible, key=lambda i: -float(scores[i]))
    weight, expected = k / n, 0.0
    for m, position in enumerate(ranked):
        if weight == 0.0:
            break
        if flags[position]:
            expected += weight
        remaining = n - 1 - m
        weight = 0.0 if remaining == 0 or n < m + k else weight * (n - m - k) / remaining
    return expected


def _majority_pick(members, answers):
    """The most frequent answer among ``members`` (in draw order), ties to the one drawn first:
    the first member with it, or None when no member has an answer."""
    votes, first = {}, {}
    for member in members:
        answer = answers[member]
        if answer is None:
            continue
        votes[answer] = votes.get(answer, 0) + 1
        first.setdefault(answer, member)
    if not votes:
        return None
    best = max(votes, key=lambda a: (votes[a], -members.index(first[a])))
    return first[best]


def majority_at_k(answers, correct, k, trials=1000, seed=0):
    """Expected correctness of the majority answer of k samples (None: no answer, never voted).
    Exact at k = 1 (the share of correct samples) and k = n (ties to the earliest sample); in
    between, the mean over ``trials`` random k-subsets."""
    flags = _flags(correct)
    n = len(flags)
    if len(answers) != n:
        raise ValueError(f"{len(answers)} answers for {n} samples")
    _check_k(n, k)
    if k == 1:
        return sum(1 for f in flags if f) / n
    if k == n:
        pick = _majority_pick(list(range(n)), answers)
        return 1.0 if pick is not None and flags[pick] else 0.0
    rng = random.Random(seed)
    hits = 0
    for _ in range(trials):
        pick = _majority_pick(rng.sample(range(n), k), answers)
        hits += pick is not None and bool(flags[pick])
    return hits / trials


def mean_over(problems, estimator, *args, **kwargs):
    """The mean of ``estimator(*problem, *args, **kwargs)`` over problems, each a tuple of its
    lists (or one list): ``mean_over([[True, False], [False, False]], pass_at_k, 1)``."""
    values = [estimator(*(p if isinstance(p, tuple) else (p,)), *args, **kwargs) for p in problems]
    if not values:
        raise ValueError("no problems: a mean over nothing is not a figure")
    return sum(values) / len(values)


def _quantile(sorted_values, q):
    position = q * (len(sorted_values) - 1)
    below, above = math.floor(position), math.ceil(position)
    fraction = position - below
    return sorted_values[below] * (1 - fraction) + sorted_values[above] * fraction


def bootstrap(values, resamples=1000, confidence=0.95, seed=0):
    """The mean of per-problem ``values`` with a percentile bootstrap interval over problems:
    ``(mean, lower, upper)``, quantiles interpolated linearly as ``eval``'s are."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values: a mean over nothing is not a figure")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence!r}")
    mean = sum(values) / len(values)
    if resamples == 0:
        return mean, mean, mean
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    alpha = (1 - confidence) / 2
    return mean, _quantile(means, alpha), _quantile(means, 1 - alpha)
