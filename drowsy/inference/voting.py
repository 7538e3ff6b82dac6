"""Ensemble voting over member class probabilities. The training package uses these same
functions to report each mode, so the numbers in a model card are the runtime's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

VotingMode = Literal["hard", "soft", "weighted"]
MODES: tuple[VotingMode, ...] = ("hard", "soft", "weighted")


def vote(
    member_probs: Sequence[np.ndarray] | np.ndarray,
    mode: VotingMode | str,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Combine per-member probabilities, each (N, C), into ensemble probabilities (N, C).

    hard: the share of members whose top class is each class (ties split by the mean
    probability, so the result is still a usable score); soft: the mean probability;
    weighted: the weighted mean, weights normalised (from validation accuracy)."""
    probs = np.asarray(member_probs, dtype=np.float64)  # (M, N, C); one copy, no stacking
    if probs.ndim != 3 or probs.shape[0] == 0:
        raise ValueError("vote() needs at least one (N, C) probability array")
    m, _, c = probs.shape
    if mode == "soft":
        return probs.mean(axis=0)
    if mode == "weighted":
        w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (m,) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weighted voting needs {m} non-negative weights, not {weights}")
        return np.tensordot(w / w.sum(), probs, axes=1)
    if mode == "hard":
        counts = np.eye(c)[probs.argmax(axis=2)].sum(axis=0)  # (N, C) votes per class
        # half the mean probability breaks ties but is worth less than one vote: rows sum to 1
        return (counts + 0.5 * probs.mean(axis=0)) / (m + 0.5)
    raise ValueError(f"unknown voting mode {mode!r}; expected one of {MODES}")
