"""Event clips: written for every alert, playable, where the alert is, within budget, and
never at the cost of monitoring."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drowsy.alertlog import AlertLog
from drowsy.cli import main
from drowsy.clips.recorder import ClipRecorder
from drowsy.clips.store import enforce_budget
from drowsy.clips.video import ClipError, read_clip
from drowsy.contracts import Alert, AlertAction, AlertKind, AlertLevel, AlertUpdate, Frame
from drowsy.session import Session, SessionOptions
from drowsy.settings import ClipSettings, Settings, apply_override
from drowsy.sources import FrameSource, SourceChoice, file_choice
from tests.helpers import assert_clip_covers, video_frames

FPS = 10.0  # the face video's rate


def analyse(tmp_path, video, *settings) -> tuple[Path, Path, dict]:
    out, log = tmp_path / "out", tmp_path / "log.sqlite"
    sets = [x for s in settings for x in ("--set", s)]
    assert main(["analyze", str(video), "--out", str(out), "--log", str(log), *sets]) == 0
    folder = out / video.stem
    return folder, log, json.loads((folder / "events.json").read_text())


def test_analyze_writes_one_playable_clip_per_alert_where_the_alert_is(tmp_path, face_video):
    folder, log, events = analyse(tmp_path, face_video)
    (alert,) = events["alerts"]  # the microsleep
    assert alert["clip"] == "clips/001-microsleep.mp4" and alert["clip_error"] is None
    video = assert_clip_covers(folder, alert, 5.0, 3.0, end=13.9)
    assert video.frames[0].shape[:2] == (240, 320)
    with AlertLog(log, readonly=True) as db:
        (row,) = db.alerts()
    assert row.clip == str(folder / alert["clip"]) and row.clip_start_s == alert["clip_span_s"][0]
    assert '<video src="clips/001-microsleep.mp4"' in (folder / "report.html").read_text()


def test_no_clips_when_they_are_turned_off(tmp_path, face_video):
    folder, log, events = analyse(tmp_path, face_video, "clips.enabled=false")
    assert not (folder / "clips").exists()
    assert [a["clip"] for a in events["alerts"]] == [None]
    assert "<video" not in (folder / "report.html").read_text()
    with AlertLog(log, readonly=True) as db:
        assert db.alerts()[0].clip is None


def recorder_clip(settings: ClipSettings, tmp_path, seconds: float, start: float, end: float):
    """A synthetic alert from ``start`` to ``end`` in ``seconds`` of 10 fps frames."""
    rec = ClipRecorder(settings, tmp_path, lambda a: f"{a.uid}.mp4", FPS, live=False)
    alert = Alert(1, AlertKind.MICROSLEEP, AlertLevel.WARNING, start, 0, levels={"warning": start})
    image = np.zeros((120, 160, 3), np.uint8)
    for i in range(round(seconds * FPS)):
        t = i / FPS
        rec.frame(t, image, None)
        if abs(t - start) < 1e-9:
            rec.alerts([AlertUpdate(AlertAction.RAISED, alert)])
        if abs(t - end) < 1e-9:
            done = Alert(1, AlertKind.MICROSLEEP, AlertLevel.WARNING, start, 0, end_s=end)
            rec.alerts([AlertUpdate(AlertAction.ENDED, done)])
    (result,) = rec.close()
    return result


def test_a_long_alert_keeps_the_start_and_the_end_of_its_clip(tmp_path):
    """A 30 s alert with max_s 20: the first and the last 10 s, the middle left out."""
    result = recorder_clip(ClipSettings(max_s=20), tmp_path, 50.0, 10.0, 40.0)
    video = read_clip(result.path)
    assert result.start_s == pytest.approx(5.0) and result.end_s == pytest.approx(43.0)
    assert result.cut_s == pytest.approx(38.0 - 20.0, abs=0.2)
    assert len(video.frames) == pytest.approx(20 * FPS, abs=2)
    gaps = np.diff(video.times)
    assert gaps.max() == pytest.approx(18.0, abs=0.3)  # the one jump: the cut middle


def test_the_disk_budget_removes_the_oldest_clips_never_the_newest(tmp_path):
    sizes = [400_000, 400_000, 400_000]
    for k, size in enumerate(sizes):
        path = tmp_path / f"{k}.mp4"
        path.write_bytes(b"\0" * size)
        os.utime(path, (1000 + k, 1000 + k))
    newest = tmp_path / "2.mp4"
    removed = enforce_budget(tmp_path, 0.5, keep=newest)
    assert removed == [tmp_path / "0.mp4", tmp_path / "1.mp4"] and newest.exists()
    assert enforce_budget(tmp_path, 0.1, keep=newest) == []  # the newest alert's stays


class FakeCamera(FrameSource):
    """A live source of the face video's frames at 10 fps."""

    live = True

    def __init__(self, images) -> None:
        super().__init__()
        self.images, self.name = images, "fake camera"

    @property
    def nominal_fps(self) -> float:
        return FPS

    def __iter__(self) -> Iterator[Frame]:
        for i, image in enumerate(self.images):
            self.stats.frames += 1
            yield Frame(image, i / FPS, i)


