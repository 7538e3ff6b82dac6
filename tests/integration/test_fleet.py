"""``drowsy fleet`` on a local 2-worker Ray: tables, log, re-runs, and a worker killed mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from drowsy.cli import main

pytestmark = pytest.mark.slow  # a local Ray cluster starts for these
ray = pytest.importorskip("ray", reason="Ray is in the optional 'fleet' extra")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is in the optional 'fleet' extra")


def task_pids() -> list[int]:
    """Ray worker processes busy with an analyze task (Ray titles them ``ray::analyze_task``)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "ray::analyze_task" in line]


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory, face_video, no_face_video):
    """Three videos, two of them named trip.avi in different folders."""
    root = tmp_path_factory.mktemp("fleet")
    for rel, src in (
        ("a/trip.avi", face_video),
        ("b/trip.avi", no_face_video),
        ("c/evening/drive.avi", face_video),
    ):
        (root / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / "in" / rel)
    return root


def fleet_cmd(root) -> list[str]:
    return [
        sys.executable,
        "-m",
        "drowsy",
        "fleet",
        str(root / "in"),
        "--out",
        str(root / "out"),
        "--workers",
        "2",
        "--log",
        str(root / "log.sqlite"),
        "-q",
        "--set",
        "runtime.estimator=auto",
    ]


