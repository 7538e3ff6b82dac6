"""Reviewed event clips as labelled sequences: a fleet's own alerts, confirmed or rejected by
a reviewer (``drowsy log export --reviewed --clips DIR``, format in
:mod:`drowsy.clips.dataset`), read back for training and evaluation.

A confirmed clip is a positive sequence of its alert kind around ``alert_start_s`` to
``alert_end_s``; a false alarm is a hard negative of that kind: frames a rule fired on that a
person says were fine (the examples the shipped models lack most).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drowsy.clips.dataset import FORMAT, VERSION
from drowsy.clips.video import ClipError, read_clip
from training.errors import TrainingError


@dataclass(frozen=True)
class ReviewedClip:
    """One reviewed alert: its frames (BGR) and their times from the clip's start."""

    kind: str
    confirmed: bool
    frames: list[np.ndarray]
    times: list[float]
    alert_start_s: float | None
    alert_end_s: float | None
    note: str | None
    alert_id: int

    def alert_mask(self) -> np.ndarray:
        """Per frame: inside the alert's span (True) or before/after it."""
        t = np.asarray(self.times)
        lo = -np.inf if self.alert_start_s is None else self.alert_start_s
        hi = np.inf if self.alert_end_s is None else self.alert_end_s
        return (t >= lo - 1e-6) & (t <= hi + 1e-6)


def load_reviewed(folder: Path, kind: str | None = None) -> list[ReviewedClip]:
    """Every clip of the export in ``folder`` (only ``kind`` when given); TrainingError when
    it is not such an export or a clip cannot be decoded."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{folder}: not a reviewed-clips export ({exc})") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise TrainingError(f"{folder}: not a {FORMAT} version {VERSION} export")
    out = []
    for e in manifest.get("clips", []):
        if kind is not None and e["kind"] != kind:
            continue
        try:
            video = read_clip(folder / e["file"])
        except ClipError as exc:
            raise TrainingError(str(exc)) from exc
        out.append(
            ReviewedClip(
                kind=e["kind"],
                confirmed=e["label"] == "confirmed",
                frames=video.frames,
                times=video.times,
                alert_start_s=e.get("alert_start_s"),
                alert_end_s=e.get("alert_end_s"),
                note=e.get("note"),
                alert_id=e["alert_id"],
            )
        )
    return out
