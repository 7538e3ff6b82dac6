"""Reading one video's ``analyze`` outputs back, with clear errors for folders that are not."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drowsy.errors import UserError
from drowsy.summary import SessionSummary

# frames.csv columns drawn in the timeline (numbers; empty cells become NaN)
SIGNALS = (
    "timestamp_s",
    "eye_closed_left",
    "eye_closed_right",
    "perclos",
    "yawn",
    "yaw",
    "pitch",
    "on_road",
    "drowsiness",
    "distraction",
)


@dataclass(frozen=True)
class VideoOutputs:
    """One analysed video: its folder, summary.json, events.json and timeline columns."""

    folder: Path
    summary: SessionSummary
    events: dict
    signals: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return Path(self.summary.source or self.folder.name).name

    @property
    def alerts(self) -> list[dict]:
        return list(self.events.get("alerts", []))


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def _number(text: str) -> float:
    if text == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return {"True": 1.0, "False": 0.0}.get(text, float("nan"))


def read_signals(path: Path) -> dict[str, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in SIGNALS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: not drowsy's frames.csv (no {', '.join(missing)})")
            rows = [[_number(row[c] or "") for c in SIGNALS] for row in reader]
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    table = np.array(rows, dtype=np.float64).reshape(-1, len(SIGNALS))
    return {c: table[:, i] for i, c in enumerate(SIGNALS)}


def load(folder: Path) -> VideoOutputs:
    """The outputs ``analyze`` wrote into ``folder`` (one video's folder)."""
    if not (folder / "summary.json").is_file():
        raise UserError(f"{folder}: not a folder of `drowsy analyze` results (no summary.json)")
    try:
        summary = SessionSummary.from_dict(_json(folder / "summary.json"))
    except TypeError as exc:  # a field of the wrong type
        raise UserError(f"{folder / 'summary.json'}: not drowsy's summary ({exc})") from exc
    events = _json(folder / "events.json") if (folder / "events.json").is_file() else {}
    frames = folder / "frames.csv"
    signals = read_signals(frames) if frames.is_file() else {c: np.zeros(0) for c in SIGNALS}
    return VideoOutputs(folder, summary, events, signals)
