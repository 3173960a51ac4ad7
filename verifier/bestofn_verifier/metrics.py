"""Metrics shared by training and export checks."""

from collections import defaultdict

import numpy as np


def auroc(scores, labels):
    """Mann-Whitney AUROC with average ranks for ties; None with one class only."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels) > 0.5
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j < len(scores) and sorted_scores[j] == sorted_scores[i]:
            j += 1
        ranks[order[i:j]] = (i + 1 + j) / 2
        i = j
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def selection_accuracy(examples, scores):
    """Share of problems whose best-scored example is correct (the verifier's top-1 pick)."""
    best = defaultdict(lambda: (-np.inf, 0))
    for e, s in zip(examples, scores):
        if s > best[e["problem_id"]][0]:
            best[e["problem_id"]] = (s, e["label"])
    return float(np.mean([label for _, label in best.values()])) if best else None


def ece(probabilities, labels, bins=10):
    """Expected calibration error over equal-width bins (as `bestofn eval` computes it)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[index == b].mean() - y[index == b].mean()) * (index == b).sum()
                     for b in range(bins) if (index == b).any()) / len(p))


def brier(probabilities, labels):
    return float(np.mean((np.asarray(probabilities, dtype=np.float64) - np.asarray(labels)) ** 2))


def fit_platt(logits, labels, l2=1e-4, steps=100):
    """Platt scaling: (scale, shift) minimizing the log loss of sigmoid(scale * logit + shift),
    by Newton's method with backtracking, with a small pull toward (1, 0) so separable data stays
    finite."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)

    def loss(a, b):
        t = a * z + b
        # log(1 + e^t) - y t, computed without overflow
        return float(np.mean(np.logaddexp(0, t) - y * t) + l2 / 2 * ((a - 1) ** 2 + b ** 2))

    a, b = 1.0, 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a * z + b)))
        w = p * (1 - p)
        gradient = np.array([np.mean((p - y) * z) + l2 * (a - 1), np.mean(p - y) + l2 * b])
        hessian = np.array([[np.mean(w * z * z) + l2, np.mean(w * z)], [np.mean(w * z), np.mean(w) + l2]])
        step = np.linalg.solve(hessian, gradient)
        current, shrink = loss(a, b), 1.0
        while loss(a - shrink * step[0], b - shrink * step[1]) > current and shrink > 1e-9:
            shrink /= 2
        a, b = a - shrink * step[0], b - shrink * step[1]
        if np.abs(shrink * step).max() < 1e-10:
            break
    return float(a), float(b)
