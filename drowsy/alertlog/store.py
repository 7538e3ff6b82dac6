"""Durable alert log: SQLite in WAL mode, one commit per alert change.

An alert is committed the moment it is raised and updated when it escalates or ends, so a
killed process (or a car losing power) leaves every alert raised so far on disk. A file that is
not our database is reported and never overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from drowsy.alertlog.owner import current_owner, owner_alive
from drowsy.alertlog.rows import REVIEW_LABELS, AlertFilter, AlertRow, SessionRow
from drowsy.alertlog.schema import REQUIRED_TABLES, SCHEMA, SCHEMA_VERSION, migrate
from drowsy.contracts import Alert
from drowsy.errors import LogError


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _unwritable_reason(folder: Path) -> str | None:
    """Why nothing can be written in ``folder`` ("read-only filesystem", "permission
    denied"), or None when it looks writable."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only filesystem; reading commands such as `drowsy log list` still work"
    except OSError:
        return None
    return None if os.access(folder, os.W_OK) else "permission denied"


def _row_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote (sqlite3 types it Optional for other statements)."""
    if cur.lastrowid is None:
        raise LogError("the alert log did not return the id of the row it wrote")
    return int(cur.lastrowid)


WAL_WAIT_S = 30.0  # as the connection's busy timeout


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the log to write-ahead logging. Why the loop: switching a new file needs an
    exclusive lock, and SQLite answers "database is locked" at once there instead of waiting
    for its busy timeout, so two processes opening one new log together (``analyze --jobs 2
    --log``) failed one video about once in twenty."""
    deadline = time.monotonic() + WAL_WAIT_S
    while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class AlertLog:
    """Open (or create) the log at ``path``; use as a context manager."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.recovered: list[int] = []
        if readonly and not self.path.exists():
            raise LogError(f"alert log {self.path}: no such file")
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect("ro" if readonly else "rwc")
            self._check_and_init(readonly)
        except sqlite3.OperationalError as exc:
            # a WAL log on a read-only filesystem (or in a folder we may not write) cannot
            # even be read normally: SQLite wants its -shm file. Nobody can write it there,
            # so reading it as immutable is safe
            if not readonly or os.access(self.path.parent, os.W_OK):
                self._close_quietly()
                why = _unwritable_reason(self.path.parent) if not readonly else None
                raise LogError(f"alert log {self.path}: cannot open ({why or exc})") from exc
            self._close_quietly()
            try:
                self._db = self._connect("ro&immutable=1")
                self._check_and_init(readonly)
            except sqlite3.DatabaseError as again:
                self._close_quietly()
                raise LogError(
                    f"alert log {self.path}: cannot be read on this read-only location ({again})"
                ) from again
        except OSError as exc:
            raise LogError(f"alert log {self.path}: cannot open ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise LogError(
                f"alert log {self.path} is not a readable drowsy log ({exc}); it was left "
                "untouched: move it aside or choose another file with --log"
            ) from exc

    def _connect(self, mode: str) -> sqlite3.Connection:
        db = sqlite3.connect(
            f"file:{self.path}?mode={mode}", uri=True, timeout=30.0, isolation_level=None
        )
        db.row_factory = sqlite3.Row
        return db

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def _check_and_init(self, readonly: bool) -> None:
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and not tables >= REQUIRED_TABLES:
            raise sqlite3.DatabaseError(f"unexpected tables {sorted(tables)}")
        if readonly:
            return
        _use_wal(db)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        if not tables:  # one transaction: a crash here leaves an empty file, not half a schema
            db.executescript(
                f"BEGIN IMMEDIATE;{SCHEMA}INSERT OR REPLACE INTO meta VALUES "
                f"('schema_version', '{SCHEMA_VERSION}');COMMIT;"
            )
        else:
            self._migrate()
        self.recovered = self.recover()

    def _migrate(self) -> None:
        migrate(self._db)

    def recover(self) -> list[int]:
        """Close sessions whose process died (kill -9, power loss) as interrupted: ended at
        their last heartbeat or alert, their open alerts ended at the last frame time seen.
        Returns the ids closed. Sessions of a live process, or of another host, are left."""
        closed = []
        rows = self._db.execute(
            "SELECT id, owner, started_at, last_seen_at, last_frame_s FROM sessions"
            " WHERE ended_at IS NULL"
        ).fetchall()
        for row in rows:
            if owner_alive(row["owner"]) is not False:
                continue
            last_alert = self._db.execute(
                "SELECT MAX(raised_at) AS at, MAX(COALESCE(end_s, start_s)) AS t FROM alerts"
                " WHERE session_id=?",
                (row["id"],),
            ).fetchone()
            ended_at = max(
                x for x in (row["started_at"], row["last_seen_at"], last_alert["at"]) if x
            )
            last_t = max(
                (x for x in (row["last_frame_s"], last_alert["t"]) if x is not None), default=0.0
            )
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE alerts SET end_s=MAX(start_s, ?), duration_s=MAX(start_s, ?)-start_s,"
                " evidence_json=json_set(evidence_json, '$.ended_by', 'recovery')"
                " WHERE session_id=? AND end_s IS NULL",
                (last_t, last_t, row["id"]),
            )
            self._db.execute(
                "UPDATE sessions SET ended_at=?, status='interrupted', summary_json=? WHERE id=?",
                (
                    ended_at,
                    json.dumps({"interrupted": True, "recovered": True, "last_frame_s": last_t}),
                    row["id"],
                ),
            )
            self._db.execute("COMMIT")
            closed.append(int(row["id"]))
        return closed

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

    def start_session(
        self, source: str, settings: dict, models: dict, started_at: str | None = None
    ) -> int:
        """A new running session; ``started_at`` (ISO UTC) for one imported after the fact
        (a fleet video analysed elsewhere), else now."""
        now = started_at or _now()
        cur = self._write(
            "INSERT INTO sessions (source, started_at, settings_json, models_json, owner, status,"
            " last_seen_at) VALUES (?,?,?,?,?,?,?)",
            (
                source,
                now,
                json.dumps(settings),
                json.dumps(models),
                current_owner(),
                "running",
                now,
            ),
        )
        return _row_id(cur)

    def heartbeat(self, session_id: int, last_frame_s: float) -> None:
        """Record that the session is alive and how far it got (for recovery after a kill)."""
        self._write(
            "UPDATE sessions SET last_seen_at=?, last_frame_s=? WHERE id=?",
            (_now(), last_frame_s, session_id),
        )

    def end_session(
        self,
        session_id: int,
        summary: dict | None = None,
        interrupted: bool = False,
        ended_at: str | None = None,
    ) -> None:
        self._write(
            "UPDATE sessions SET ended_at=?, summary_json=?, status=? WHERE id=?",
            (
                ended_at or _now(),
                json.dumps(summary) if summary is not None else None,
                "interrupted" if interrupted else "finished",
                session_id,
            ),
        )

    def record(
        self,
        session_id: int,
        alert: Alert,
        log_id: int | None = None,
        raised_at: str | None = None,
    ) -> int:
        """Insert a new alert (``log_id`` None) or update an existing row; returns its id.
        ``raised_at`` (ISO UTC) for an imported alert, else now."""
        values = (
            str(alert.level),
            alert.end_s,
            None if alert.end_s is None else alert.duration_s(),
            json.dumps(alert.peak),
            json.dumps(alert.evidence),
            json.dumps(alert.levels),
        )
        if log_id is None:
            cur = self._write(
                "INSERT INTO alerts (session_id, kind, start_s, start_frame, raised_at, level,"
                " end_s, duration_s, peak_json, evidence_json, levels_json)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    str(alert.kind),
                    alert.start_s,
                    alert.start_frame,
                    raised_at or _now(),
                    *values,
                ),
            )
            return _row_id(cur)
        self._write(
            "UPDATE alerts SET level=?, end_s=?, duration_s=?, peak_json=?, evidence_json=?,"
            " levels_json=? WHERE id=?",
            (*values, log_id),
        )
        return log_id

    def add_image(self, alert_id: int, role: str, png: bytes) -> None:
        self._write("INSERT OR REPLACE INTO alert_images VALUES (?,?,?)", (alert_id, role, png))

    def set_clip(
        self,
        alert_id: int,
        clip: str | None,
        error: str | None = None,
        start_s: float | None = None,
    ) -> None:
        """The alert's event clip (an absolute path; ``start_s``: the media time of its first
        frame), or why it has none."""
        self._write(
            "UPDATE alerts SET clip=?, clip_start_s=?, clip_error=? WHERE id=?",
            (clip, start_s, error, alert_id),
        )

    def review(self, alert_id: int, label: str | None, note: str = "") -> None:
        """A reviewer's verdict on an alert: ``confirmed`` or ``false_alarm`` (None clears it),
        with an optional note; stamped with the time."""
        if label is not None and label not in REVIEW_LABELS:
            raise LogError(f"review must be one of {', '.join(REVIEW_LABELS)}, not {label!r}")
        cur = self._write(
            "UPDATE alerts SET review=?, review_note=?, reviewed_at=? WHERE id=?",
            (label, note or None, _now() if label else None, alert_id),
        )
        if cur.rowcount == 0:
            raise LogError(f"alert log {self.path}: no alert with id {alert_id}")

    # ------------------------------------------------------------------------------ reads
    def sessions(self) -> list[SessionRow]:
        """Sessions with their alert count and status: running, finished, interrupted, or
        (a read-only log holding a session whose process died) ``interrupted?``."""
        rows = self._db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM alerts a WHERE a.session_id=s.id) AS alerts"
            " FROM sessions s ORDER BY s.id"
        )
        out = []
        for r in rows:
            status = r["status"]
            if r["ended_at"] is None:
                alive = owner_alive(r["owner"])
                status = "running" if alive is not False else "interrupted?"
            out.append(
                SessionRow(
                    id=int(r["id"]),
                    source=r["source"],
                    started_at=r["started_at"],
                    ended_at=r["ended_at"],
                    status=status or "finished",
                    alerts=int(r["alerts"]),
                    summary=json.loads(r["summary_json"]) if r["summary_json"] else None,
                    last_frame_s=r["last_frame_s"],
                )
            )
        return out

    def session(self, session_id: int) -> SessionRow | None:
        return next((s for s in self.sessions() if s.id == session_id), None)

    def alerts(self, flt: AlertFilter | None = None) -> list[AlertRow]:
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
        if flt.reviewed is not None:
            where.append("a.review IS NOT NULL" if flt.reviewed else "a.review IS NULL")
        sql = (
            "SELECT a.*, s.source, (SELECT COUNT(*) FROM alert_images i WHERE i.alert_id=a.id)"
            " AS images FROM alerts a JOIN sessions s ON s.id=a.session_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(sql + " ORDER BY a.id", params)
        return [AlertRow.from_db(r) for r in rows]

    def alert(self, alert_id: int) -> AlertRow | None:
        row = self._db.execute(
            "SELECT a.*, s.source, (SELECT COUNT(*) FROM alert_images i WHERE i.alert_id=a.id)"
            " AS images FROM alerts a JOIN sessions s ON s.id=a.session_id WHERE a.id=?",
            (alert_id,),
        ).fetchone()
        return None if row is None else AlertRow.from_db(row)

    def images(self, alert_id: int) -> dict[str, bytes]:
        """An alert's stored images (PNG bytes) by role."""
        return {
            r["role"]: r["png"]
            for r in self._db.execute(
                "SELECT role, png FROM alert_images WHERE alert_id=?", (alert_id,)
            )
        }