def live_session(settings, images, clips: Path, log: AlertLog | None = None) -> Session:
    choice = SourceChoice("fake camera", True, lambda _s: FakeCamera(images))
    options = SessionOptions(fail_fast=False, clips_dir=clips, clips_shared=True)
    return Session(settings, choice, choice.open(0.0), log, options)


def test_a_live_session_never_waits_for_the_clip_encoder(tmp_path, face_video, monkeypatch):
    """The encoder is held back until the session has seen every frame: the frame loop went on
    without it, and the clip lands (named by the session's start, in the log) afterwards."""
    from drowsy.clips import recorder

    release = threading.Event()
    real = recorder.write_mp4

    def slow(path, frames, fps):
        assert release.wait(30)
        return real(path, frames, fps)

    monkeypatch.setattr(recorder, "write_mp4", slow)
    settings = Settings(runtime={"estimator": "geometric"}, clips={"after_s": 0.5})
    images = video_frames(face_video)
    seen = []
    with AlertLog(tmp_path / "log.sqlite") as db:
        session = live_session(settings, images, tmp_path / "clips", db)
        session.listener.result = lambda r: (
            seen.append(r.frame.index) or (r.frame.index == len(images) - 1 and release.set())
        )
        summary = session.run()
        (row,) = db.alerts()
    assert summary.frames == len(images) == len(seen)
    (clip,) = (tmp_path / "clips").glob("*-001-microsleep.mp4")
    assert row.clip == str(clip) and read_clip(clip).frames


def monitored_to_the_end(tmp_path, face_video, clips: Path):
    """A live logged session over the face video: every frame watched and its microsleep
    logged; returns the alert's log row."""
    images = video_frames(face_video)
    with AlertLog(tmp_path / "log.sqlite") as db:
        settings = Settings(runtime={"estimator": "geometric"})
        summary = live_session(settings, images, clips, db).run()
        (row,) = db.alerts()
    assert summary.frames == len(images) and summary.alerts_by_kind == {"microsleep": 1}
    return row


def test_a_full_disk_for_clips_keeps_monitoring_and_the_alert(tmp_path, face_video, full_disk):
    (full_disk / "filler").write_bytes(b"\0" * 250_000)
    row = monitored_to_the_end(tmp_path, face_video, full_disk / "clips")
    assert row.clip is None and "No space left" in (row.clip_error or "")
    assert not list((full_disk / "clips").glob("*.mp4"))  # no half-written clip


def test_a_clip_that_cannot_be_written_is_recorded_on_the_alert(tmp_path, face_video):
    """The clips folder is a file: nothing can be written there (any platform, any user)."""
    blocked = tmp_path / "clips"
    blocked.write_text("not a folder")
    settings = apply_override(Settings(runtime={"estimator": "geometric"}), "clips.after_s=1")
    choice, source = file_choice(face_video)
    options = SessionOptions(clips_dir=blocked, keep_episodes=True)
    session = Session(settings, choice, source, None, options)
    summary = session.run()
    (alert,) = session.tally.alerts.values()
    assert summary.frames == 140 and alert["clip"] is None
    assert "cannot write" in alert["clip_error"]


def test_reviews_survive_a_restart_and_reach_export_and_stats(tmp_path, face_video, capsys):
    _, log, _ = analyse(tmp_path, face_video)
    args = ["--log", str(log)]
    assert main(["log", "review", "1", "--verdict", "false_alarm", "--note", "rubbing", *args]) == 0
    with AlertLog(log) as db:  # a new process, a new connection
        (row,) = db.alerts()
    assert (row.review, row.review_note) == ("false_alarm", "rubbing") and row.reviewed_at
    capsys.readouterr()
    assert main(["log", "list", *args]) == 0
    assert "FALSE-ALARM" in capsys.readouterr().out
    assert main(["log", "export", "--format", "json", *args]) == 0
    (exported,) = json.loads(capsys.readouterr().out)
    assert exported["review"] == "false_alarm" and exported["clip"].endswith("microsleep.mp4")
    assert main(["log", "stats", *args]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("microsleep"))
    assert line.split()[1:] == ["1", "1", "100%", "0.00"]
    data = tmp_path / "reviewed"
    assert main(["log", "export", "--reviewed", "--clips", str(data), *args]) == 0
    manifest = json.loads((data / "manifest.json").read_text())
    (entry,) = manifest["clips"]
    assert entry["file"] == "false_alarm/a1-microsleep.mp4" and entry["alert_start_s"] == 5.0
    assert read_clip(data / entry["file"]).frames


