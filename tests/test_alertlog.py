from __future__ import annotations

import json
import sqlite3

import pytest

from drowsy.alertlog import AlertFilter, AlertLog, export_alerts
from drowsy.contracts import Alert, AlertKind, AlertLevel
from drowsy.errors import LogError


def make_alert(uid, kind=AlertKind.MICROSLEEP, level=AlertLevel.WARNING, start=1.0):
    return Alert(uid, kind, level, start, int(start * 10), peak={"closure_s": 1.0})


def test_alerts_are_committed_when_raised_and_updated_when_they_end(tmp_path):
    path = tmp_path / "log.sqlite"
    with AlertLog(path) as log:
        assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        session = log.start_session("video.mp4", {"a": 1}, {"state": "geometric"})
        alert = make_alert(1)
        row = log.record(session, alert)
        # another connection sees it at once: it is on disk, not in a pending transaction
        other = sqlite3.connect(path)
        assert other.execute("SELECT kind, end_s FROM alerts").fetchall() == [("microsleep", None)]
        alert.end_s, alert.level = 2.5, AlertLevel.CRITICAL
        alert.evidence["closure_start_s"] = 0.0
        assert log.record(session, alert, row) == row
        got = log.alert(row)
        assert got["level"] == "critical" and got["duration_s"] == pytest.approx(1.5)
        assert got["evidence"] == {"closure_start_s": 0.0}
        log.add_image(row, "snapshot", b"\x89PNG fake")
        assert log.alert(row)["images"] == {"snapshot": b"\x89PNG fake"}
        other.close()


def test_filters_and_export(tmp_path):
    with AlertLog(tmp_path / "log.sqlite") as log:
        s1 = log.start_session("a.mp4", {}, {})
        s2 = log.start_session("b.mp4", {}, {})
        log.record(s1, make_alert(1))
        log.record(s1, make_alert(2, AlertKind.SLEEP, AlertLevel.CRITICAL, 4.0))
        log.record(s2, make_alert(3, AlertKind.LONG_DISTRACTION))
        assert len(log.alerts()) == 3
        assert [a["kind"] for a in log.alerts(AlertFilter(session=s1))] == ["microsleep", "sleep"]
        assert [a["kind"] for a in log.alerts(AlertFilter(level="critical"))] == ["sleep"]
        assert [a["source"] for a in log.alerts(AlertFilter(kind="long_distraction"))] == ["b.mp4"]
        assert log.alerts(AlertFilter(since="2999-01-01")) == []
        assert len(log.alerts(AlertFilter(until="2999-01-01"))) == 3
        rows = log.alerts()
    as_json = json.loads(export_alerts(rows, "json"))
    assert [r["kind"] for r in as_json] == ["microsleep", "sleep", "long_distraction"]
    lines = export_alerts(rows, "csv").strip().splitlines()
    assert lines[0].startswith("id,session_id,source,kind,level")
    assert len(lines) == 4


def test_corrupt_log_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "log.sqlite"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(LogError, match="not a readable drowsy log"):
        AlertLog(path)
    assert path.read_bytes() == garbage


def test_foreign_sqlite_database_is_not_adopted(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(LogError, match="unexpected tables"):
        AlertLog(path)


def test_readonly_open_of_a_missing_log(tmp_path):
    with pytest.raises(LogError, match="no such file"):
        AlertLog(tmp_path / "missing.sqlite", readonly=True)


def test_unwritable_log_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LogError, match="cannot open"):
        AlertLog(blocker / "log.sqlite")
