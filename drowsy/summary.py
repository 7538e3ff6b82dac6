"""The session summary: one typed schema for ``summary.json`` and the log's session summary.

Every writer (the session runner, ``analyze``) builds a :class:`SessionSummary` and every reader
(the console, the monitor, ``--skip-done``, the report, ``fleet``) reads one back with
:meth:`SessionSummary.from_dict`, so a field is named in one place. It sits in the bottom layer
beside the contracts because the report (below the runner) reads it too. The fields are
documented in ``docs/schemas.md`` (``tests/integration/test_schemas.py`` holds them equal).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# keys written only when set (their absence means "did not happen")
_ONLY_WHEN_SET = ("stop_reason", "log_failure")


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What a session did. The first block is every session's; ``schema_version`` to ``log``
    is the provenance ``analyze`` adds (None elsewhere, and then not written)."""

    source: str
    frames: int = 0
    duration_s: float = 0.0
    face_found_rate: float = 0.0
    usable_face_rate: float = 0.0
    blinks: int = 0
    blink_rate_per_min: float | None = None
    mean_blink_duration_s: float | None = None
    long_blinks: int = 0
    yawns: int = 0
    perclos_max: float | None = None
    alerts_by_kind: dict[str, int] = field(default_factory=dict)
    processing_fps: float | None = None
    realtime_factor: float | None = None
    interrupted: bool = False
    stop_reason: str | None = None
    reconnects: int = 0
    seeks: int = 0
    frame_errors: int = 0
    source_rotation_deg: int = 0
    warnings: tuple[str, ...] = ()
    log_failure: str | None = None
    session_id: int | None = None
    source_fps: float | None = None
    skipped_frames: int = 0
    repaired_timestamps: int = 0
    truncated: bool = False
    # provenance: analyze only
    schema_version: int | None = None
    started_at: str | None = None  # ISO 8601 UTC wall clock
    ended_at: str | None = None
    source_sha256: str | None = None
    calibration: dict[str, Any] | None = None
    thresholds: dict[str, float] | None = None
    models: dict[str, str] = field(default_factory=dict)
    probability_source: str | None = None
    execution_provider: str | None = None
    log: str | None = None
    complete: bool = False

    @property
    def alerts_raised(self) -> int:
        return sum(self.alerts_by_kind.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, in field order; provenance only when ``analyze`` set it."""
        provenance = self.schema_version is not None
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "schema_version" and not provenance:
                break
            if f.name in _ONLY_WHEN_SET and not value:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSummary:
        """Read a summary back; unknown keys (a newer writer) are ignored, missing ones take
        their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "warnings" in values:
            values["warnings"] = tuple(values["warnings"])
        values.setdefault("source", "")
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> SessionSummary:
        """``summary.json`` from disk (OSError / ValueError when it is missing or damaged)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a JSON object")
        return cls.from_dict(data)
