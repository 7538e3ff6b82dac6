"""The alert log's tables, and the migrations that bring an older log up to date in place
(each in one transaction: a crash leaves the old version, never half of the new one)."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4
# Version 2: who owns a running session (host, pid and the process's start time, so a reused
# pid is not mistaken for the owner), its status, and a heartbeat (wall clock and the last frame
# time) from which a session whose process died is closed on the next open.
_SESSION_COLUMNS_V2 = {
    "owner": "TEXT",
    "status": "TEXT",
    "last_seen_at": "TEXT",
    "last_frame_s": "REAL",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    settings_json TEXT NOT NULL,
    models_json TEXT NOT NULL,
    summary_json TEXT,
    owner TEXT,
    status TEXT,
    last_seen_at TEXT,
    last_frame_s REAL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL,
    duration_s REAL,
    start_frame INTEGER NOT NULL,
    raised_at TEXT NOT NULL,
    peak_json TEXT NOT NULL,
    evidence_json TEXT NOT NULL,
    levels_json TEXT,
    clip TEXT,
    clip_start_s REAL,
    clip_error TEXT,
    review TEXT,
    review_note TEXT,
    reviewed_at TEXT
);
CREATE TABLE IF NOT EXISTS alert_images (
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    png BLOB NOT NULL,
    PRIMARY KEY (alert_id, role)
);
CREATE INDEX IF NOT EXISTS alerts_by_session ON alerts(session_id);
CREATE INDEX IF NOT EXISTS alerts_by_kind ON alerts(kind, level);
"""

REQUIRED_TABLES = {"meta", "sessions", "alerts", "alert_images"}

# Version 3: when each level of an alert began. Version 4: each alert's event clip (its file
# or why there is none) and its review (confirmed / false_alarm, a note, when).
_ALERT_COLUMNS = {
    "levels_json": "TEXT",
    "clip": "TEXT",
    "clip_start_s": "REAL",
    "clip_error": "TEXT",
    "review": "TEXT",
    "review_note": "TEXT",
    "reviewed_at": "TEXT",
}


def migrate(db: sqlite3.Connection) -> None:
    """Version 1 logs gain the session ownership columns (old rows: status unknown); older
    logs gain the alert columns added since (old rows: none)."""
    have = {r[1] for r in db.execute("PRAGMA table_info(sessions)")}
    missing = {c: t for c, t in _SESSION_COLUMNS_V2.items() if c not in have}
    statements = "".join(f"ALTER TABLE sessions ADD COLUMN {c} {t};" for c, t in missing.items())
    have = {r[1] for r in db.execute("PRAGMA table_info(alerts)")}
    statements += "".join(
        f"ALTER TABLE alerts ADD COLUMN {c} {t};"
        for c, t in _ALERT_COLUMNS.items()
        if c not in have
    )
    if not statements:
        return
    if missing:  # version 1 had no status: an ended session is taken as finished
        statements += "UPDATE sessions SET status='finished' WHERE ended_at IS NOT NULL;"
    db.executescript(
        f"BEGIN;{statements}"
        f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
    )
