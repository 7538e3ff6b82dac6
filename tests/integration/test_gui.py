"""The desktop monitor, offscreen with pytest-qt, plus one real window under Xvfb."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

from drowsy.gui.settings_dialog import SettingsDialog
from drowsy.gui.window import MonitorWindow
from drowsy.settings import Settings, apply_override, load_settings
from tests.helpers import monitor_screenshot


def board_sender(window):
    """What the session does with each alert batch: apply it to its board, hand both over."""
    from drowsy.alerts.board import ActiveAlertBoard

    board = ActiveAlertBoard()

    def send(*updates):
        window._on_alert_updates(list(updates), board.apply(updates), board)

    return send


@pytest.fixture
def gui_settings(tmp_path):
    s = Settings(runtime={"estimator": "geometric"})
    return apply_override(s, f'log.path="{tmp_path / "log.sqlite"}"')


def test_window_runs_a_video_and_shows_the_alert(qtbot, gui_settings, face_video, tmp_path):
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.worker.speed = 4.0
    qtbot.waitUntil(lambda: window.latest is not None, timeout=15000)
    qtbot.waitUntil(lambda: "MICROSLEEP" in window.banner.text().upper(), timeout=20000)
    assert "WARNING" in window.banner.text()
    assert len(window.plots.t) > 10
    assert any(c == "#d98c00" for _, _, c in window.plots.spans.values())  # shaded, warning
    window._repaint()
    assert window.seek.value() >= 11 and window.clock.text().strip().endswith("/ 14 s")
    window._repaint()
    assert not window.video.pixmap().isNull()
    assert window.indicators["tracking"].text().startswith("good")
    qtbot.waitUntil(
        lambda: window.worker_thread is None or window.worker_thread.isFinished(), timeout=20000
    )
    window.log_view.refresh()
    kinds = [
        window.log_view.table.item(i, 4).text() for i in range(window.log_view.table.rowCount())
    ]
    assert "microsleep" in kinds
    window.log_view.table.selectRow(kinds.index("microsleep"))
    details = window.log_view.details.toPlainText()
    assert details.startswith("microsleep (warning)") and "lasted" in details
    assert "peak closure_s" in details and "1.6000" not in details  # a table, rounded
    out = tmp_path / "alerts.json"
    window.log_view.export("json", str(out))
    assert [a["kind"] for a in json.loads(out.read_text())] == ["microsleep"]


def test_gradcam_panel_shows_the_latest_explanation(qtbot, gui_settings, no_face_video):
    from drowsy.inference.explain import Explanation

    window = MonitorWindow(gui_settings, str(no_face_video))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.latest is not None, timeout=15000)
    r = window.latest
    panel = np.full((128, 640, 3), 200, np.uint8)
    fake = type(r)(
        r.frame,
        r.observation,
        r.signals,
        None,
        [],
        r.status,
        {},
        {1: Explanation("raise", {"raise_gradcam_left_eye": panel})},
    )
    window._on_result(fake)
    window._repaint()
    assert window.gradcam.pixmap() is not None and not window.gradcam.pixmap().isNull()
    window.close()


def test_worker_stops_cleanly_and_closes_the_session(qtbot, gui_settings, face_video, tmp_path):
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.latest is not None, timeout=15000)
    thread = window.worker_thread
    window.close()
    assert thread.isFinished()
    db = sqlite3.connect(tmp_path / "log.sqlite")
    assert db.execute("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL").fetchone()[0] == 0


@pytest.mark.slow
def test_seek_ends_the_active_alert_in_the_log_and_never_reuses_its_row(
    qtbot, gui_settings, face_video, tmp_path
):
    """Before: a seek replaced the pipeline without finishing it: the active microsleep stayed
    active in the log forever and the new engine's alert 1 updated the old alert's row."""
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.worker.speed = 2.0
    qtbot.waitUntil(lambda: "MICROSLEEP" in window.banner.text().upper(), timeout=30000)
    window.worker.seek(10.0)  # while the microsleep is active: it must end, then recur
    qtbot.waitUntil(
        lambda: window.worker_thread is None or window.worker_thread.isFinished(), timeout=30000
    )
    assert min(window.plots.t) >= 9.9  # the plots restarted at the seek
    db = sqlite3.connect(tmp_path / "log.sqlite")
    rows = db.execute("SELECT id, kind, start_s, end_s, evidence_json FROM alerts").fetchall()
    assert [r[1] for r in rows] == ["microsleep", "microsleep"]
    assert all(r[3] is not None for r in rows)
    assert '"ended_by": "end_of_stream"' in rows[0][4] and rows[1][2] > 10.0
    (status,) = db.execute("SELECT status FROM sessions").fetchone()
    assert status == "finished"
    assert window.top_alert is None  # nothing left in force after the session ended


def test_settings_dialog_round_trip_and_rejects_bad_values(qtbot, tmp_path):
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    path = tmp_path / "settings.toml"
    dialog.fields["alerts.microsleep_s"].setText("-1")
    dialog.save(path)
    assert "greater than 0" in dialog.error.text() and not path.exists()
    dialog.fields["alerts.microsleep_s"].setText("1.2")
    dialog.fields["runtime.estimator"].setText("geometric")
    dialog.save(path)
    loaded = load_settings(path)
    assert loaded.alerts.microsleep_s == 1.2 and loaded.runtime.estimator == "geometric"


def test_camera_that_is_absent_is_reported_not_fatal(qtbot, gui_settings):
    window = MonitorWindow(gui_settings, "7")
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.open_error is not None, timeout=10000)
    assert "camera 7" in window.open_error
    assert window.banner.text().startswith("NOT MONITORING") and "camera 7" in window.video.text()
    window.close()


def _xcb_ready() -> bool:
    from ctypes.util import find_library

    return all(find_library(n) for n in ("xcb-cursor", "xcb-icccm", "xcb-keysyms"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="Xvfb is not installed")
@pytest.mark.skipif(not _xcb_ready(), reason="libxcb-cursor0/icccm4/keysyms1 missing for Qt xcb")
@pytest.mark.parametrize("screen", [(1024, 768), (1920, 1080)])
def test_real_window_screenshot_under_xvfb(tmp_path, face_video, screen):
    shot = tmp_path / "shot.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    xvfb = ("xvfb-run", "-a", "-s", f"-screen 0 {screen[0]}x{screen[1]}x24")
    result = monitor_screenshot(
        face_video,
        shot,
        tmp_path / "l.db",
        6,
        env,
        "--set",
        "runtime.estimator=geometric",
        prefix=xvfb,
    )
    assert result.returncode == 0, result.stderr
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and 960 <= img.shape[1] <= screen[0] and img.shape[0] <= screen[1]
    assert img.std() > 20  # a drawn window, not a blank screen


def test_attention_strip_for_temporal_alerts():
    from drowsy.overlays import attention_strip

    img = attention_strip([0.0, 0.1, 0.6, 0.3])
    assert img.shape == (60, 640, 3)
    assert img[40, 400].sum() > img[40, 10].sum()  # the heavy second is brighter


def test_sigterm_closes_the_monitor_and_its_session(tmp_path, face_video):
    """`systemctl stop` sends SIGTERM: the window closes, the session ends with ended_at."""
    import signal
    import time

    log = tmp_path / "l.db"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "drowsy", "monitor", "--source", str(face_video), "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )

    def started() -> bool:
        try:
            return bool(sqlite3.connect(log).execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
        except sqlite3.Error:  # not created yet
            return False

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (log.exists() and started()):
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a monitor running after a failed check
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    ended_at, status, summary = (
        sqlite3.connect(log)
        .execute("SELECT ended_at, status, summary_json FROM sessions")
        .fetchone()
    )
    assert ended_at is not None and status == "interrupted" and "SIGTERM" in summary


def test_lost_camera_is_shown_in_the_video_pane(qtbot, gui_settings, face_video):
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.worker.source_problem.emit("camera 0 lost (unplugged?); retrying every 2 s (attempt 3)")
    qtbot.waitUntil(lambda: window.source_problem is not None, timeout=2000)
    window._repaint()
    assert window.video.text().startswith("NOT MONITORING") and "attempt 3" in window.video.text()
    window.worker.source_problem.emit("")
    qtbot.waitUntil(lambda: window.source_problem is None, timeout=2000)
    window.close()


def test_settings_labels_have_units_and_ranges():
    from drowsy.gui.settings_dialog import human_name, value_range
    from drowsy.settings import SignalSettings

    assert value_range(SignalSettings.model_fields["closed_threshold"]) == "range: > 0, < 1"

    assert human_name("microsleep_s") == "microsleep (s)"
    assert human_name("yaw_limit_deg") == "yaw limit (degrees)"
    assert human_name("perclos_threshold") == "perclos threshold"


def test_model_versions_read_as_text_not_a_dict():
    from drowsy.monitor import describe_models

    models = {"eyes": "2", "yawn": "3", "voting": "eyes hard, yawn soft", "temporal": "1"}
    assert describe_models(models, "CPUExecutionProvider") == (
        "models: eyes v2, yawn v3 (voting: eyes hard, yawn soft), temporal v1 on CPU"
    )
    assert describe_models({"state": "geometric", "temporal": "none"}, "none") == (
        "models: geometric estimate (no networks), no temporal model"
    )


def test_every_control_fits_a_1024x768_screen(qtbot, gui_settings, face_video):
    from PyQt6.QtCore import QPoint, QRect

    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.resize(1024, 740)  # a 1024x768 screen less a panel
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.latest is not None, timeout=15000)
    inside = QRect(0, 0, window.width(), window.height())
    controls = [
        window.banner,
        window.ack,
        window.video,
        window.play,
        window.speed,
        window.seek,
        window.clock,
        window.why,
        window.plots,
        window.status_label,
        *window.indicators.values(),
    ]
    for w in controls:
        top_left = w.mapTo(window, QPoint(0, 0))
        rect = QRect(top_left, w.size())
        assert w.isVisible() and inside.contains(rect), (w, rect, inside)
    heights = [p.height() for p in window.plots.plots.values()]
    assert min(heights) >= 90  # plots a person can read, not 30 px strips
    window.close()


def test_open_log_tab_follows_alerts_live(qtbot, gui_settings, face_video):
    """Before: the tab showed what was there when it was opened (an ended alert 'active')."""
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.worker.speed = 4.0
    window.tabs.setCurrentIndex(1)
    table = window.log_view.table
    qtbot.waitUntil(lambda: table.rowCount() >= 1, timeout=30000)  # no click on Refresh
    qtbot.waitUntil(
        lambda: window.worker_thread is None or window.worker_thread.isFinished(), timeout=30000
    )
    qtbot.waitUntil(lambda: table.item(0, 6).text() not in ("", "active"), timeout=5000)
    assert float(table.item(0, 6).text()) > 0.5  # the ended alert's duration, rounded
    window.close()


def test_banner_and_alarm_follow_the_most_severe_alert_in_force(qtbot, gui_settings, face_video):
    """The demo's case: a critical temporal alert stays on the banner (and the alarm keeps
    sounding) while a long distraction is raised and ends inside it."""
    from drowsy.contracts import Alert, AlertAction, AlertKind, AlertLevel, AlertUpdate

    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.stop()  # drive the view by hand, as the session would: its board, then the batch
    qtbot.waitUntil(lambda: window.worker_thread is None or window.worker_thread.isFinished())
    send = board_sender(window)
    temporal = Alert(
        101, AlertKind.DROWSY_TEMPORAL, AlertLevel.CRITICAL, 25.0, 0, peak={"drowsiness": 0.97}
    )
    distraction = Alert(102, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 31.0, 0)
    send(AlertUpdate(AlertAction.RAISED, temporal))
    send(AlertUpdate(AlertAction.RAISED, distraction))
    assert window.banner.text().startswith("CRITICAL: drowsy temporal")
    ended = Alert(102, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 31.0, 0, end_s=31.5)
    send(AlertUpdate(AlertAction.ENDED, ended))
    assert window.banner.text().startswith("CRITICAL: drowsy temporal")
    assert window._alarm_level is AlertLevel.CRITICAL
    window._acknowledge()
    assert window._alarm_level is None and "CRITICAL" in window.banner.text()
    window.close()


def test_a_critical_alert_and_a_log_fault_fit_a_1024x768_screen(qtbot, gui_settings, face_video):
    """Before: the centred banner text was cut at both ends ("ICAL: drowsy temporal - ...")
    and the red log-error bar pushed the plots off the screen."""
    from PyQt6.QtCore import QPoint, QRect

    from drowsy.contracts import Alert, AlertAction, AlertKind, AlertLevel, AlertUpdate

    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.stop()
    qtbot.waitUntil(lambda: window.worker_thread is None or window.worker_thread.isFinished())
    window.resize(1024, 740)
    window.show()
    qtbot.waitExposed(window)
    alert = Alert(
        7, AlertKind.DROWSY_TEMPORAL, AlertLevel.CRITICAL, 20.9, 0, peak={"drowsiness": 0.98}
    )
    board_sender(window)(AlertUpdate(AlertAction.RAISED, alert))
    window._on_fault(
        "alert log: disk full (No space left on device) at /var/lib/drowsy/log.sqlite; 47"
        " changes kept in memory, retrying every 5 s; monitoring continues" * 2
    )
    qtbot.wait(50)
    banner = window.banner
    assert banner.text().startswith("CRITICAL: drowsy temporal")
    level = banner.level
    assert level.text() == "CRITICAL"
    assert level.width() >= level.sizeHint().width()  # the level word is never cut
    assert level.mapTo(window, QPoint(0, 0)).x() >= 0
    assert banner.flashing  # unacknowledged critical
    inside = QRect(0, 0, window.width(), window.height())
    for w in (banner, window.fault_label, window.plots):
        rect = QRect(w.mapTo(window, QPoint(0, 0)), w.size())
        assert w.isVisible() and inside.contains(rect), (w, rect, inside)
    for plot in window.plots.plots.values():  # all three plots drawn whole, readable
        assert plot.sceneBoundingRect().bottom() <= window.plots.height() + 1
        assert plot.height() >= 90
    window._acknowledge()
    assert not banner.flashing and banner.text().startswith("CRITICAL")
    window.close()


def test_the_source_menu_asks_the_camera_for_a_resolution(qtbot, gui_settings, face_video):
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    names = [a.text() for a in window.camera_modes.actions()]
    assert names[0] == "camera default" and "1280x720 at 30 fps" in names
    worker = window.worker
    window.camera_modes.actions()[names.index("1280x720 at 30 fps")].trigger()
    assert window.camera.camera_size == (1280, 720) and window.camera.camera_fps == 30.0
    assert [a.isChecked() for a in window.camera_modes.actions()].count(True) == 1
    assert window.worker is worker  # a video file keeps playing; the next camera gets it
    window.close()


def test_a_session_that_could_not_be_logged_is_not_called_none(qtbot, gui_settings, face_video):
    """Before: "session None ended" when the alert log was broken."""
    window = MonitorWindow(gui_settings, str(face_video))
    qtbot.addWidget(window)
    window.stop()
    qtbot.waitUntil(lambda: window.worker_thread is None or window.worker_thread.isFinished())
    from drowsy.summary import SessionSummary

    window._on_finished(SessionSummary(source="face.avi", frames=3, session_id=None))
    assert window.banner.text() == "session (not logged) ended: 3 frames, 0 alerts"
    window.close()


def test_overlapping_alerts_through_the_real_worker_share_the_sessions_board(
    qtbot, gui_settings, tmp_path
):
    """A microsleep escalating to sleep while a long distraction is raised and ends: the
    window shows the session's own board (no second board), the most severe alert on top."""
    from drowsy.scenario.render import render
    from drowsy.scenario.script import Event, Script

    script = Script(
        events=(Event("glance", 2.0, 6.0, yaw_deg=40.0), Event("closure", 3.0, 9.0)),
        duration_s=12,
        fps=10,
        size=(320, 240),
    )
    video = render(script, tmp_path / "overlap.avi")
    window = MonitorWindow(gui_settings, str(video))
    qtbot.addWidget(window)
    window.worker.speed = 2.0
    seen: list[tuple[str, ...]] = []

    def watch(updates, change, board):
        assert board is window.worker.session.board  # one board: the session's
        seen.append(tuple(sorted(str(a.kind) for a in board.active)))

    window.worker.alert_updates.connect(watch)
    qtbot.waitUntil(lambda: window.worker_thread.isFinished(), timeout=60000)
    assert any(len(kinds) >= 2 for kinds in seen), seen  # two alerts in force at once
    assert window.top_alert is None and window._alarm_level is None
    window.close()