def test_a_clip_deleted_by_hand_is_shown_as_missing(tmp_path, face_video, capsys):
    folder, log, events = analyse(tmp_path, face_video)
    (folder / events["alerts"][0]["clip"]).unlink()
    capsys.readouterr()
    page = tmp_path / "alert.html"
    assert main(["log", "show", "1", "--log", str(log), "--html", str(page)]) == 0
    assert json.loads(capsys.readouterr().out)["clip_missing"] is True
    assert "is missing" in page.read_text() and "<video" not in page.read_text()
    assert main(["report", str(folder)]) == 0
    assert "is missing" in (folder / "report.html").read_text()
    with pytest.raises(ClipError):
        read_clip(folder / events["alerts"][0]["clip"])


PROBE = """<script>
addEventListener("load", () => {
  const v = document.querySelector("video");
  const say = (w) => { document.title = w + " " + v.readyState + " " + v.duration; };
  v.addEventListener("loadeddata", () => say("loaded"));
  v.addEventListener("error", () => say("error"));
  v.load();
});
</script>"""


BUDGET = ("--virtual-time-budget=15000", "--dump-dom")


def test_a_browser_plays_the_clip_in_the_report(tmp_path, face_video):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install chromium)")
    folder, _, events = analyse(tmp_path, face_video)
    page = folder / "probe.html"  # the report itself, with a probe of its <video>
    page.write_text((folder / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    run = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", *BUDGET, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    title = run.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    state, ready, duration = title.split()
    lo, hi = events["alerts"][0]["clip_span_s"]
    assert state == "loaded" and int(ready) >= 2, run.stderr[-1500:]
    assert float(duration) == pytest.approx(hi - lo + 1 / FPS, abs=0.15)


def test_the_training_package_reads_the_reviewed_clips_as_labelled_sequences(tmp_path, face_video):
    from training.reviewed import load_reviewed

    _, log, _ = analyse(tmp_path, face_video)
    args = ["--log", str(log)]
    assert main(["log", "review", "1", "--verdict", "confirmed", *args]) == 0
    data = tmp_path / "reviewed"
    assert main(["log", "export", "--reviewed", "--clips", str(data), *args]) == 0
    (clip,) = load_reviewed(data)
    assert clip.kind == "microsleep" and clip.confirmed and len(clip.frames) == 70
    inside = clip.alert_mask()
    assert inside.sum() == 7  # 12.0 to 12.6 s at 10 fps, inside the clip from 7.0 s
    assert load_reviewed(data, kind="sleep") == []


def test_fleet_tables_carry_the_clip_and_the_fleets_reviews(tmp_path, face_video):
    from drowsy.fleet import FleetResult, FleetVideo, event_rows
    from drowsy.summary import SessionSummary

    folder, _, events = analyse(tmp_path, face_video)
    summary = SessionSummary.read(folder / "summary.json")
    result = FleetResult(FleetVideo(face_video, "a/face.avi", folder), "finished", summary, None, 3)
    alert = events["alerts"][0]
    reviews = {(3, alert["start_frame"], "microsleep"): ("confirmed", "checked")}
    (row,) = event_rows(result, tmp_path, reviews)
    assert row["clip"] == f"out/face/{alert['clip']}"
    assert (row["review"], row["review_note"]) == ("confirmed", "checked")
    (unreviewed,) = event_rows(result, tmp_path, {})
    assert unreviewed["review"] is None


def test_live_sessions_sharing_the_clip_store_never_overwrite_each_other(tmp_path, face_video):
    """Before: `drowsy run` on a file named its clips like analyze, so a second run replaced
    the first run's 001-microsleep.mp4 in the shared store beside the log."""
    settings = Settings(runtime={"estimator": "geometric"}, clips={"after_s": 0.5})
    images = video_frames(face_video)
    for _ in range(2):
        live_session(settings, images, tmp_path / "clips").run()
    clips = sorted((tmp_path / "clips").glob("*-001-microsleep.mp4"))
    assert len(clips) == 2 and all(read_clip(c).frames for c in clips)


def test_a_recorder_that_breaks_never_stops_the_session(tmp_path, face_video, monkeypatch):
    """The cutter thread dies on its first frame: every later frame, the alert and the end of
    the session still go through, and the alert says why it has no clip."""
    from drowsy.clips import recorder

    def broken(self, image, obs):
        raise RuntimeError("codec exploded")

    monkeypatch.setattr(recorder.ClipRecorder, "_keep", broken)
    row = monitored_to_the_end(tmp_path, face_video, tmp_path / "clips")
    assert row.clip is None and row.clip_error == "clip recorder stopped: codec exploded"
