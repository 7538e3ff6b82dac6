"""What the runner counts while a session runs, turned into the typed
:class:`~drowsy.summary.SessionSummary` at its end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from drowsy.alerts.engine import EpisodeStats
from drowsy.contracts import Episode
from drowsy.sources import FrameSource
from drowsy.summary import SessionSummary
from drowsy.vision.pose import CAMERA_ROTATED_ROLL_DEG

ROTATED_MIN_FRAMES = 10  # face frames before a rolled head is called a rotated camera


@dataclass(slots=True)
class SessionTally:
    """What the runner counts while a session runs (mutable, its thread only)."""

    source: str
    session_id: int | None = None
    frames: int = 0
    duration_s: float = 0.0
    face_frames: int = 0
    usable_frames: int = 0
    rolled_frames: int = 0  # face frames with the head rolled beyond CAMERA_ROTATED_ROLL_DEG
    source_rotation_deg: int = 0
    perclos_max: float | None = None
    episode_stats: dict[str, EpisodeStats] = field(default_factory=dict)
    episodes: list[Episode] = field(default_factory=list)
    alerts: dict[int, dict] = field(default_factory=dict)  # live: only the active ones
    alerts_by_kind: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    interrupted: bool = False
    stop_reason: str | None = None
    reconnects: int = 0
    seeks: int = 0
    frame_errors: int = 0
    source_fps: float | None = None
    skipped_frames: int = 0
    repaired_timestamps: int = 0
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    log_failure: str | None = None

    def take_source(self, src: FrameSource) -> None:
        """What reading the source found out (its rate, skipped and repaired frames,
        warnings), and the "camera rotated?" warning when the head was rolled in most face
        frames."""
        stats = src.stats
        self.source_fps = round(src.nominal_fps, 3) if src.nominal_fps else None
        self.skipped_frames += stats.skipped
        self.repaired_timestamps += stats.repaired_timestamps
        self.truncated = self.truncated or stats.truncated
        self.warnings += [w for w in stats.warnings if w not in self.warnings]
        self.source_rotation_deg = stats.rotation_deg
        if self.face_frames >= ROTATED_MIN_FRAMES and self.rolled_frames >= self.face_frames / 2:
            self.warnings.append(
                f"the head is rolled beyond {CAMERA_ROTATED_ROLL_DEG:g} degrees in"
                f" {self.rolled_frames} of {self.face_frames} face frames: camera rotated? Mount"
                " the camera upright (or rotate the video); drowsiness is not scored on such"
                " frames"
            )

    def count(self, kind: str) -> int:
        stats = self.episode_stats.get(kind)
        return stats.count if stats else 0

    def summary(self) -> SessionSummary:
        blinks = self.episode_stats.get("blink")
        minutes = self.duration_s / 60.0
        wall, frames = self.wall_s, self.frames
        return SessionSummary(
            source=self.source,
            frames=frames,
            duration_s=round(self.duration_s, 3),
            face_found_rate=round(self.face_frames / frames, 4) if frames else 0.0,
            usable_face_rate=round(self.usable_frames / frames, 4) if frames else 0.0,
            blinks=self.count("blink"),
            blink_rate_per_min=round(self.count("blink") / minutes, 2) if minutes > 0 else None,
            mean_blink_duration_s=(
                round(blinks.total_s / blinks.count, 4) if blinks and blinks.count else None
            ),
            long_blinks=self.count("long_blink"),
            yawns=self.count("yawn"),
            perclos_max=None if self.perclos_max is None else round(self.perclos_max, 4),
            # the running count: a live session keeps only its active alerts in ``alerts``
            alerts_by_kind=dict(sorted(self.alerts_by_kind.items())),
            processing_fps=round(frames / wall, 2) if wall > 0 else None,
            realtime_factor=round(self.duration_s / wall, 2) if wall > 0 else None,
            interrupted=self.interrupted,
            stop_reason=self.stop_reason,
            reconnects=self.reconnects,
            seeks=self.seeks,
            frame_errors=self.frame_errors,
            source_rotation_deg=self.source_rotation_deg,
            warnings=tuple(self.warnings),
            log_failure=self.log_failure,
            session_id=self.session_id,
            source_fps=self.source_fps,
            skipped_frames=self.skipped_frames,
            repaired_timestamps=self.repaired_timestamps,
            truncated=self.truncated,
        )

    def episodes_dicts(self) -> list[dict]:
        """The episodes as ``events.json`` lists them."""
        return [
            {
                "kind": e.kind,
                "start_s": round(e.start_s, 3),
                "end_s": round(e.end_s, 3),
                "duration_s": round(e.duration_s, 3),
            }
            for e in self.episodes
        ]