@pytest.fixture(scope="module")
def first_run(fleet_dir):
    """The first run, with one Ray worker killed (SIGKILL) while it analyses a video."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(
        fleet_cmd(fleet_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        pids = task_pids()
        if pids:
            time.sleep(0.5)  # mid-run: the task has loaded its models and is analysing
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.02)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err, killed


def test_fleet_analyses_every_video_and_survives_a_killed_worker(fleet_dir, first_run):
    rc, out, err, killed = first_run
    assert killed is not None, "no analyze task was seen running"
    assert rc == 0, err[-3000:]
    assert "3 analysed, 0 skipped" in out
    videos = pq.read_table(fleet_dir / "out" / "fleet" / "videos.parquet").to_pylist()
    assert sorted(v["path"] for v in videos) == ["a/trip.avi", "b/trip.avi", "c/evening/drive.avi"]
    assert all(v["status"] == "finished" and v["frames"] > 0 for v in videos)
    by_path = {v["path"]: v for v in videos}
    assert by_path["a/trip.avi"]["alerts_microsleep"] == 1
    assert by_path["a/trip.avi"]["sha256"] == by_path["c/evening/drive.avi"]["sha256"]
    events = pq.read_table(fleet_dir / "out" / "fleet" / "events.parquet").to_pylist()
    on_disk = sum(
        len(json.loads((fleet_dir / "out" / v / "events.json").read_text())["alerts"])
        for v in by_path
    )
    assert len(events) == on_disk == sum(v["alerts"] for v in videos)
    assert {e["video"] for e in events if e["kind"] == "microsleep"} == {
        "a/trip.avi",
        "c/evening/drive.avi",
    }
    db = sqlite3.connect(fleet_dir / "log.sqlite")
    sessions = db.execute("SELECT source, status FROM sessions ORDER BY source").fetchall()
    assert sessions == [(p, "finished") for p in sorted(by_path)]
    assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == len(events)
    # each event names its log session; peaks are a typed map, not JSON text
    ids = dict(db.execute("SELECT source, id FROM sessions").fetchall())
    assert all(e["session_id"] == ids[e["video"]] for e in events)
    micro = next(e for e in events if e["kind"] == "microsleep")
    assert isinstance(dict(micro["peak"])["closure_s"], float)
    # --quiet: neither Ray's start-up lines nor the per-video progress lines
    assert "Started a local Ray instance" not in err and "[3/3]" not in err
    assert db.execute("SELECT COUNT(*) FROM alert_images").fetchone()[0] > 0
    index = (fleet_dir / "out" / "fleet" / "index.html").read_text()
    assert 'href="../a/trip.avi/report.html"' in index and "c/evening/drive.avi" in index


def test_a_second_run_does_no_work(fleet_dir, first_run, capsys):
    before = (fleet_dir / "out" / "a" / "trip.avi" / "summary.json").stat().st_mtime_ns
    args = fleet_cmd(fleet_dir)[3:]
    assert main(args) == 0
    assert "0 analysed, 3 skipped" in capsys.readouterr().out
    assert (fleet_dir / "out" / "a" / "trip.avi" / "summary.json").stat().st_mtime_ns == before
    assert pq.read_table(fleet_dir / "out" / "fleet" / "videos.parquet").num_rows == 3
    db = sqlite3.connect(fleet_dir / "log.sqlite")
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 3
    # the rewritten events table still names each alert's session (the earlier run's)
    ids = dict(db.execute("SELECT source, id FROM sessions").fetchall())
    events = pq.read_table(fleet_dir / "out" / "fleet" / "events.parquet").to_pylist()
    assert events and all(e["session_id"] == ids[e["video"]] for e in events)


def test_fleet_without_its_extra_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    (tmp_path / "v.avi").write_bytes(b"")
    assert main(["fleet", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'drowsy[fleet]'" in capsys.readouterr().err


def test_fleet_refuses_a_folder_without_videos(tmp_path, capsys):
    assert main(["fleet", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no videos" in capsys.readouterr().err


def test_fleet_on_an_unwritable_out_or_an_unlistable_input_is_one_line(
    tmp_path, monkeypatch, capsys
):
    """Before: --out on a read-only filesystem was an OSError traceback at fleet.py; an
    input folder that may not be listed said "no videos under it"."""
    import errno
    from pathlib import Path

    from tests.helpers import blank_frames, write_video

    (tmp_path / "in" / "a").mkdir(parents=True)
    write_video(tmp_path / "in" / "a" / "v.avi", blank_frames(5), fps=10)
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if "ro" in self.parts:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    args = ["fleet", str(tmp_path / "in"), "--out", str(tmp_path / "ro" / "out")]
    assert main([*args, "--log", str(tmp_path / "l.db")]) != 0
    assert "Read-only file system" in capsys.readouterr().err
    monkeypatch.undo()

    real_walk = os.walk

    def denied(top, onerror=None, **kwargs):  # what os.walk does on a mode-000 folder
        onerror(PermissionError(errno.EACCES, "Permission denied", str(top)))
        return iter(())

    monkeypatch.setattr(os, "walk", denied)
    args = ["fleet", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    assert main([*args, "--log", str(tmp_path / "l.db")]) != 0
    assert "permission denied" in capsys.readouterr().err
    monkeypatch.setattr(os, "walk", real_walk)


def test_fleet_prints_one_line_per_video_off_a_terminal(tmp_path, monkeypatch, capsys):
    """Before: nothing was printed until the end of the run (no bar off a terminal)."""
    from drowsy import fleet
    from drowsy.settings import Settings
    from tests.helpers import blank_frames, write_video

    (tmp_path / "in" / "a").mkdir(parents=True)
    for name in ("x.avi", "y.avi"):
        write_video(tmp_path / "in" / "a" / name, blank_frames(5), fps=10)

    def fake_ray(ray, todo, *args):  # what Ray hands back: each video failed, in turn
        for v in todo:
            yield fleet.FleetResult(v, "failed", error=f"{v.relative}: broken")

    monkeypatch.setattr(fleet, "_ray", lambda: None)
    monkeypatch.setattr(fleet, "_run_on_ray", fake_ray)
    settings = Settings(runtime={"estimator": "geometric"})
    fleet.run_fleet(tmp_path / "in", tmp_path / "out", settings, tmp_path / "l.db", progress=False)
    err = capsys.readouterr().err.splitlines()
    assert err == ["[1/2] a/x.avi: failed", "[2/2] a/y.avi: failed"]
    fleet.run_fleet(
        tmp_path / "in", tmp_path / "out", settings, tmp_path / "l.db", progress=False, quiet=True
    )
    assert capsys.readouterr().err == ""


def test_fleet_into_its_own_input_folder_is_refused_with_the_reason(tmp_path, capsys):
    """Before: `fleet IN --out IN` with a subfolder IN/fleet/ said "no videos under it" (every
    video was skipped as output) or collided with the tables folder IN/fleet/."""
    from tests.helpers import blank_frames, write_video

    (tmp_path / "in" / "fleet").mkdir(parents=True)
    write_video(tmp_path / "in" / "fleet" / "a.avi", blank_frames(5), fps=10)
    args = ["fleet", str(tmp_path / "in"), "--out", str(tmp_path / "in")]
    assert main([*args, "--log", str(tmp_path / "l.db")]) != 0
    err = capsys.readouterr().err
    assert "is the input folder: choose another" in err and "no videos" not in err
