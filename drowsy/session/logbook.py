"""The session's side of the alert log: opening its session row, logging alert changes,
heartbeats for crash recovery, retrying writes a full disk refused, and closing the session.

A log that fails never stops a live session (``fail_fast`` False): alerts queue in the sink
and land when the disk comes back; the fault is reported through ``on_fault``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drowsy.alertlog import AlertLog
from drowsy.contracts import AlertUpdate
from drowsy.errors import LogError
from drowsy.inference.explain import Explanation
from drowsy.pipeline import FrameResult
from drowsy.sinks import LogSink
from drowsy.summary import SessionSummary


class SessionLogbook:
    """One session's rows in an :class:`AlertLog`."""

    def __init__(
        self,
        db: AlertLog,
        snapshots: bool,
        heartbeat_s: float,
        on_fault: Callable[[str | None], None],
    ) -> None:
        self.db = db
        self.snapshots = snapshots
        self.heartbeat_s = heartbeat_s
        self.on_fault = on_fault
        self.sink: LogSink | None = None
        self._next_heartbeat = 0.0

    @property
    def session_id(self) -> int | None:
        return None if self.sink is None else self.sink.session_id

    def open(self, label: str, settings: dict, models: dict[str, str], fail_fast: bool) -> None:
        def start() -> int:
            return self.db.start_session(label, settings, models)

        try:
            sid: int | None = start()
        except LogError:
            if fail_fast:
                raise
            sid = None
        self.sink = LogSink(self.db, sid, self.snapshots, start_session=start)
        if sid is None:
            self.sink.retry()
            self._report()

    def handle(
        self,
        updates: list[AlertUpdate],
        result: FrameResult | None,
        explanations: dict[int, Explanation],
    ) -> None:
        if self.sink is not None:
            self.sink.handle(updates, result, explanations)
            self._report()

    def expect_clip(self, uid: int) -> None:
        if self.sink is not None:
            self.sink.expect_clip(uid)

    def clip(self, uid: int, path: str | None, error: str | None, start_s: float | None) -> None:
        if self.sink is not None:
            self.sink.clip(uid, path, error, start_s)
            self._report()

    def heartbeat(self, t: float) -> None:
        """Every ``heartbeat_s``: retry queued writes (a disk that came back gets them now) and
        record that the session is alive at media time ``t``."""
        now = time.monotonic()
        if now < self._next_heartbeat or self.sink is None:
            return
        self._next_heartbeat = now + self.heartbeat_s
        self.sink.retry()
        if self.sink.session_id is not None:
            try:
                self.db.heartbeat(self.sink.session_id, t)
            except LogError as exc:
                if not self.sink.failure:
                    self.sink.failure = str(exc)
        self._report()

    def close(self, summary: SessionSummary) -> str | None:
        """Land what is queued and end the session row; returns the failure that remains."""
        if self.sink is None:
            return None
        try:
            self.sink.retry()
            failure = self.sink.final_failure()
            if self.sink.session_id is not None:
                self.db.end_session(
                    self.sink.session_id,
                    summary.to_dict() | {"log_failure": failure} if failure else summary.to_dict(),
                    interrupted=summary.interrupted,
                )
            return failure
        except LogError as exc:
            return str(exc)

    def _report(self) -> None:
        self.on_fault(self.sink.failure if self.sink is not None else None)
