"""The command line: analyze, log, settings; bad input is one line and a non-zero exit."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from drowsy.cli import main

SUMMARY_KEYS = {
    "frames",
    "duration_s",
    "face_found_rate",
    "blinks",
    "blink_rate_per_min",
    "mean_blink_duration_s",
    "perclos_max",
    "alerts_by_kind",
    "processing_fps",
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "drowsy", *args], capture_output=True, text=True, timeout=300
    )


def test_analyze_writes_three_files_and_logs_a_session(tmp_path, face_video, capsys):
    log = tmp_path / "log.sqlite"
    code = main(["analyze", str(face_video), "--out", str(tmp_path / "out"), "--log", str(log)])
    assert code == 0
    folder = tmp_path / "out" / face_video.stem
    rows = list(csv.DictReader((folder / "frames.csv").open()))
    assert len(rows) == 140  # one row per decoded frame
    assert {
        "eye_closed_left",
        "eye_closed_right",
        "yawn",
        "ear",
        "mar",
        "yaw",
        "pitch",
        "roll",
        "gaze_yaw",
        "gaze_pitch",
        "on_road",
        "face_present",
        "perclos",
    } <= set(rows[0])
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["frames"] == 140 and summary["face_found_rate"] > 0.95
    assert summary["blinks"] == 2
    events = json.loads((folder / "events.json").read_text())
    assert [a["kind"] for a in events["alerts"]] == ["microsleep"]
    assert 12.0 <= events["alerts"][0]["start_s"] <= 12.2
    assert "1 microsleep" not in capsys.readouterr().err

    assert main(["log", "list", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "microsleep" in out and "face.avi" in out
    assert main(["log", "show", "1", "--log", str(log)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == "microsleep" and shown["duration_s"] > 0.5
    assert (
        main(["log", "export", "--format", "json", "--kind", "microsleep", "--log", str(log)]) == 0
    )
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["log", "export", "--format", "csv", "--level", "critical", "--log", str(log)]) == 0
    assert capsys.readouterr().out.strip().count("\n") == 0  # header only


def test_no_face_anywhere_runs_and_reports_degraded_monitoring(tmp_path, no_face_video):
    out = tmp_path / "out"
    code = main(["analyze", str(no_face_video), "--out", str(out), "--log", str(tmp_path / "l.db")])
    assert code == 0
    summary = json.loads((out / no_face_video.stem / "summary.json").read_text())
    assert summary["face_found_rate"] == 0
    assert summary["alerts_by_kind"] == {"monitoring_degraded": 1}
    events = json.loads((out / no_face_video.stem / "events.json").read_text())
    images = events["alerts"][0]["images"]  # no network decided it: the frame, with overlays
    assert [i.rsplit("_", 2)[-2:] for i in images] == [["raise", "overlay.png"]]
    assert (out / no_face_video.stem / images[0]).stat().st_size > 0


def test_several_videos_in_parallel(tmp_path, face_video, no_face_video):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            str(face_video),
            str(no_face_video),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--log",
            str(tmp_path / "l.db"),
            "--quiet",
        ]
    )
    assert code == 0
    assert (out / face_video.stem / "summary.json").exists()
    assert (out / no_face_video.stem / "summary.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "empty"), (b"hello\n" * 99, "OpenCV can decode")],
    ids=["missing", "empty", "text-named-mp4"],
)
def test_bad_video_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    result = run_cli(
        "analyze", str(path), "--out", str(tmp_path / "o"), "--log", str(tmp_path / "l.db")
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_one_bad_video_among_good_ones_exits_one(tmp_path, no_face_video):
    code = main(
        [
            "analyze",
            str(no_face_video),
            str(tmp_path / "gone.mp4"),
            "--out",
            str(tmp_path / "o"),
            "--log",
            str(tmp_path / "l.db"),
            "-q",
        ]
    )
    assert code == 1
    assert (tmp_path / "o" / no_face_video.stem / "frames.csv").exists()


def test_unwritable_out_and_log_paths(tmp_path, no_face_video):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = run_cli("analyze", str(no_face_video), "--out", str(blocker / "out"))
    assert result.returncode == 2 and "cannot write to output folder" in result.stderr
    result = run_cli(
        "analyze",
        str(no_face_video),
        "--out",
        str(tmp_path / "o"),
        "--log",
        str(blocker / "log.sqlite"),
    )
    assert result.returncode == 2 and "alert log" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_log_is_a_clear_error_and_not_overwritten(tmp_path, no_face_video):
    log = tmp_path / "log.sqlite"
    log.write_bytes(b"garbage" * 1000)
    result = run_cli("analyze", str(no_face_video), "--out", str(tmp_path / "o"), "--log", str(log))
    assert result.returncode == 2
    assert "not a readable drowsy log" in result.stderr and "Traceback" not in result.stderr
    assert log.read_bytes() == b"garbage" * 1000
    result = run_cli("log", "list", "--log", str(log))
    assert result.returncode == 2 and "not a readable drowsy log" in result.stderr


def test_bad_setting_override_is_rejected(tmp_path, no_face_video):
    result = run_cli(
        "analyze", str(no_face_video), "--out", str(tmp_path / "o"), "--set", "alerts.sleep_s=-3"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: override") and "Traceback" not in result.stderr


def test_settings_save_and_show(tmp_path, capsys):
    cfg = tmp_path / "settings.toml"
    assert main(["settings", "save", "--config", str(cfg), "--set", "alerts.sleep_s=2.5"]) == 0
    capsys.readouterr()
    assert main(["settings", "show", "--config", str(cfg)]) == 0
    assert "sleep_s = 2.5" in capsys.readouterr().out


def test_run_without_camera_uses_the_built_in_sample(tmp_path, face_video, monkeypatch, capsys):
    import drowsy.sample

    monkeypatch.setattr(drowsy.sample, "sample_video", lambda: face_video)
    assert main(["run", "--fast", "--log", str(tmp_path / "l.db")]) == 0
    out = capsys.readouterr().out
    assert "no camera found" in out
    assert "ALERT WARNING  microsleep" in out


def test_monitor_without_a_display_runs_the_console_monitor(
    tmp_path, face_video, monkeypatch, capsys
):
    import drowsy.sample

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(drowsy.sample, "sample_video", lambda: face_video)
    assert main(["monitor", "--exit-after", "2", "--log", str(tmp_path / "l.db")]) == 0
    out = capsys.readouterr().out
    assert "no display found" in out and "session 1 ended:" in out


def test_monitor_with_an_unreachable_display_falls_back_to_the_console(tmp_path, face_video):
    """Before: DISPLAY pointing at no X server (or no libxcb-cursor0) aborted with SIGABRT
    (exit 134) inside Qt."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":77"  # no X server there
    cmd = [sys.executable, "-m", "drowsy", "monitor", "--source", str(face_video)]
    cmd += ["--exit-after", "2", "--log", str(tmp_path / "l.db")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stdout.splitlines()[0]
    assert first.endswith("running the console monitor instead")
    assert "libxcb-cursor0" in first or "display ':77'" in first, first


def test_qt_start_problems_are_said_as_what_to_install():
    from drowsy.gui.probe import explain

    assert "libxcb-cursor0" in explain("qt.qpa.plugin: From 6.5.0, xcb-cursor0 or ...")
    missing = "libxkbcommon-x11.so.0: cannot open shared object file: No such file"
    assert "libxkbcommon-x11 is missing" in explain(missing)
    assert "display" in explain("qt.qpa.xcb: could not connect to display :77")


def test_monitor_screenshot_offscreen(tmp_path, face_video):
    """The documented command: a window on a video, a screenshot on exit, exit code 0."""
    import os

    from tests.helpers import monitor_screenshot

    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = monitor_screenshot(face_video, shot, tmp_path / "l.db", 3, env)
    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000
    assert "Traceback" not in result.stderr


def test_absurd_frame_rate_raises_no_alerts_and_says_why(tmp_path, face_video):
    """Before: an awake face in an AVI claiming 1e-9 fps raised sleep and unresponsive alerts
    lasting 5.9e10 s."""
    import cv2

    from tests.helpers import absurd_rate_avi

    cap = cv2.VideoCapture(str(face_video))
    frames = []
    while len(frames) < 90:  # the first 9 s: blinks only, no closure
        ok, img = cap.read()
        assert ok
        frames.append(img)
    video = absurd_rate_avi(tmp_path / "absurd.avi", frames)
    log = tmp_path / "l.db"
    assert main(["analyze", str(video), "--out", str(tmp_path / "out"), "--log", str(log)]) == 0
    summary = json.loads((tmp_path / "out" / "absurd" / "summary.json").read_text())
    assert summary["alerts_by_kind"] == {}
    assert summary["duration_s"] == pytest.approx(3.0, abs=0.1)
    assert any("implausible" in w for w in summary["warnings"])


def test_log_filters_reject_bad_input_with_the_valid_choices(tmp_path, capsys):
    log = tmp_path / "l.db"
    from drowsy.alertlog import AlertLog

    AlertLog(log).close()
    assert main(["log", "list", "--log", str(log), "--kind", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown alert kind 'nonsense'") and "microsleep" in err
    assert main(["log", "list", "--log", str(log), "--since", "notadate"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_a_missing_config_file_is_an_error(tmp_path, capsys):
    assert main(["settings", "show", "--config", str(tmp_path / "typo.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_analyze_on_a_full_disk_is_one_line_and_non_zero(tmp_path, face_video, full_disk):
    (full_disk / "filler").write_bytes(b"\0" * 200_000)
    result = run_cli(
        "analyze",
        str(face_video),
        "--out",
        str(full_disk / "out"),
        "--log",
        str(full_disk / "l.db"),
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ("No space left" in errors[0] or "full" in errors[0]), result.stderr


def test_log_list_into_a_closed_pipe_ends_quietly(tmp_path):
    """`drowsy log list | head -1` over a long log: no BrokenPipeError traceback."""
    import subprocess
    import sys

    from drowsy.alertlog import AlertLog
    from drowsy.contracts import Alert, AlertKind, AlertLevel

    path = tmp_path / "log.sqlite"
    with AlertLog(path) as log:
        session = log.start_session("video.mp4", {}, {})
        for uid in range(1, 3001):
            log.record(session, Alert(uid, AlertKind.MICROSLEEP, AlertLevel.WARNING, uid, uid))
    cmd = f"{sys.executable} -m drowsy log list --log {path} | head -1"
    result = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120)
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_a_phone_video_is_analysed_upright_and_a_sideways_camera_is_named(tmp_path, face_video):
    """Before: a phone video with a 90-degree display rotation was analysed sideways (median
    head roll 92 degrees) and nothing said why."""
    import cv2

    from tests.helpers import phone_video, video_frames, write_video

    upright = video_frames(face_video, limit=90)  # 9 s: blinks, no closure
    phone = phone_video(tmp_path / "phone.mp4", upright)
    sideways = write_video(
        tmp_path / "sideways.avi", [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f in upright], 10
    )
    out = tmp_path / "out"
    assert (
        main(
            [
                "analyze",
                str(phone),
                str(sideways),
                "--out",
                str(out),
                "--log",
                str(tmp_path / "l.db"),
            ]
        )
        == 0
    )
    s_phone = json.loads((out / "phone" / "summary.json").read_text())
    rolls = [
        float(r["roll"]) for r in csv.DictReader((out / "phone" / "frames.csv").open()) if r["roll"]
    ]
    assert s_phone["source_rotation_deg"] == 90
    assert sorted(rolls)[len(rolls) // 2] == pytest.approx(0, abs=15)
    assert not any("camera rotated" in w for w in s_phone["warnings"])
    s_side = json.loads((out / "sideways" / "summary.json").read_text())
    assert any("camera rotated?" in w for w in s_side["warnings"])
    assert s_side["alerts_by_kind"] == {}


def test_a_folder_left_half_written_by_a_full_disk_is_analysed_again(
    tmp_path, no_face_video, monkeypatch, capsys
):
    """Before: the disk filled while report.html was written; summary.json said
    "interrupted": false and --skip-done skipped the folder for ever (no report)."""
    from drowsy import analyze
    from drowsy.errors import UserError

    def full(folder, assets=None):  # what write_text_atomic raises when the disk is full
        raise UserError(f"cannot write {folder / 'report.html'}: No space left on device")

    out, log = tmp_path / "out", tmp_path / "l.db"
    args = ["analyze", str(no_face_video), "--out", str(out), "--log", str(log), "--skip-done"]
    monkeypatch.setattr(analyze, "write_report", full)
    assert main(args) != 0
    folder = out / no_face_video.stem
    assert json.loads((folder / "summary.json").read_text())["complete"] is False
    monkeypatch.undo()
    capsys.readouterr()
    assert main(args) == 0
    assert (folder / "report.html").is_file()
    assert json.loads((folder / "summary.json").read_text())["complete"] is True
    stamp = (folder / "report.html").stat().st_mtime_ns
    assert main(args) == 0  # now it is done: skipped, nothing rewritten
    assert (folder / "report.html").stat().st_mtime_ns == stamp


def test_log_sessions_has_a_header_and_misplaced_show_options_are_errors(tmp_path, capsys):
    """Before: `log sessions` printed bare rows; `log list --html x` ignored --html."""
    from drowsy.alertlog import AlertLog

    log = tmp_path / "l.db"
    with AlertLog(log) as db:
        db.start_session("cam.avi", {}, {})
    assert main(["log", "sessions", "--log", str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["id", "started"] and "cam.avi" in lines[1]
    assert main(["log", "list", "--html", str(tmp_path / "a.html"), "--log", str(log)]) != 0
    assert "use it with `log show ID`" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["log", "--help"], ["settings", "--help"]])
def test_every_argument_has_help(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    text = " ".join(capsys.readouterr().out.split())
    if argv[0] == "log":
        assert "only this session's alerts" in text and "only this alert kind" in text
    else:
        assert "show: the effective settings" in text and "save: write" in text


def test_same_named_videos_keep_their_identity_whatever_the_order(tmp_path, no_face_video, capsys):
    """Before: `analyze a/cam.avi b/cam.avi` named the folders cam, cam-2 by argument order
    (a re-run in the other order swapped them) and printed `cam.avi` for both; with
    --input-root the console and index.html showed identical `cam.avi` rows."""
    import shutil

    root = tmp_path / "in"
    videos = []
    for sub in ("a", "b"):
        (root / sub).mkdir(parents=True)
        videos.append(shutil.copy(no_face_video, root / sub / "cam.avi"))
    log = str(tmp_path / "l.db")
    for order, out in ((videos, "o1"), (videos[::-1], "o2")):
        assert main(["analyze", *map(str, order), "--out", str(tmp_path / out), "--log", log]) == 0
        printed = capsys.readouterr().out
        assert "a/cam.avi:" in printed and "b/cam.avi:" in printed
        for sub in ("a", "b"):
            summary = json.loads((tmp_path / out / f"{sub}-cam" / "summary.json").read_text())
            assert summary["source"] == str(root / sub / "cam.avi")
    args = ["analyze", *map(str, videos), "--input-root", str(root), "--out", str(tmp_path / "o3")]
    assert main([*args, "--log", log]) == 0
    assert {line.split(":")[0] for line in capsys.readouterr().out.splitlines()} == {
        "a/cam.avi",
        "b/cam.avi",
    }
    index = (tmp_path / "o3" / "index.html").read_text()
    assert "a/cam.avi" in index and "b/cam.avi" in index


def test_run_asks_the_camera_for_a_size_and_prints_what_it_delivers(tmp_path, monkeypatch, capsys):
    import cv2

    from tests.unit.test_sources import FakeCamera

    monkeypatch.setattr(cv2, "VideoCapture", FakeCamera)
    args = ["run", "--source", "0", "--camera-size", "1920x1080", "--camera-fps", "30"]
    assert main([*args, "--seconds", "0.3", "--log", str(tmp_path / "l.db")]) == 0
    out = capsys.readouterr().out
    assert "monitoring camera 0, 1280x720 at 30 fps" in out


@pytest.mark.parametrize(
    "bad, message", [("1280", "is not WIDTHxHEIGHT"), ("8x8", "each side must be")]
)
def test_bad_camera_sizes_are_one_line_errors(bad, message, capsys):
    try:
        code = main(["run", "--camera-size", bad, "--seconds", "1"])
    except SystemExit as exc:  # argparse: a usage error
        code = exc.code
    assert code != 0
    assert message in capsys.readouterr().err
