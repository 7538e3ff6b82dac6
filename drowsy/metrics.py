"""Classification and episode-matching metrics for ``drowsy evaluate`` (and training reports)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def binary_metrics(
    y_true: Sequence[bool] | np.ndarray, y_pred: Sequence[bool] | np.ndarray | bool, positive: str
) -> dict:
    """Balanced accuracy, F1, recall and false-positive rate for a binary task. Undefined
    values (a class with no examples) are None rather than a misleading 0 or 1."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp = int(np.sum(t & p))
    fp = int(np.sum(~t & p))
    tn = int(np.sum(~t & ~p))
    fn = int(np.sum(t & ~p))
    recall = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    precision = _ratio(tp, tp + fp)
    recalls = [r for r in (recall, specificity) if r is not None]
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "n": int(t.size),
        "balanced_accuracy": round(float(np.mean(recalls)), 4) if recalls else None,
        "accuracy": _ratio(tp + tn, t.size),
        f"f1_{positive}": f1,
        f"recall_{positive}": recall,
        f"precision_{positive}": precision,
        "false_positive_rate": _ratio(fp, fp + tn),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def runs(
    mask: Sequence[bool], times: Sequence[float], end_time: float
) -> list[tuple[float, float]]:
    """Intervals [start, end) of consecutive True frames; a run ends at the next frame's time."""
    out = []
    start = None
    for i, value in enumerate(mask):
        if value and start is None:
            start = times[i]
        elif not value and start is not None:
            out.append((start, times[i]))
            start = None
    if start is not None:
        out.append((start, end_time))
    return out


def match_episodes(truth: list[tuple[float, float]], detected: list[tuple[float, float]]) -> dict:
    """One-to-one matching of overlapping intervals, largest overlaps first."""
    pairs = []
    for i, (a0, a1) in enumerate(truth):
        for j, (b0, b1) in enumerate(detected):
            overlap = min(a1, b1) - max(a0, b0)
            if overlap > 0:
                pairs.append((overlap, i, j))
    used_t, used_d = set(), set()
    matches = []
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_t and j not in used_d:
            used_t.add(i)
            used_d.add(j)
            matches.append((i, j))
    matched = len(used_t)
    errors = [
        abs((detected[j][1] - detected[j][0]) - (truth[i][1] - truth[i][0])) for i, j in matches
    ]
    precision = _ratio(matched, len(detected))
    recall = _ratio(matched, len(truth))
    f1 = _ratio(2 * matched, len(truth) + len(detected))
    return {
        "true": len(truth),
        "detected": len(detected),
        "matched": matched,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        # closure duration, detected vs true, over matched episodes (seconds)
        "duration_median_abs_error_s": round(float(np.median(errors)), 4) if errors else None,
        "pairs": matches,  # (truth index, detected index)
    }


def roc_auc(
    labels: Sequence[float] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> float | None:
    """Area under the ROC curve (probability a positive outranks a negative; ties count half).
    None when one class is missing."""
    y = np.asarray(labels) > 0.5
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    r_pos = ranks[: len(pos)].sum()
    return round(float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))), 4)
