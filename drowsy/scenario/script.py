"""Scenario scripts: what the rendered driver does and when, and the alerts that must follow.

A script is a small JSON file::

    {"fps": 15, "size": [640, 480], "duration_s": 90, "noise_sigma": 2.5,
     "portrait": null,
     "events": [{"kind": "closure", "start_s": 15.0, "end_s": 16.5}, ...]}

Event kinds: ``blink`` and ``closure`` (eyes shut), ``yawn`` (mouth wide open), ``glance``
(head turned, ``yaw_deg``), ``nod`` (head pitched down, ``pitch_deg``), ``away`` (face out of
the frame), ``lighting`` (brightness times ``gain``). Expected alerts follow from the alert
rules of the settings, so a changed threshold moves the expectation with it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drowsy.errors import UserError
from drowsy.settings import AlertSettings

KINDS = ("blink", "closure", "yawn", "glance", "nod", "away", "lighting")
RAISE_TOLERANCE_S = 0.35  # an alert may fire this long after its rule's exact moment
TEMPORAL_ALLOW_S = 30.0  # the temporal model may flag drowsiness this long after a closure


@dataclass(frozen=True)
class Event:
    """One scripted behaviour of the demo driver (blink, closure, yawn, glance...) from start to
    end."""

    kind: str
    start_s: float
    end_s: float
    yaw_deg: float = 40.0
    pitch_deg: float = -15.0
    gain: float = 0.5

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Script:
    """A demo scenario: its events, duration, frame rate, size and portrait."""

    events: tuple[Event, ...]
    duration_s: float = 90.0
    fps: float = 15.0
    size: tuple[int, int] = (640, 480)
    noise_sigma: float = 2.5
    portrait: str | None = None  # an image file; None: scikit-image's astronaut

    @staticmethod
    def load(path: Path) -> Script:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            events = tuple(Event(**e) for e in data.pop("events"))
            if "size" in data:
                data["size"] = tuple(data["size"])
            script = Script(events=events, **data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise UserError(f"scenario {path}: not a valid script ({exc})") from exc
        script.validate(str(path))
        return script

    def validate(self, origin: str = "scenario") -> None:
        for e in self.events:
            if e.kind not in KINDS:
                raise UserError(f"{origin}: unknown event kind {e.kind!r} (known: {KINDS})")
            if not 0 <= e.start_s < e.end_s <= self.duration_s:
                raise UserError(
                    f"{origin}: event {e.kind} at {e.start_s}-{e.end_s} s is outside "
                    f"0-{self.duration_s} s or ends before it starts"
                )
        if self.fps <= 0 or min(self.size) < 64:
            raise UserError(f"{origin}: fps must be > 0 and the frame at least 64 px")

    def to_json(self) -> str:
        data = asdict(self)
        data["events"] = [asdict(e) for e in self.events]
        return json.dumps(data, indent=2)


@dataclass(frozen=True)
class Expected:
    """An alert the script must raise: its kind and the window its raise time must fall in."""

    kind: str
    earliest_s: float
    latest_s: float
    because: str = ""
    required: bool = True  # False: allowed, not required (a learned model's judgement)


@dataclass
class GroundTruth:
    """What a script must raise: the expected alerts with the time windows the rules allow."""

    events: list[dict] = field(default_factory=list)
    expected_alerts: list[Expected] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {"events": self.events, "expected_alerts": [asdict(e) for e in self.expected_alerts]},
            indent=2,
        )


def expected_alerts(script: Script, rules: AlertSettings) -> GroundTruth:
    """The alerts each scripted event must raise under ``rules`` (and nothing else)."""
    truth = GroundTruth(events=[asdict(e) for e in script.events])
    out = truth.expected_alerts
    tol = RAISE_TOLERANCE_S
    yawns: list[float] = []
    for e in sorted(script.events, key=lambda e: e.start_s):
        what = f"{e.kind} {e.start_s:g}-{e.end_s:g} s"
        if e.kind in ("blink", "closure"):
            if e.duration_s >= rules.microsleep_s:
                t = e.start_s + rules.microsleep_s
                out.append(Expected("microsleep", t, t + tol, what))
            if e.duration_s >= rules.sleep_s:
                t = e.start_s + rules.sleep_s
                out.append(Expected("sleep", t, t + tol, what))
            if e.duration_s >= rules.unresponsive_s:
                t = e.start_s + rules.unresponsive_s
                out.append(Expected("unresponsive", t, t + tol, what))
            if e.duration_s >= rules.microsleep_s:
                # a closure this long is drowsiness evidence: the temporal model may say so
                # within its window (20 s) plus its hold time, but the script cannot demand it
                out.append(
                    Expected(
                        "drowsy_temporal",
                        e.start_s,
                        e.end_s + TEMPORAL_ALLOW_S,
                        what,
                        required=False,
                    )
                )
        elif e.kind in ("glance", "nod"):
            if e.duration_s >= rules.distraction_s + 0.3:  # + the head's turning time
                t = e.start_s + rules.distraction_s
                out.append(Expected("long_distraction", t, t + 0.3 + tol, what))
        elif e.kind == "yawn" and e.duration_s >= rules.yawn_min_s + 0.5:
            yawns.append(e.start_s)
            recent = [s for s in yawns if s > e.start_s - rules.yawn_window_s]
            if len(recent) == rules.yawn_count:
                t = e.start_s + rules.yawn_min_s
                out.append(Expected("drowsy_yawns", t, t + 0.5 + tol, what))
        elif e.kind == "away" and e.duration_s >= rules.degraded_s + 1.0:
            t = e.start_s + rules.degraded_s  # the face is gone within ~0.5 s of the start
            out.append(Expected("monitoring_degraded", t, t + 1.0 + tol, what))
    return truth


def _blinks(times: list[float], length: float = 0.2) -> list[Event]:
    return [Event("blink", t, t + length) for t in times]


DEFAULT = Script(
    duration_s=92.0,
    events=tuple(
        sorted(
            [
                *_blinks([3.0, 6.5, 10.0, 13.0]),
                Event("closure", 15.0, 16.5),  # microsleep
                *_blinks([19.5, 23.0]),
                Event("glance", 26.0, 30.0, yaw_deg=40.0),  # long distraction
                Event("yawn", 33.0, 36.0),
                *_blinks([38.5]),
                Event("yawn", 40.0, 43.0),
                Event("yawn", 46.0, 49.0),  # third yawn in 5 min: drowsy (yawns)
                *_blinks([51.5]),
                Event("closure", 54.0, 58.0),  # microsleep, then sleep
                *_blinks([61.0]),
                Event("nod", 63.0, 64.2, pitch_deg=-12.0),  # short: nothing
                Event("away", 67.0, 79.5),  # monitoring degraded
                *_blinks([82.0]),
                Event("lighting", 84.0, 88.0, gain=0.55),  # dim: nothing
                *_blinks([86.0, 89.5]),
            ],
            key=lambda e: e.start_s,
        )
    ),
)
