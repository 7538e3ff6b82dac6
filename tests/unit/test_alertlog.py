from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest

from drowsy.alertlog import AlertLog
from drowsy.contracts import Alert, AlertKind, AlertLevel
from drowsy.errors import LogError
from drowsy.logtext import alert_filter, export_alerts


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
        alert = replace(
            alert, end_s=2.5, level=AlertLevel.CRITICAL, evidence={"closure_start_s": 0.0}
        )
        assert log.record(session, alert, row) == row
        got = log.alert(row)
        assert got.level == "critical" and got.duration_s == pytest.approx(1.5)
        assert got.evidence == {"closure_start_s": 0.0}
        log.add_image(row, "snapshot", b"\x89PNG fake")
        assert log.images(row) == {"snapshot": b"\x89PNG fake"}
        assert log.alert(row).images == 1
        other.close()


def test_filters_and_export(tmp_path):
    with AlertLog(tmp_path / "log.sqlite") as log:
        s1 = log.start_session("a.mp4", {}, {})
        s2 = log.start_session("b.mp4", {}, {})
        log.record(s1, make_alert(1))
        log.record(s1, make_alert(2, AlertKind.SLEEP, AlertLevel.CRITICAL, 4.0))
        log.record(s2, make_alert(3, AlertKind.LONG_DISTRACTION))
        assert len(log.alerts()) == 3
        assert [a.kind for a in log.alerts(alert_filter(session=s1))] == ["microsleep", "sleep"]
        assert [a.kind for a in log.alerts(alert_filter(level="critical"))] == ["sleep"]
        assert [a.source for a in log.alerts(alert_filter(kind="long_distraction"))] == ["b.mp4"]
        assert log.alerts(alert_filter(since="2999-01-01")) == []
        assert len(log.alerts(alert_filter(until="2999-01-01"))) == 3
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


def _raised_at(path, values):
    con = sqlite3.connect(path)
    for i, at in enumerate(values, start=1):
        con.execute("UPDATE alerts SET raised_at=? WHERE id=?", (at, i))
    con.commit()


def test_time_filters_compare_moments_not_text(tmp_path):
    """Before: `--until 2026-11-28` left out that day and `--since "2026-11-28 23:59"`
    returned alerts from 20:23 (text comparison); a bad date matched nothing silently."""
    from drowsy.errors import UserError

    path = tmp_path / "log.sqlite"
    with AlertLog(path) as log:
        sid = log.start_session("v", {}, {})
        for uid in (1, 2, 3):
            log.record(sid, make_alert(uid, start=float(uid)))
    _raised_at(
        path,
        ["2026-11-27T23:00:00+00:00", "2026-11-28T20:23:00+00:00", "2026-11-29T00:00:00+00:00"],
    )
    with AlertLog(path) as log:

        def ids(**kw):
            return [a.id for a in log.alerts(alert_filter(**kw))]

        assert ids(until="2026-11-28") == [1, 2]
        assert ids(since="2026-11-28", until="2026-11-28") == [2]
        assert ids(since="2026-11-28 23:59") == [3]
        assert ids(since="2026-11-28T20:23") == [2, 3]
        assert ids(until="2026-11-28T20:23") == [1, 2]  # that whole minute
        assert ids(since="2026-11-28T21:00:00+01:00") == [2, 3]  # 20:00 UTC
    for bad in ("notadate", "2026-13-01", "yesterday"):
        with pytest.raises(UserError, match="YYYY-MM-DD"):
            alert_filter(since=bad)
    with pytest.raises(UserError, match="kinds: microsleep, sleep"):
        alert_filter(kind="nonsense")


def test_version_1_logs_are_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, source TEXT NOT NULL,
          started_at TEXT NOT NULL, ended_at TEXT, settings_json TEXT NOT NULL,
          models_json TEXT NOT NULL, summary_json TEXT);
        CREATE TABLE alerts (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, kind TEXT NOT
          NULL, level TEXT NOT NULL, start_s REAL NOT NULL, end_s REAL, duration_s REAL,
          start_frame INTEGER NOT NULL, raised_at TEXT NOT NULL, peak_json TEXT NOT NULL,
          evidence_json TEXT NOT NULL);
        CREATE TABLE alert_images (alert_id INTEGER NOT NULL, role TEXT NOT NULL, png BLOB NOT
          NULL, PRIMARY KEY (alert_id, role));
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO sessions VALUES (1, 'a.avi', '2026-11-01T10:00:00+00:00',
          '2026-11-01T10:05:00+00:00', '{}', '{}', NULL);
        INSERT INTO sessions VALUES (2, 'b.avi', '2026-11-01T11:00:00+00:00', NULL, '{}', '{}',
          NULL);"""
    )
    con.commit()
    con.close()
    with AlertLog(path) as log:
        status = {s.id: s.status for s in log.sessions()}
        assert log.recovered == [2]  # no owner recorded: its process cannot be running
        alert = replace(make_alert(1), levels={"warning": 1.0, "critical": 6.0})
        assert log.alert(log.record(1, alert)).levels == {"warning": 1.0, "critical": 6.0}
    assert status == {1: "finished", 2: "interrupted"}


def test_the_time_each_level_began_is_logged_and_exported(tmp_path):
    """Before: the log kept the level but not when an escalation happened."""
    with AlertLog(tmp_path / "log.sqlite") as log:
        session = log.start_session("v.mp4", {}, {})
        alert = replace(make_alert(1, start=20.93), levels={"warning": 20.93})
        row = log.record(session, alert)
        levels = {**alert.levels, "critical": 25.9}
        log.record(session, replace(alert, level=AlertLevel.CRITICAL, levels=levels), row)
        got = log.alert(row)
        assert got.levels == {"warning": 20.93, "critical": 25.9}
        exported = export_alerts(log.alerts(alert_filter()), "csv")
    assert '"{""warning"": 20.93, ""critical"": 25.9}"' in exported


def test_version_3_logs_gain_clips_and_reviews_and_keep_their_statuses(tmp_path):
    """Before: every migration re-marked ended sessions 'finished', interrupted ones too."""
    from drowsy.alertlog.schema import SCHEMA

    v3 = SCHEMA
    for column in ("clip", "clip_start_s", "clip_error", "review", "review_note", "reviewed_at"):
        v3 = "\n".join(line for line in v3.splitlines() if not line.strip().startswith(column))
    v3 = v3.replace("levels_json TEXT,\n);", "levels_json TEXT\n);")
    path = tmp_path / "v3.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        v3
        + """INSERT INTO meta VALUES ('schema_version', '3');
        INSERT INTO sessions (id, source, started_at, ended_at, settings_json, models_json,
          status) VALUES (1, 'a.avi', '2026-11-01T10:00:00+00:00', '2026-11-01T10:05:00+00:00',
          '{}', '{}', 'interrupted');"""
    )
    con.close()
    with AlertLog(path) as log:
        row = log.record(1, make_alert(1))
        log.set_clip(row, "/clips/1.mp4", None, 0.5)
        log.review(row, "confirmed", "yes")
        got = log.alert(row)
        assert [s.status for s in log.sessions()] == ["interrupted"]
    assert (got.clip, got.clip_start_s, got.review, got.review_note) == (
        "/clips/1.mp4",
        0.5,
        "confirmed",
        "yes",
    )
    with pytest.raises(LogError, match="review must be one of"):
        AlertLog(path).review(row, "maybe")
