"""FL3D night drivers as videos: each driver's frames in frame-number order, timed by their
numbers at 30 fps, and the stretches a temporal model should alert on.

FL3D keeps every 3rd frame of the alert stretches and every frame of the microsleep and
yawning stretches, so timing by frame number (not by count) gives the real clock: alert
stretches play at 10 fps, the drowsy ones at 30. Used by ``benchmarks/fl3d_videos.py`` (the
whole runtime on the drivers) and :mod:`training.temporal.real` (the temporal model's real
sequences). Torch-free.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drowsy.contracts import Frame

FPS = 30.0
CLASSES = ("alert", "microsleep", "yawning")
NAME = re.compile(r"^(?P<driver>P\d+).*?__frame(?P<frame>\d+)$")
STRETCH_GAP_S = 10.0  # drowsy frames closer than this are one stretch
AFTER_S = 5.0  # an alert this long after a stretch's last frame still counts for it


@dataclass
class DriverFrames:
    driver: str
    numbers: list[int]
    labels: list[str]  # alert / microsleep / yawning
    paths: list[Path]

    def video(self) -> Iterator[tuple[Frame, str]]:
        """The driver's frames as a camera would deliver them (one size: the first frame's),
        each with its label."""
        first = cv2.imread(str(self.paths[0]))
        if first is None:
            raise OSError(f"{self.paths[0]}: not an image")
        h, w = first.shape[:2]
        for idx, (n, lab, p) in enumerate(zip(self.numbers, self.labels, self.paths, strict=True)):
            img = cv2.imread(str(p))
            if img is None:
                raise OSError(f"{p}: not an image")
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            yield Frame(img, n / FPS, idx), lab

    def stretches(self) -> list[tuple[float, float]]:
        return drowsy_stretches(self.numbers, self.labels)


def driver_frames(root: Path) -> dict[str, DriverFrames]:
    rows = defaultdict(list)
    for cls in CLASSES:
        for p in (root / cls).glob("*.jpg"):
            m = NAME.match(p.stem)
            if m:
                rows[m["driver"]].append((int(m["frame"]), cls, p))
    out = {}
    for d, r in sorted(rows.items()):
        r.sort()
        out[d] = DriverFrames(d, [x[0] for x in r], [x[1] for x in r], [x[2] for x in r])
    return out


def consecutive_runs(numbers: list[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive frame numbers (``numbers`` sorted, unique)."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def closures(numbers: list[int], labels: list[str]) -> list[tuple[int, int]]:
    """(first, last) frame numbers of each run of consecutive microsleep frames."""
    return consecutive_runs(
        [n for n, lab in zip(numbers, labels, strict=True) if lab == "microsleep"]
    )


def drowsy_stretches(
    numbers: list[int], labels: list[str], gap_s: float = STRETCH_GAP_S
) -> list[tuple[float, float]]:
    """(start, end) seconds of each drowsy stretch: microsleep and yawning frames, merged where
    less than ``gap_s`` apart. What the temporal model should alert on; the rest of the video
    (alert frames) it should not."""
    times = [n / FPS for n, lab in zip(numbers, labels, strict=True) if lab != "alert"]
    out: list[list[float]] = []
    for t in times:
        if out and t - out[-1][1] < gap_s:
            out[-1][1] = t
        else:
            out.append([t, t])
    return [(a, b) for a, b in out]


def temporal_scores(
    raised: list[float], stretches: list[tuple[float, float]], after_s: float = AFTER_S
) -> dict:
    """Recall over drowsy stretches (an alert from its start to ``after_s`` past its end), the
    delay from the stretch's start, and the alerts outside every stretch (false)."""
    hits, delays = 0, []
    for a, b in stretches:
        got = [s for s in raised if a <= s <= b + after_s]
        if got:
            hits += 1
            delays.append(min(got) - a)
    false = [s for s in raised if not any(a <= s <= b + after_s for a, b in stretches)]
    return {
        "temporal_stretches": len(stretches),
        "temporal_hits": hits,
        "temporal_recall": hits / len(stretches) if stretches else None,
        "temporal_delays_s": delays,
        "temporal_delay_s_median": float(np.median(delays)) if delays else None,
        "temporal_false_alerts": len(false),
    }
