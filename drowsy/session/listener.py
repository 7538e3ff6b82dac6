"""What a front end hears from a session, and how a session runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.contracts import AlertUpdate
from drowsy.pipeline import FrameResult


class SessionListener:
    """What a front end hears from a session (all no-ops here). Called on the session's
    thread: the GUI forwards them as queued Qt signals."""

    def opened(self, label: str, live: bool, duration_s: float) -> None: ...

    def info(self, provider: str, models: dict[str, str]) -> None: ...

    def result(self, r: FrameResult) -> None: ...

    def alerts(
        self, updates: list[AlertUpdate], change: BoardChange, board: ActiveAlertBoard
    ) -> None: ...

    def status(self, text: str) -> None: ...

    def source_problem(self, text: str | None) -> None:
        """The source is lost and being retried (text), or is back (None)."""

    def fault(self, text: str | None) -> None:
        """A write is failing (text) or all failed writes have landed (None)."""

    def frame_error(self, text: str) -> None: ...

    def segment(self, start_s: float) -> None:
        """A new stretch begins (after a seek): plots restart."""

    def clip(self, uid: int, path: Path | None, error: str | None) -> None:
        """Alert ``uid``'s event clip was written (``path``) or not (``error``)."""


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How a session runs: pacing, failure policy, outputs, what it keeps, reconnects and
    heartbeats."""

    pace: bool = False  # files at their own pace (times ``Session.speed``); live never waits
    fail_fast: bool = True  # offline: a failed output write ends the session with an error
    images_dir: Path | None = None  # explanation PNGs (analyze)
    frames_csv: Path | None = None
    # offline: every episode and alert in the summary; live keeps aggregates (flat memory)
    keep_episodes: bool = False
    progress: bool = False
    reconnect_s: float = 2.0
    heartbeat_s: float = 5.0
    # recorded video, unpaced: decoding and the face mesh run a few frames ahead, each in a
    # thread of its own (see Session._frames)
    pipelined: bool = True
    # event clips (when settings.clips.enabled): where they go; a shared store (the live
    # clips beside the log) names them by the session's start and keeps them within
    # settings.clips.max_disk_mb
    clips_dir: Path | None = None
    clips_shared: bool = False
