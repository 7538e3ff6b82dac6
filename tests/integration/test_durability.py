"""Reliability (docs/architecture.md): a killed process leaves a readable log with every alert
raised."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from drowsy.scenario.render import render
from drowsy.scenario.script import Event, Script
from tests.helpers import spawn_analyze


def count_alerts(path) -> list[tuple]:
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT id, kind, end_s FROM alerts ORDER BY id").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return []  # created but schema not there yet


@pytest.mark.slow
def test_sigkill_mid_run_keeps_every_raised_alert(tmp_path, sample_cache):
    # the face leaves for 12 s every 24 s: a monitoring-degraded alert each time
    events = tuple(Event("away", 2.0 + 24 * k, 14.0 + 24 * k) for k in range(8))
    script = Script(events=events, duration_s=190, fps=10, size=(320, 240))
    video = render(script, sample_cache / "away.avi")
    log = tmp_path / "log.sqlite"
    proc = spawn_analyze(video, tmp_path / "o", log, "--quiet")
    deadline = time.monotonic() + 120
    seen: list[tuple] = []
    while time.monotonic() < deadline and proc.poll() is None:
        seen = count_alerts(log)
        if len(seen) >= 2:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "analysis finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    db = sqlite3.connect(log)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = db.execute("SELECT id, kind, end_s FROM alerts ORDER BY id").fetchall()
    assert len(rows) >= len(seen) >= 2
    assert {r[1] for r in rows} == {"monitoring_degraded"}
    assert rows[0][2] is not None  # the first one had ended, and its end was committed too
    assert db.execute("SELECT ended_at FROM sessions").fetchone()[0] is None  # killed mid-run


@pytest.fixture
def read_only_mount(tmp_path):
    """A tmpfs that a test fills and then remounts read-only (needs root; skipped
    otherwise)."""
    import os
    import shutil
    import subprocess

    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")

    def freeze():
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)

    yield mount, freeze
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_log_on_a_read_only_filesystem_can_be_listed(read_only_mount, capsys):
    """Before: "is not a readable drowsy log ... move it aside" (SQLite could not create the
    WAL index beside it): a valid log looked corrupt."""
    from drowsy.alertlog import AlertLog
    from drowsy.cli import main
    from drowsy.contracts import Alert, AlertKind, AlertLevel
    from drowsy.errors import LogError

    mount, freeze = read_only_mount
    path = mount / "log.sqlite"
    with AlertLog(path) as log:
        log.record(
            log.start_session("v.avi", {}, {}),
            Alert(1, AlertKind.MICROSLEEP, AlertLevel.WARNING, 1.0, 10),
        )
    freeze()
    with AlertLog(path, readonly=True) as log:
        assert [a.kind for a in log.alerts()] == ["microsleep"]
    assert main(["log", "list", "--log", str(path)]) == 0
    assert "microsleep" in capsys.readouterr().out
    with pytest.raises(LogError, match=r"read-only|readonly"):
        AlertLog(path)  # writing there is refused with the reason


def _open_log(path: str, barrier, errors) -> None:
    from drowsy.alertlog.store import AlertLog

    barrier.wait()
    try:
        with AlertLog(path):
            pass
    except Exception as exc:  # the test reports whatever an open raised
        errors.put(repr(exc))


def test_processes_opening_one_new_log_together_all_get_it(tmp_path):
    """``analyze --jobs 2 --log L`` opens a new log from two processes at once. Switching it to
    write-ahead logging answered "database is locked" at once to the loser (SQLite does not
    wait there): 7 of 160 such opens failed a whole video before the retry (the CI run of
    2026-12-03 failed on it once)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    for k in range(20):
        barrier = ctx.Barrier(4)
        path = str(tmp_path / f"l{k}.db")
        procs = [ctx.Process(target=_open_log, args=(path, barrier, errors)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert all(p.exitcode == 0 for p in procs)
    assert errors.empty(), errors.get()