def test_the_log_tab_plays_an_alerts_clip_and_keeps_its_review(qtbot, gui_settings, face_video):
    """Select an alert: its clip plays (frames advance at their own times, step works); the
    verdict and note are stored in the log and shown in the table after a refresh."""
    from drowsy.alertlog import AlertLog
    from drowsy.cli import main
    from drowsy.gui.logview import COLUMNS, LogView

    log = gui_settings.log.path
    out = os.path.dirname(log)
    assert main(["analyze", str(face_video), "--out", out, "--log", log, "--quiet"]) == 0
    view = LogView(gui_settings)
    qtbot.addWidget(view)
    view.refresh()
    view.table.selectRow(0)
    player = view.review.player
    assert view.review.alert is not None and len(player.frames) == 70
    player.step(1)
    assert player.position == 1
    player.play.setChecked(True)
    qtbot.waitUntil(lambda: player.position >= 6, timeout=5000)
    view.review.note.setText("rubbing his eyes")
    view.review.mark("false_alarm")
    assert view.review.verdict.text() == "false alarm"
    view.refresh()  # the live tab refreshes every 2 s: the clip keeps playing
    assert view.table.item(0, COLUMNS.index("review")).text() == "false alarm"
    assert player.frames and view.review.alert.review == "false_alarm"
    with AlertLog(log, readonly=True) as db:
        (row,) = db.alerts()
    assert (row.review, row.review_note) == ("false_alarm", "rubbing his eyes")


def test_an_alert_whose_clip_is_gone_says_so(qtbot, gui_settings, face_video):
    from drowsy.cli import main
    from drowsy.gui.logview import LogView

    log = gui_settings.log.path
    out = os.path.dirname(log)
    assert main(["analyze", str(face_video), "--out", out, "--log", log, "--quiet"]) == 0
    import glob

    for clip in glob.glob(os.path.join(out, "*", "clips", "*.mp4")):
        os.unlink(clip)
    view = LogView(gui_settings)
    qtbot.addWidget(view)
    view.refresh()
    view.table.selectRow(0)
    assert view.review.player.frames == []
    assert view.review.player.view.text().startswith("clip missing: 001-microsleep.mp4")
