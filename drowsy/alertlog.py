"""Durable alert log: SQLite in WAL mode, one commit per alert change.

An alert is committed the moment it is raised and updated when it escalates or ends, so a
killed process (or a car losing power) leaves every alert raised so far on disk. A file that is
not our database is reported and never overwritten.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from drowsy.contracts import Alert
from drowsy.errors import LogError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    settings_json TEXT NOT NULL,
    models_json TEXT NOT NULL,
    summary_json TEXT
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
    evidence_json TEXT NOT NULL
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

_REQUIRED_TABLES = {"meta", "sessions", "alerts", "alert_images"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    session: int | None = None
    kind: str | None = None
    level: str | None = None
    since: str | None = None  # ISO date/time on raised_at
    until: str | None = None


class AlertLog:
    """Open (or create) the log at ``path``; use as a context manager."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise LogError(f"alert log {self.path}: no such file")
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode={'ro' if readonly else 'rwc'}"
            self._db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise LogError(f"alert log {self.path}: cannot open ({exc})") from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._check_and_init(readonly)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise LogError(
                f"alert log {self.path} is not a readable drowsy log ({exc}); it was left "
                "untouched: move it aside or choose another file with --log"
            ) from exc

    def _check_and_init(self, readonly: bool) -> None:
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and not tables >= _REQUIRED_TABLES:
            raise sqlite3.DatabaseError(f"unexpected tables {sorted(tables)}")
        if readonly:
            return
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        if not tables:  # one transaction: a crash here leaves an empty file, not half a schema
            db.executescript(
                f"BEGIN;{_SCHEMA}INSERT OR REPLACE INTO meta VALUES "
                f"('schema_version', '{SCHEMA_VERSION}');COMMIT;"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AlertLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- writes
    def _write(self, sql: str, params: tuple) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)  # autocommit: each statement is durable
        except sqlite3.Error as exc:
            raise LogError(f"alert log {self.path}: write failed ({exc})") from exc

    def start_session(self, source: str, settings: dict, models: dict) -> int:
        cur = self._write(
            "INSERT INTO sessions (source, started_at, settings_json, models_json)"
            " VALUES (?,?,?,?)",
            (source, _now(), json.dumps(settings), json.dumps(models)),
        )
        return int(cur.lastrowid)

    def end_session(self, session_id: int, summary: dict | None = None) -> None:
        self._write(
            "UPDATE sessions SET ended_at=?, summary_json=? WHERE id=?",
            (_now(), json.dumps(summary) if summary is not None else None, session_id),
        )

    def record(self, session_id: int, alert: Alert, log_id: int | None = None) -> int:
        """Insert a new alert (``log_id`` None) or update an existing row; returns its id."""
        values = (
            str(alert.level),
            alert.end_s,
            None if alert.end_s is None else alert.duration_s(),
            json.dumps(alert.peak),
            json.dumps(alert.evidence),
        )
        if log_id is None:
            cur = self._write(
                "INSERT INTO alerts (session_id, kind, start_s, start_frame, raised_at, level,"
                " end_s, duration_s, peak_json, evidence_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (session_id, str(alert.kind), alert.start_s, alert.start_frame, _now(), *values),
            )
            return int(cur.lastrowid)
        self._write(
            "UPDATE alerts SET level=?, end_s=?, duration_s=?, peak_json=?, evidence_json=?"
            " WHERE id=?",
            (*values, log_id),
        )
        return log_id

    def add_image(self, alert_id: int, role: str, png: bytes) -> None:
        self._write("INSERT OR REPLACE INTO alert_images VALUES (?,?,?)", (alert_id, role, png))

    # ------------------------------------------------------------------------------ reads
    def sessions(self) -> list[dict]:
        rows = self._db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM alerts a WHERE a.session_id=s.id) AS alerts"
            " FROM sessions s ORDER BY s.id"
        )
        return [dict(r) for r in rows]

    def alerts(self, flt: AlertFilter | None = None) -> list[dict]:
        flt = flt or AlertFilter()
        where, params = [], []
        for column, value, op in (
            ("session_id", flt.session, "="),
            ("kind", flt.kind, "="),
            ("level", flt.level, "="),
            ("raised_at", flt.since, ">="),
            ("raised_at", flt.until, "<="),
        ):
            if value is not None:
                where.append(f"a.{column} {op} ?")
                params.append(value)
        sql = (
            "SELECT a.*, s.source, (SELECT COUNT(*) FROM alert_images i WHERE i.alert_id=a.id)"
            " AS images FROM alerts a JOIN sessions s ON s.id=a.session_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(sql + " ORDER BY a.id", params)
        return [_decode(dict(r)) for r in rows]

    def alert(self, alert_id: int) -> dict | None:
        row = self._db.execute(
            "SELECT a.*, s.source FROM alerts a JOIN sessions s ON s.id=a.session_id WHERE a.id=?",
            (alert_id,),
        ).fetchone()
        if row is None:
            return None
        out = _decode(dict(row))
        out["images"] = {
            r["role"]: r["png"]
            for r in self._db.execute(
                "SELECT role, png FROM alert_images WHERE alert_id=?", (alert_id,)
            )
        }
        return out


def _decode(row: dict) -> dict:
    row["peak"] = json.loads(row.pop("peak_json"))
    row["evidence"] = json.loads(row.pop("evidence_json"))
    return row


EXPORT_COLUMNS = (
    "id",
    "session_id",
    "source",
    "kind",
    "level",
    "start_s",
    "end_s",
    "duration_s",
    "start_frame",
    "raised_at",
    "peak",
    "evidence",
)


def export_alerts(rows: Iterable[dict], fmt: str) -> str:
    """Alerts as CSV (peak/evidence as JSON text) or as a JSON array."""
    rows = [{k: r.get(k) for k in EXPORT_COLUMNS} for r in rows]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "peak": json.dumps(r["peak"]), "evidence": json.dumps(r["evidence"])})
    return buf.getvalue()
