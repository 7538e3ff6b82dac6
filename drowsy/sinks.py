"""Where pipeline results go: the alert log and the per-frame CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

import cv2

from drowsy.alertlog import AlertLog
from drowsy.contracts import AlertAction, AlertUpdate
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
    """Streams one row per frame, flushed as it goes (a crash keeps the rows written)."""

    def __init__(self, path: Path) -> None:
        self._fh: TextIO = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._fh)
        self._writer.writerow(FRAME_COLUMNS)
        self.rows = 0

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
            raised,
        )
        self._writer.writerow([_fmt(v) for v in values])
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class LogSink:
    """Commits every alert change to the log the moment the engine reports it."""

    def __init__(self, log: AlertLog, session_id: int, snapshots: bool = False) -> None:
        self.log = log
        self.session_id = session_id
        self.snapshots = snapshots
        self.ids: dict[int, int] = {}  # engine alert uid -> log row id

    def handle(
        self,
        updates: list[AlertUpdate],
        result: FrameResult | None = None,
        explanations: dict[int, Explanation] | None = None,
    ) -> None:
        if explanations is None:
            explanations = result.explanations if result else {}
        for u in updates:
            row = self.log.record(self.session_id, u.alert, self.ids.get(u.alert.uid))
            self.ids[u.alert.uid] = row
            obs = result.observation if result else None
            if u.action is AlertAction.RAISED and self.snapshots and obs and obs.crops:
                self.log.add_image(row, "snapshot", png_bytes(obs.crops.face))
            exp = explanations.get(u.alert.uid)
            if exp is not None:
                for role, image in exp.images.items():
                    self.log.add_image(row, role, png_bytes(image))


def png_bytes(image) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("image could not be encoded as PNG")
    return buf.tobytes()
