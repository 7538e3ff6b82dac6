"""Scores of per-crop decisions, pooled, per source and per person (worst person first)."""

from __future__ import annotations

import numpy as np

from training.fl3d import consecutive_runs


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float | None:
    """Mean of the per-class recalls over the classes present (None for no crops)."""
    if not len(y):
        return None
    recalls = [float((pred[y == c] == c).mean()) for c in (0, 1) if (y == c).any()]
    return float(np.mean(recalls))


def rates(y: np.ndarray, pred: np.ndarray) -> dict:
    """Recall (true-positive rate), false-positive rate, balanced accuracy and counts."""
    pos, neg = y == 1, y == 0
    return {
        "balanced_accuracy": balanced_accuracy(y, pred),
        "recall": float(pred[pos].mean()) if pos.any() else None,
        "fpr": float(pred[neg].mean()) if neg.any() else None,
        "positives": int(pos.sum()),
        "negatives": int(neg.sum()),
    }


def by_group(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> dict[str, dict]:
    return {str(g): rates(y[groups == g], pred[groups == g]) for g in sorted(set(groups.tolist()))}


def worst(per_person: dict[str, dict], min_each: int = 5) -> tuple[str, float] | None:
    """The person with the lowest balanced accuracy among those with at least ``min_each``
    crops of both classes (a person with one class only has no balanced accuracy to rank)."""
    ranked = [
        (p, r["balanced_accuracy"])
        for p, r in per_person.items()
        if r["positives"] >= min_each and r["negatives"] >= min_each
    ]
    return min(ranked, key=lambda t: t[1]) if ranked else None


def median_person(per_person: dict[str, dict], min_each: int = 5) -> float | None:
    vals = [
        r["balanced_accuracy"]
        for r in per_person.values()
        if r["positives"] >= min_each and r["negatives"] >= min_each
    ]
    return float(np.median(vals)) if vals else None


def report(y: np.ndarray, pred: np.ndarray, source: np.ndarray, person: np.ndarray) -> dict:
    """Pooled, per source and per person, with each source's worst and median person."""
    per_source = {}
    for s in sorted(set(source.tolist())):
        m = source == s
        people = by_group(y[m], pred[m], person[m])
        per_source[s] = {
            **rates(y[m], pred[m]),
            "people": len(people),
            "median_person": median_person(people),
            "worst_person": worst(people),
        }
    return {
        "pooled": rates(y, pred),
        "by_source": per_source,
        "by_person": by_group(y, pred, person),
    }


def missed_runs(missed: np.ndarray, person: np.ndarray, frame: np.ndarray) -> list[dict]:
    """The missed positives of video frames as runs of consecutive frame numbers per person
    (``missed``: a mask), longest first: a card then says "frames 2133-2149 of one driver"
    where a rate alone cannot tell one hidden yawn from misses spread over many."""
    runs: list[dict] = []
    video = missed & (frame >= 0)
    for p in sorted(set(person[video].tolist())):
        frames = sorted(int(n) for n in frame[video & (person == p)])
        for first, last in consecutive_runs(frames):
            runs.append(
                {"person": str(p), "first": first, "last": last, "frames": last - first + 1}
            )
    return sorted(runs, key=lambda r: (-r["frames"], r["person"], r["first"]))
