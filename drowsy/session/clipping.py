"""The session's event clips: feeds the recorder from the frame loop and files each finished
clip where the alert is (the summary's alert, the alert log), saying once when one fails."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from drowsy.clips.recorder import ClipRecorder, ClipResult
from drowsy.clips.store import enforce_budget
from drowsy.clips.video import SUFFIX
from drowsy.contracts import Alert, AlertAction, AlertUpdate
from drowsy.pipeline import FrameResult
from drowsy.session.listener import SessionListener
from drowsy.session.logbook import SessionLogbook
from drowsy.session.tally import SessionTally
from drowsy.settings import ClipSettings

log = logging.getLogger(__name__)
# a live session ends without waiting longer than this for clips (the monitor waits 5 s for
# its session thread before it lets go of it)
CLOSE_WAIT_LIVE_S = 4.0


class SessionClips:
    """One session's clips in ``folder``: ``<alert id>-<kind>.mp4`` in a folder of its own
    (analyze); in a ``shared`` store (the live clips beside the log)
    ``<session start>-<alert id>-<kind>.mp4`` within the disk budget. ``live``: a camera (the
    recorder drops frames rather than stall it)."""

    def __init__(
        self,
        settings: ClipSettings,
        folder: Path,
        fps: float,
        live: bool,
        shared: bool,
        tally: SessionTally,
        listener: SessionListener,
    ) -> None:
        self.folder = folder
        self.live = live
        self.tally = tally
        self.listener = listener
        self.logbook: SessionLogbook | None = None
        # to the millisecond: two sessions never share a name (a second run of `drowsy run`)
        self._prefix = datetime.now(UTC).strftime("%Y%m%d-%H%M%S%f")[:-3] + "-" if shared else ""
        self._failed_once = False
        budget = settings.max_disk_mb

        def after_write(path: Path) -> None:
            enforce_budget(folder, budget, keep=path)

        self.recorder = ClipRecorder(
            settings, folder, self.name, fps, live, after_write if shared else None
        )

    def name(self, alert: Alert) -> str:
        return f"{self._prefix}{alert.uid:03d}-{alert.kind}{SUFFIX}"

    def frame(self, r: FrameResult) -> None:
        self.recorder.frame(r.frame.timestamp_s, r.frame.image, r.observation)
        self._collect(self.recorder.results())

    def alerts(self, updates: list[AlertUpdate]) -> None:
        if self.logbook is not None:
            for u in updates:
                if u.action is AlertAction.RAISED:
                    self.logbook.expect_clip(u.alert.uid)
        self.recorder.alerts(updates)

    def seek(self) -> None:
        self.recorder.flush()

    def close(self) -> None:
        self._collect(self.recorder.close(CLOSE_WAIT_LIVE_S if self.live else None))

    def _collect(self, results: list[ClipResult]) -> None:
        for r in results:
            kept = self.tally.alerts.get(r.uid)
            if kept is not None:
                rel = None if r.path is None else f"{self.folder.name}/{r.path.name}"
                span = None if r.path is None else [round(r.start_s, 3), round(r.end_s, 3)]
                kept.update(clip=rel, clip_span_s=span, clip_error=r.error)
            self.listener.clip(r.uid, r.path, r.error)
            if self.logbook is not None:
                path = None if r.path is None else str(r.path)
                self.logbook.clip(r.uid, path, r.error, None if r.path is None else r.start_s)
            if r.error and not self._failed_once:
                self._failed_once = True
                log.warning("clip of alert %d not written: %s", r.uid, r.error)
                self.listener.status(
                    f"clip of alert {r.uid} not written ({r.error}); the alert is kept"
                )
