"""Typed rows the alert log returns, and the typed filter it takes.

The log speaks in these, never in ``sqlite3.Row`` or loose dicts: a reader names fields the
type checker knows. ``to_dict()`` is the JSON/CSV form the front ends export and print.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REVIEW_LABELS = ("confirmed", "false_alarm")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list. ``since``/``until`` are ISO 8601 UTC moments in the form
    ``raised_at`` is stored in (:func:`drowsy.logtext.alert_filter` makes them from user
    text); ``kind``/``level`` are the enum values."""

    session: int | None = None
    kind: str | None = None
    level: str | None = None
    since: str | None = None
    until: str | None = None
    reviewed: bool | None = None  # True: only reviewed alerts; False: only unreviewed


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One logged alert; ``images`` counts its stored images (their bytes:
    :meth:`AlertLog.images`)."""

    id: int
    session_id: int
    source: str
    kind: str
    level: str
    start_s: float
    end_s: float | None
    duration_s: float | None
    start_frame: int
    raised_at: str
    peak: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)
    images: int = 0
    clip: str | None = None  # the event clip's file (absolute), when one was written
    clip_start_s: float | None = None  # media time of the clip's first frame
    clip_error: str | None = None  # why there is no clip
    review: str | None = None  # confirmed, false_alarm, or None (not reviewed)
    review_note: str | None = None
    reviewed_at: str | None = None

    @property
    def clip_path(self) -> Path | None:
        return None if self.clip is None else Path(self.clip)

    @classmethod
    def from_db(cls, r: sqlite3.Row) -> AlertRow:
        keys = r.keys()
        return cls(
            id=int(r["id"]),
            session_id=int(r["session_id"]),
            source=r["source"],
            kind=r["kind"],
            level=r["level"],
            start_s=r["start_s"],
            end_s=r["end_s"],
            duration_s=r["duration_s"],
            start_frame=int(r["start_frame"]),
            raised_at=r["raised_at"],
            peak=json.loads(r["peak_json"]),
            evidence=json.loads(r["evidence_json"]),
            levels=json.loads(r["levels_json"] or "{}"),
            images=int(r["images"]) if "images" in keys else 0,
            clip=r["clip"],
            clip_start_s=r["clip_start_s"],
            clip_error=r["clip_error"],
            review=r["review"],
            review_note=r["review_note"],
            reviewed_at=r["reviewed_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One logged session with its alert count. ``status``: running, finished, interrupted,
    or ``interrupted?`` (a read-only log holding a session whose process died)."""

    id: int
    source: str
    started_at: str
    ended_at: str | None
    status: str
    alerts: int
    summary: dict[str, Any] | None = None  # the session summary (drowsy.summary), when ended
    last_frame_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
