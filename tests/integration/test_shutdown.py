"""Every session ends: SIGTERM/SIGINT close a real `drowsy analyze` cleanly, and a session whose
process was killed -9 is closed as interrupted the next time the log is opened."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from drowsy.alertlog import AlertLog
from drowsy.contracts import Alert, AlertKind, AlertLevel
from tests.helpers import spawn_analyze, write_video


@pytest.fixture(scope="module")
def long_video(face_video, tmp_path_factory) -> Path:
    """The face video looped ten times: 140 s, long enough to be mid-analysis when signalled."""
    cap = cv2.VideoCapture(str(face_video))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return write_video(tmp_path_factory.mktemp("long") / "long.avi", frames * 10, fps=10)


def start_analyze(video: Path, out: Path, log: Path) -> subprocess.Popen:
    proc = spawn_analyze(video, out, log)
    csv = out / video.stem / "frames.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if csv.exists() and csv.read_text().count("\n") > 150:
            return proc
        if proc.poll() is not None:
            raise AssertionError(f"analyze ended early: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("analyze made no progress")


def log_sessions(log: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "drowsy", "log", "sessions", "--log", str(log)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_analyze_cleanly_with_a_partial_summary(long_video, tmp_path, sig):
    out, log = tmp_path / "out", tmp_path / "log.sqlite"
    proc = start_analyze(long_video, out, log)
    proc.send_signal(sig)
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    summary = json.loads((out / "long" / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["stop_reason"] == sig.name
    # frames.csv had passed 150 frames when the signal was sent: at least those are counted
    assert 150 <= summary["frames"] < 1400
    events = json.loads((out / "long" / "events.json").read_text())
    assert all(a["end_s"] is not None for a in events["alerts"])
    assert all(a["end_s"] <= summary["duration_s"] + 0.2 for a in events["alerts"])
    line = log_sessions(log).splitlines()[1]  # under the header row
    assert "interrupted" in line and " - " not in line  # has an ended_at
    db = sqlite3.connect(log)
    assert db.execute("SELECT COUNT(*) FROM alerts WHERE end_s IS NULL").fetchone()[0] == 0


@pytest.mark.slow
def test_killed_analyze_is_closed_as_interrupted_on_next_open(long_video, tmp_path):
    out, log = tmp_path / "out", tmp_path / "log.sqlite"
    proc = start_analyze(long_video, out, log)
    time.sleep(1.0)  # past the first heartbeat
    proc.kill()
    proc.wait(timeout=30)
    db = sqlite3.connect(log)
    assert db.execute("SELECT ended_at FROM sessions").fetchone()[0] is None
    assert "interrupted" in log_sessions(log)
    ended_at, status, summary = db.execute(
        "SELECT ended_at, status, summary_json FROM sessions"
    ).fetchone()
    assert ended_at is not None and status == "interrupted"
    assert json.loads(summary)["recovered"] is True
    assert db.execute("SELECT COUNT(*) FROM alerts WHERE end_s IS NULL").fetchone()[0] == 0


def test_recovery_ends_open_alerts_of_a_dead_process_at_its_last_frame(tmp_path):
    path = tmp_path / "log.sqlite"
    with AlertLog(path) as db:
        sid = db.start_session("cam", {}, {})
        db.record(sid, Alert(1, AlertKind.SLEEP, AlertLevel.CRITICAL, 40.0, 400))
        db.heartbeat(sid, 47.5)
        alive = db.start_session("still running", {}, {})
    con = sqlite3.connect(path)
    con.execute("UPDATE sessions SET owner=? WHERE id=?", (f"{_host()}:999999999:1", sid))
    con.commit()
    with AlertLog(path) as db:
        assert db.recovered == [sid]
        (alert,) = db.alerts()
        sessions = {s.id: s for s in db.sessions()}
    assert alert.end_s == 47.5 and alert.duration_s == 7.5
    assert alert.evidence["ended_by"] == "recovery"
    assert sessions[sid].status == "interrupted" and sessions[sid].ended_at
    assert sessions[alive].status == "running"  # this process is alive: left alone


def _host() -> str:
    import socket

    return socket.gethostname()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_console_monitor_exits_with_the_signal_convention(long_video, tmp_path, sig):
    """`drowsy run` ends on a signal as analyze does: 128 + the signal's number."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drowsy",
            "run",
            "--source",
            str(long_video),
            "--log",
            str(tmp_path / "l.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (tmp_path / "l.db").exists():
            break
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "interrupted" in stdout
