"""The session runner: reconnects with a reset clock, seeks, log faults, bounded memory."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from drowsy.alertlog import AlertLog
from drowsy.alerts.engine import RECENT_EPISODES, AlertEngine
from drowsy.contracts import AlertAction, Frame
from drowsy.errors import LogError, SourceError
from drowsy.session import Session, SessionListener, SessionOptions
from drowsy.settings import Settings
from drowsy.sources import FrameSource, SourceChoice, VideoFileSource, file_choice
from tests.helpers import sequence, video_frames


class FakeCamera(FrameSource):
    """A live source whose clock starts at 0 when opened, like a reopened webcam; it 'unplugs'
    (raises SourceError) after ``fail_after`` frames."""

    live = True

    def __init__(self, images, fail_after: int | None = None, fps: float = 10.0) -> None:
        super().__init__()
        self.images, self.fail_after, self.fps = images, fail_after, fps
        self.name = "fake camera"

    @property
    def nominal_fps(self) -> float:
        return self.fps

    def __iter__(self) -> Iterator[Frame]:
        for i, image in enumerate(self.images):
            if self.fail_after is not None and i >= self.fail_after:
                raise SourceError("camera 0 stopped delivering frames (unplugged?)")
            self.stats.frames += 1
            yield Frame(image, i / self.fps, i)


class Recorder(SessionListener):
    def __init__(self) -> None:
        self.times: list[float] = []
        self.statuses: list[str] = []
        self.problems: list[str | None] = []
        self.faults: list[str | None] = []
        self.frame_errors: list[str] = []
        self.raised: list[str] = []

    def result(self, r) -> None:
        self.times.append(r.frame.timestamp_s)

    def status(self, text: str) -> None:
        self.statuses.append(text)

    def source_problem(self, text) -> None:
        self.problems.append(text)

    def fault(self, text) -> None:
        self.faults.append(text)

    def frame_error(self, text: str) -> None:
        self.frame_errors.append(text)

    def alerts(self, updates, change, board) -> None:
        self.raised += [str(u.alert.kind) for u in updates if u.action is AlertAction.RAISED]


def test_camera_that_drops_and_comes_back_with_a_reset_clock_continues_the_session(
    settings, face_video, tmp_path
):
    """Before: the reopened camera's clock restarted at 0 and every later frame failed
    'timestamps must increase'. Now the runner rebases the new clock onto the old one."""
    images = video_frames(face_video, 60)
    opened = []

    def reopen(_start: float) -> FrameSource:
        if len(opened) == 0:
            opened.append("fail")
            raise SourceError("camera 0 could not be opened (absent or busy)")
        opened.append("ok")
        return FakeCamera(images)

    choice = SourceChoice("camera 0", True, reopen)
    rec = Recorder()
    with AlertLog(tmp_path / "log.sqlite") as db:
        session = Session(
            settings,
            choice,
            FakeCamera(images, fail_after=30),
            db,
            SessionOptions(fail_fast=False, reconnect_s=0.01),
            rec,
        )
        summary = session.run()
    assert rec.frame_errors == []
    assert summary.frames == 90 and summary.reconnects == 1
    assert all(b > a for a, b in zip(rec.times, rec.times[1:], strict=False))
    assert opened == ["fail", "ok"]  # the same camera, retried: never the demo video
    assert any("lost" in s and "retrying" in s for s in rec.statuses)
    assert any("is back" in s for s in rec.statuses)
    assert rec.problems[0].startswith("camera 0 lost") and rec.problems[-1] is None


def test_a_lost_default_camera_is_retried_not_replaced_by_the_sample(monkeypatch, settings):
    import drowsy.sample
    from drowsy import sample
    from drowsy.sources import choice as choice_module

    def no_sample():
        raise AssertionError("the sample video must not replace a lost camera")

    monkeypatch.setattr(drowsy.sample, "sample_video", no_sample)
    attempts = []

    def camera(index, options):
        def opener(_start):
            attempts.append(index)
            if len(attempts) > 1:
                raise SourceError(f"camera {index} could not be opened (absent or busy)")
            return FakeCamera([None], fail_after=0)

        return opener

    monkeypatch.setattr(choice_module, "_camera", camera)
    choice, source = sample.choose_source(None)
    assert choice.label == "camera 0" and choice.live
    session = Session(
        settings, choice, source, None, SessionOptions(fail_fast=False, reconnect_s=0.01)
    )
    session.listener.status = lambda text: len(attempts) >= 4 and session.stop()
    session.run()
    assert attempts[:4] == [0, 0, 0, 0]


def test_seek_ends_the_old_stretch_and_alert_ids_never_repeat(settings, face_video, tmp_path):
    """Before: a seek replaced the pipeline without finish(); its alerts stayed active in the
    log and the new engine's alert 1 could update the old alert 1's row."""

    class SeekDuringMicrosleep(Recorder):
        def alerts(self, updates, change, board):
            super().alerts(updates, change, board)
            if self.raised == ["microsleep"] and change.top_after is not None:
                session.seek(10.0)  # back before the closure: it happens again

    rec = SeekDuringMicrosleep()
    choice, source = file_choice(face_video)
    with AlertLog(tmp_path / "log.sqlite") as db:
        session = Session(settings, choice, source, db, SessionOptions(), rec)
        summary = session.run()
        rows = db.alerts()
        sessions = db.sessions()
    assert summary.seeks == 1
    assert [r.kind for r in rows] == ["microsleep", "microsleep"]
    assert all(r.end_s is not None for r in rows)  # none left active forever
    assert rows[0].evidence.get("ended_by") == "end_of_stream"  # ended at the seek
    assert len({r.id for r in rows}) == 2 and rows[1].start_s > 10.0
    assert sessions[0].status == "finished"


class FailingLog(AlertLog):
    """An alert log on a disk that fills up and later frees space again."""

    full = True

    def record(self, *args, **kwargs):
        if self.full:
            raise LogError(f"alert log {self.path}: write failed (database or disk is full)")
        return super().record(*args, **kwargs)


def test_a_failing_log_never_stops_monitoring_and_catches_up(settings, face_video, tmp_path):
    """Before: the first alert that could not be logged ended `drowsy run` and the monitor."""
    rec = Recorder()
    choice, source = file_choice(face_video)
    with FailingLog(tmp_path / "log.sqlite") as db:
        session = Session(settings, choice, source, db, SessionOptions(fail_fast=False), rec)

        original = rec.result

        def result(r):
            original(r)
            if r.frame.timestamp_s > 13.0:  # the disk has room again near the end
                db.full = False
                session.logbook._next_heartbeat = 0.0  # type: ignore[union-attr]

        rec.result = result
        summary = session.run()
        rows = db.alerts()
    assert summary.frames == 140  # every frame was watched
    assert rec.raised == ["microsleep"]  # shown to the driver while the log was failing
    assert any(f and "disk is full" in f and "kept in memory" in f for f in rec.faults)
    assert rec.faults[-1] is None  # the failure cleared once the queued writes landed
    assert [r.kind for r in rows] == ["microsleep"] and rows[0].end_s is not None
    assert summary.log_failure is None


def test_offline_output_write_failure_is_a_one_line_error(settings, face_video, tmp_path):
    from drowsy.errors import UserError

    choice, source = file_choice(face_video)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    options = SessionOptions(frames_csv=blocked / "frames.csv")
    with AlertLog(tmp_path / "log.sqlite") as db:
        session = Session(settings, choice, source, db, options)
        with pytest.raises(UserError, match="cannot write"):
            session.run()
        (row,) = db.sessions()
    assert row.status == "interrupted" and row.ended_at is not None


def test_episodes_stay_bounded_over_a_long_session(settings):
    engine = AlertEngine(settings.alerts, settings.signals)
    # each blink seen open before and after it (a closure at t = 0 would not count)
    blinking = sequence(3000, 10, lambda t: {"closed": 0.9 if 1 <= t % 3 < 1.2 else 0.0})
    for s in blinking:
        engine.update(s)
    assert engine.episode_stats["blink"].count == 1000
    assert len(engine.episodes) == RECENT_EPISODES
    assert len(engine.take_episodes()) <= RECENT_EPISODES


def test_video_file_source_is_not_a_live_source(face_video):
    with VideoFileSource(face_video) as src:
        assert not src.live


def test_log_rows_of_a_finished_session(tmp_path, settings, face_video):
    choice, source = file_choice(face_video)
    with AlertLog(tmp_path / "log.sqlite") as db:
        Session(settings, choice, source, db).run()
    con = sqlite3.connect(tmp_path / "log.sqlite")
    status, ended, last_t = con.execute(
        "SELECT status, ended_at, last_frame_s FROM sessions"
    ).fetchone()
    assert status == "finished" and ended is not None and last_t is not None


@pytest.mark.parametrize("estimator", ["geometric", "auto"])
def test_tracking_ahead_in_a_thread_changes_no_output(face_video, tmp_path, estimator):
    """Recorded video runs decoding and the face mesh in threads of their own: same frames.csv
    byte for byte, same alerts, frames in order, as the one-thread loop."""
    runs = {}
    for pipelined in (False, True):
        csv = tmp_path / f"frames-{pipelined}.csv"
        rec = Recorder()
        choice, source = file_choice(face_video)
        options = SessionOptions(frames_csv=csv, pipelined=pipelined, keep_episodes=True)
        session = Session(
            Settings(runtime={"estimator": estimator}), choice, source, None, options, rec
        )
        session.run()
        runs[pipelined] = (csv.read_bytes(), rec.raised, rec.times, len(session.tally.episodes))
    assert runs[True] == runs[False]
    assert runs[True][1] == ["microsleep"] and runs[True][2] == sorted(runs[True][2])


def test_a_tracker_failure_ahead_is_a_frame_error_of_its_frame(face_video, monkeypatch, settings):
    from drowsy.pipeline import Pipeline

    locate = Pipeline.locate

    def flaky(self, frame):
        if frame.index == 7:
            raise RuntimeError("mesh exploded")
        return locate(self, frame)

    monkeypatch.setattr(Pipeline, "locate", flaky)
    rec = Recorder()
    choice, source = file_choice(face_video)
    summary = Session(settings, choice, source, None, SessionOptions(fail_fast=False), rec).run()
    assert rec.frame_errors == ["frame 7: mesh exploded"]
    assert summary.frames == 139 and summary.frame_errors == 1
    with pytest.raises(RuntimeError, match="mesh exploded"):
        Session(settings, *file_choice(face_video), None, SessionOptions(fail_fast=True)).run()


def test_a_source_failure_ahead_reaches_the_runner(face_video, monkeypatch, settings):
    def broken(self):
        yield from []
        raise SourceError("video.avi: decoding failed at frame 0")

    monkeypatch.setattr(VideoFileSource, "__iter__", broken)
    choice, source = file_choice(face_video)
    with pytest.raises(SourceError, match="decoding failed"):
        Session(settings, choice, source, None).run()


def test_frames_csv_reaches_the_disk_during_the_run(face_video, tmp_path, monkeypatch, settings):
    """A crash mid-video keeps the rows written up to the last flush (before: the file was
    only flushed when it was closed)."""
    from drowsy.sinks import FramesCsv

    monkeypatch.setattr(FramesCsv, "FLUSH_S", 0.0)
    csv = tmp_path / "frames.csv"
    seen = []

    class Peek(Recorder):
        def result(self, r) -> None:
            if r.frame.index == 99:
                seen.append(len(csv.read_text().splitlines()))

    choice, source = file_choice(face_video)
    Session(settings, choice, source, None, SessionOptions(frames_csv=csv), Peek()).run()
    assert seen == [101]  # the header and frames 0..99 are on disk when frame 99 is reported


def test_a_live_style_session_counts_the_alerts_it_no_longer_keeps(face_video, settings):
    """Live sessions drop ended alerts to keep memory flat; their summary (the console's last
    line, the log's session summary) still counts them (before: "alerts none")."""
    choice, source = file_choice(face_video)
    session = Session(settings, choice, source, None, SessionOptions(fail_fast=False))
    summary = session.run()
    assert session.tally.alerts == {}  # the microsleep ended: not kept
    assert summary.to_dict()["alerts_by_kind"] == {"microsleep": 1}


def test_run_ahead_keeps_order_raises_in_place_and_stops_its_thread_when_closed():
    import threading

    from drowsy.prefetch import PREFETCH_FRAMES, run_ahead

    def items(fail_at=None):
        for i in range(50):
            if i == fail_at:
                raise SourceError("disk gone")
            yield i

    assert list(run_ahead(items(), "t")) == list(range(50))
    got = []
    with pytest.raises(SourceError, match="disk gone"):
        for i in run_ahead(items(fail_at=7), "t"):
            got.append(i)
    assert got == list(range(7))  # everything before the failure, in order, then the failure

    produced, ended = [], threading.Event()

    def counted():
        for i in range(10_000):
            produced.append(i)
            yield i

    gen = run_ahead(counted(), "drowsy-test-stage", on_end=ended.set)
    assert next(gen) == 0
    gen.close()  # the consumer stops early: the thread ends, bounded work was done ahead
    assert ended.is_set()
    assert not any(t.name == "drowsy-test-stage" for t in threading.enumerate())
    assert len(produced) <= PREFETCH_FRAMES + 3


def test_a_log_still_failing_at_the_end_says_what_was_not_logged(
    face_video, tmp_path, capsys, monkeypatch
):
    """Before: `analyze --log` on a full disk ended with "47 changes kept in memory,
    retrying" although nothing would retry: batch mode now says the alerts are in
    events.json and were not logged."""
    from drowsy import analyze
    from drowsy.cli import main

    real = analyze.AlertLog
    analyze.AlertLog = FailingLog
    try:
        out = tmp_path / "out"
        code = main(
            ["analyze", str(face_video), "--out", str(out), "--log", str(tmp_path / "l.db")]
        )
    finally:
        analyze.AlertLog = real
    err = capsys.readouterr().err
    assert code != 0
    line = next(x for x in err.splitlines() if x.startswith("error:"))
    assert "events.json" in line and "1 alert not logged" in line and "retrying" not in line
    events = json.loads((out / face_video.stem / "events.json").read_text())
    assert [a["kind"] for a in events["alerts"]] == ["microsleep"]
