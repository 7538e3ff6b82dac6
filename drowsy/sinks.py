"""Where pipeline results go: the alert log and the per-frame CSV."""

from __future__ import annotations

import csv
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import cv2

from drowsy.alertlog import AlertLog
from drowsy.contracts import Alert, AlertAction, AlertUpdate
from drowsy.errors import LogError
from drowsy.inference.explain import Explanation
from drowsy.pipeline import FrameResult

FRAME_COLUMNS = (
    "index",
    "timestamp_s",
    "face_present",
    "usable",
    "eye_closed_left",
    "eye_closed_right",
    "eye_closed",
    "yawn",
    "ear",
    "mar",
    "yaw",
    "pitch",
    "roll",
    "gaze_yaw",
    "gaze_pitch",
    "on_road",
    "iod_px",
    "sharpness",
    "brightness",
    "calibrated",
    "probability_source",
    "perclos",
    "closure_s",
    "off_road_s",
    "vats_off_road_s",
    "no_face_s",
    "drowsiness",
    "distraction",
    "temporal_withheld",
    "alerts_raised",
)


def _fmt(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


class FramesCsv:
    """Streams one row per frame, flushed to the OS at least every ``FLUSH_S`` seconds, so a
    crash loses at most that much of the file (flushing every row costs a system call per
    frame)."""

    FLUSH_S = 1.0

    def __init__(self, path: Path) -> None:
        self._fh: TextIO = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._fh)
        self._writer.writerow(FRAME_COLUMNS)
        self.rows = 0
        self._next_flush = time.monotonic() + self.FLUSH_S

    def write(self, r: FrameResult) -> None:
        s, st = r.signals, r.status
        raised = ";".join(str(u.alert.kind) for u in r.updates if u.action is AlertAction.RAISED)
        values = (
            s.index,
            s.timestamp_s,
            s.face_present,
            s.usable,
            s.eye_closed_left,
            s.eye_closed_right,
            s.eye_closed,
            s.yawn,
            s.ear,
            s.mar,
            s.yaw,
            s.pitch,
            s.roll,
            s.gaze_yaw,
            s.gaze_pitch,
            s.on_road,
            s.iod_px,
            s.sharpness,
            s.brightness,
            s.calibrated,
            s.probability_source,
            st.perclos,
            st.closure_s,
            st.off_road_s,
            st.vats_off_road_s,
            st.no_face_s,
            None if r.state is None else r.state.drowsiness,
            None if r.state is None else r.state.distraction,
            r.temporal_withheld,
            raised,
        )
        self._writer.writerow([_fmt(v) for v in values])
        self.rows += 1
        now = time.monotonic()
        if now >= self._next_flush:
            self._fh.flush()
            self._next_flush = now + self.FLUSH_S

    def close(self) -> None:
        self._fh.close()


@dataclass(frozen=True, slots=True)
class _Pending:
    """One write waiting for the log: an alert change (a snapshot of the alert) or an image."""

    uid: int
    alert: Alert | None = None
    role: str = ""
    png: bytes = b""
    clip: tuple[str | None, str | None, float | None] | None = None  # its clip: file, error, start


class LogSink:
    """Commits every alert change to the log the moment the engine reports it.

    A failing disk never stops monitoring: a write that fails is kept in memory (bounded; the
    oldest images go first, alert changes are kept) and retried with the next change or
    ``retry()``; ``failure`` says what is wrong until every queued write has landed."""

    MAX_PENDING = 10_000

    def __init__(
        self,
        log: AlertLog,
        session_id: int | None,
        snapshots: bool = False,
        start_session: Callable[[], int] | None = None,
    ) -> None:
        """``session_id`` None: the session row could not be written yet; ``start_session``
        is retried before the first queued change."""
        self.log = log
        self.session_id = session_id
        self._start_session = start_session
        self.snapshots = snapshots
        self.ids: dict[int, int] = {}  # engine alert uid -> log row id
        self.pending: deque[_Pending] = deque()
        self._ended: set[int] = set()  # uids whose row id can be forgotten once written
        self._awaiting_clip: set[int] = set()  # their clip comes after they end: keep the id
        self.failure: str | None = None
        self._error: str | None = None
        self.dropped_images = 0

    def handle(
        self,
        updates: list[AlertUpdate],
        result: FrameResult | None = None,
        explanations: dict[int, Explanation] | None = None,
    ) -> None:
        if explanations is None:
            explanations = result.explanations if result else {}
        for u in updates:
            self._queue(_Pending(u.alert.uid, alert=u.alert))
            if u.action is AlertAction.ENDED:
                self._ended.add(u.alert.uid)
            obs = result.observation if result else None
            if u.action is AlertAction.RAISED and self.snapshots and obs and obs.crops:
                self._queue(_Pending(u.alert.uid, role="snapshot", png=png_bytes(obs.crops.face)))
            exp = explanations.get(u.alert.uid)
            if exp is not None:
                for role, image in exp.images.items():
                    self._queue(_Pending(u.alert.uid, role=role, png=png_bytes(image)))
        self.retry()

    def expect_clip(self, uid: int) -> None:
        """The alert's clip will be reported (``clip``) after it ends: keep its row id."""
        self._awaiting_clip.add(uid)

    def clip(self, uid: int, path: str | None, error: str | None, start_s: float | None) -> None:
        """The alert's event clip was written (``path``, first frame at ``start_s``) or not
        (``error``)."""
        self._queue(_Pending(uid, clip=(path, error, start_s)))
        self.retry()

    def _queue(self, item: _Pending) -> None:
        self.pending.append(item)
        while len(self.pending) > self.MAX_PENDING:
            image = next((p for p in self.pending if p.alert is None), None)
            if image is None:
                break
            self.pending.remove(image)
            self.dropped_images += 1

    def final_failure(self) -> str | None:
        """At the end of a session (no more retries): what was not logged, or None."""
        if self.failure is None:
            return None
        alerts = {p.uid for p in self.pending if p.alert is not None}
        if self.session_id is None:
            return f"{self._error}; the session and its alerts were not logged"
        return f"{self._error}; {len(alerts)} alert{'s' if len(alerts) != 1 else ''} not logged"

    def retry(self) -> bool:
        """Write what is queued, in order; True when nothing is left."""
        if self.session_id is None and self._start_session is not None:
            try:
                self.session_id = self._start_session()
            except LogError as exc:
                self._error = str(exc)
                self.failure = f"{exc}; alerts are shown but not yet logged, retrying"
                return False
        while self.pending and self.session_id is not None:
            item = self.pending[0]
            try:
                if item.alert is not None:
                    row = self.log.record(self.session_id, item.alert, self.ids.get(item.uid))
                    self.ids[item.uid] = row
                elif item.clip is not None:
                    if item.uid in self.ids:
                        self.log.set_clip(self.ids[item.uid], *item.clip)
                    self._awaiting_clip.discard(item.uid)
                elif item.uid in self.ids:
                    self.log.add_image(self.ids[item.uid], item.role, item.png)
            except LogError as exc:
                n = len(self.pending)
                self._error = str(exc)
                self.failure = f"{exc}; {n} change{'s' if n != 1 else ''} kept in memory, retrying"
                return False
            self.pending.popleft()
        self.failure = self._error = None
        for uid in list(self._ended - self._awaiting_clip):  # a long session keeps flat memory
            self.ids.pop(uid, None)
            self._ended.discard(uid)
        return True


def png_bytes(image) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("image could not be encoded as PNG")
    return buf.tobytes()
