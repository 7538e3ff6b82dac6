"""The writers write exactly the fields docs/schemas.md documents (and the version it names)."""

from __future__ import annotations

import csv
import json
import re

from drowsy.analyze import OUTPUT_SCHEMA_VERSION
from drowsy.cli import main
from tests.helpers import ROOT

DOC = (ROOT / "docs" / "schemas.md").read_text()


def documented(heading: str, table: int = 0) -> set[str]:
    """The backticked names in the first column of the ``table``-th table under ``heading``."""
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    tables: list[list[str]] = []
    previous_was_row = False
    for line in section.splitlines():
        row = line.startswith("|")
        if row and not previous_was_row:
            tables.append([])
        if row:
            tables[-1].append(line)
        previous_was_row = row
    return {m.group(1) for line in tables[table] if (m := re.match(r"\|\s*`([^`]+)`", line))}


def test_analyze_outputs_match_the_documented_schemas(tmp_path, face_video):
    out = tmp_path / "out"
    assert (
        main(["analyze", str(face_video), "--out", str(out), "--log", str(tmp_path / "l.db")]) == 0
    )
    folder = out / face_video.stem
    with (folder / "frames.csv").open() as fh:
        header = next(csv.reader(fh))
    assert set(header) == documented("frames.csv") and len(header) == len(set(header))
    summary = json.loads((folder / "summary.json").read_text())
    optional = {"stop_reason", "log_failure"}  # present only when they apply
    assert set(summary) <= documented("summary.json")
    assert documented("summary.json") - set(summary) <= optional
    events = json.loads((folder / "events.json").read_text())
    assert set(events) == documented("events.json", 0)
    assert events["alerts"], "the face video raises a microsleep"
    assert set(events["alerts"][0]) == documented("events.json", 1)
    assert set(events["episodes"][0]) == documented("events.json", 2)
    assert summary["schema_version"] == events["schema_version"] == OUTPUT_SCHEMA_VERSION
    assert f"# Output schemas, version {OUTPUT_SCHEMA_VERSION}" in DOC

    from drowsy.contracts import AlertKind
    from drowsy.fleet import FleetResult, FleetVideo, event_rows, video_row
    from drowsy.summary import SessionSummary

    typed = SessionSummary.from_dict(summary)
    assert typed.to_dict() == summary  # the one schema reads back what it wrote
    result = FleetResult(FleetVideo(face_video, "a/face.avi", folder), "finished", typed, None, 1)
    kinds = {f"alerts_{k.value}" for k in AlertKind}
    assert (
        set(video_row(result)) == (documented("fleet/videos.parquet") - {"alerts_<kind>"}) | kinds
    )
    assert set(event_rows(result)[0]) == documented("fleet/events.parquet")


def test_a_fleet_video_imported_into_the_log_keeps_its_analysis_times(tmp_path, face_video):
    """Before: imported sessions had start = end = raised_at = the moment of the import."""
    from drowsy.alertlog import AlertLog
    from drowsy.fleet import FleetResult, FleetVideo, import_into_log

    out = tmp_path / "out"
    assert (
        main(["analyze", str(face_video), "--out", str(out), "--log", str(tmp_path / "a.db")]) == 0
    )
    folder = out / face_video.stem
    summary = json.loads((folder / "summary.json").read_text())
    summary["started_at"], summary["ended_at"] = (
        "2026-01-02T03:04:05+00:00",
        "2026-01-02T03:04:30+00:00",
    )
    summary["realtime_factor"] = 2.0
    from drowsy.summary import SessionSummary

    typed = SessionSummary.from_dict(summary)
    result = FleetResult(FleetVideo(face_video, "a/face.avi", folder), "finished", typed)
    with AlertLog(tmp_path / "fleet.db") as log:
        sid = import_into_log(log, result)
        session = log.session(sid)
        alert = log.alerts()[0]
    assert session.started_at == "2026-01-02T03:04:05+00:00"
    assert session.ended_at == "2026-01-02T03:04:30+00:00"
    # raised when the analysis (at 2x real time) reached the alert's media time
    start = alert.start_s
    assert alert.raised_at == f"2026-01-02T03:04:{5 + int(start / 2):02d}+00:00"
