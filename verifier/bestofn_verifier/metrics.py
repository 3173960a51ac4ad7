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
