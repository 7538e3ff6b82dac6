"""Typed results passed between pipeline stages.

These dataclasses are the only things the CLI, GUI, log and report consume, so every stage can
be swapped (geometric estimate today, CNN ensemble tomorrow) without touching its consumers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded image (BGR, uint8) with its time in seconds from the start of the source."""

    image: np.ndarray
    timestamp_s: float
    index: int


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head rotation in degrees. yaw > 0: face turned toward the image's right;
    pitch > 0: face tilted up; roll > 0: head tilted clockwise in the image."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True, slots=True)
class Gaze:
    """Gaze direction in degrees (head pose plus eye-in-head angle from the irises)."""

    yaw: float
    pitch: float
    eye_yaw: float
    eye_pitch: float


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """How usable the face is: inter-ocular distance in pixels, sharpness (variance of the
    Laplacian on the face crop), mean brightness 0..255, and the verdict from the settings."""

    iod_px: float
    sharpness: float
    brightness: float
    usable: bool


@dataclass(frozen=True, slots=True)
class FaceCrops:
    """Aligned crops cut by :func:`drowsy.vision.crops.cut_crops` (BGR, uint8)."""

    left_eye: np.ndarray
    right_eye: np.ndarray
    mouth: np.ndarray
    face: np.ndarray


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """What the face tracker saw in one frame. ``present`` False means no face: the other
    fields are then None (an empty result, not an exception)."""

    present: bool
    landmarks: np.ndarray | None = None  # (478, 3) in pixels (x, y) and relative depth
    bbox: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in pixels
    crops: FaceCrops | None = None
    pose: HeadPose | None = None
    gaze: Gaze | None = None
    quality: FaceQuality | None = None
    ear_left: float | None = None
    ear_right: float | None = None
    mar: float | None = None
    faces_in_frame: int = 0

    @staticmethod
    def empty(faces_in_frame: int = 0) -> FaceObservation:
        return FaceObservation(present=False, faces_in_frame=faces_in_frame)


@dataclass(frozen=True, slots=True)
class StateProbabilities:
    """Per-frame state probabilities and where they came from ("geometric" or a model id)."""

    eye_closed_left: float
    eye_closed_right: float
    yawn: float
    source: str


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per-driver reference learnt in the first seconds of a session: neutral head pose, neutral
    gaze (where "looking at the road" points for this camera placement) and open-eye EAR."""

    neutral_yaw: float = 0.0
    neutral_pitch: float = 0.0
    gaze_yaw: float = 0.0
    gaze_pitch: float = 0.0
    ear_open_left: float | None = None
    ear_open_right: float | None = None
    done: bool = False
    samples: int = 0


@dataclass(frozen=True, slots=True)
class FrameSignals:
    """Everything the alert engine and the temporal model need about one frame."""

    index: int
    timestamp_s: float
    face_present: bool
    usable: bool
    eye_closed_left: float | None
    eye_closed_right: float | None
    yawn: float | None
    ear: float | None
    mar: float | None
    yaw: float | None
    pitch: float | None
    roll: float | None
    gaze_yaw: float | None
    gaze_pitch: float | None
    on_road: bool | None
    iod_px: float | None
    sharpness: float | None
    brightness: float | None
    calibrated: bool
    probability_source: str

    @property
    def eye_closed(self) -> float | None:
        """Closure of both eyes: the mean of the two per-eye probabilities."""
        if self.eye_closed_left is None or self.eye_closed_right is None:
            return None
        return 0.5 * (self.eye_closed_left + self.eye_closed_right)


@dataclass(frozen=True, slots=True)
class DriverState:
    """Output of the temporal model for one step."""

    timestamp_s: float
    drowsiness: float
    distraction: float
    attention: tuple[float, ...] = ()


class AlertKind(StrEnum):
    """What an alert is about; the values are the names in logs, events.json and reports."""

    MICROSLEEP = "microsleep"
    SLEEP = "sleep"
    UNRESPONSIVE = "unresponsive"
    DROWSY_PERCLOS = "drowsy_perclos"
    DROWSY_YAWNS = "drowsy_yawns"
    DROWSY_TEMPORAL = "drowsy_temporal"
    LONG_DISTRACTION = "long_distraction"
    VISUAL_TIME_SHARING = "visual_time_sharing"
    MONITORING_DEGRADED = "monitoring_degraded"


class AlertLevel(StrEnum):
    """How urgent an alert is; ordered (``rank``) so the most severe one drives the banner."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    def raised(self) -> AlertLevel:
        """The next level up (critical stays critical)."""
        order = list(AlertLevel)
        return order[min(self.rank + 1, len(order) - 1)]


_LEVEL_RANK = {AlertLevel.INFO: 0, AlertLevel.WARNING: 1, AlertLevel.CRITICAL: 2}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert at one moment: a snapshot. The engine never changes an alert it has emitted;
    an escalation, a new peak or the end is a new snapshot (``dataclasses.replace`` with new
    dicts), so sinks and the GUI thread may keep and read any snapshot without copying."""

    uid: int
    kind: AlertKind
    level: AlertLevel
    start_s: float
    start_frame: int
    end_s: float | None = None
    peak: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, object] = field(default_factory=dict)
    # when each level it reached began (s, media time): "warning" at the raise, "critical" at
    # the escalation; a log written before version 3 has none
    levels: dict[str, float] = field(default_factory=dict)

    @property
    def level_start_s(self) -> float:
        """When the current level began (the start for an alert that never escalated)."""
        return self.levels.get(str(self.level), self.start_s)

    @property
    def active(self) -> bool:
        return self.end_s is None

    def duration_s(self, now_s: float | None = None) -> float:
        end = self.end_s if self.end_s is not None else now_s
        return 0.0 if end is None else max(0.0, end - self.start_s)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.uid,
            "kind": str(self.kind),
            "level": str(self.level),
            "start_s": round(self.start_s, 3),
            "end_s": None if self.end_s is None else round(self.end_s, 3),
            "duration_s": None if self.end_s is None else round(self.duration_s(), 3),
            "start_frame": self.start_frame,
            "peak": self.peak,
            "evidence": self.evidence,
            "levels": self.levels,
        }


class AlertAction(StrEnum):
    """What happened to an alert on a frame: raised, escalated or ended."""

    RAISED = "raised"
    ESCALATED = "escalated"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """A change to an alert, emitted by the engine so sinks (log, GUI) can act on it at once."""

    action: AlertAction
    alert: Alert


@dataclass(frozen=True, slots=True)
class Episode:
    """A closure or yawn episode (blinks, long blinks and yawns are recorded, not alerted)."""

    kind: str  # "blink", "long_blink", "closure" (>= microsleep length), "yawn"
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s
