"""Throughput and latency of the pipeline on a 640x480 video, against the face mesh's own speed.

Usage: python benchmarks/bench_pipeline.py [VIDEO] [--json] [--seconds S] [--rounds N]

Without VIDEO it uses ../shared/data/videos/webcam_glasses_3.avi when present, else the built-in
sample video. Prints, in one run, the Markdown tables in the README with the machine named:

- decode only, and decode + the one-face tracking mesh (the floor: the one cost ``analyze``
  cannot avoid), in frames/s;
- ``drowsy analyze`` end to end on one video (frames/s and its ratio to the floor; and the CPU
  time it spends a frame, which bounds what overlapping stages can reach): the floor and
  ``analyze`` alternate for ``--rounds`` rounds and the round with the median ratio is shown,
  with the ratios' range (one run of either spreads by +-15 % on this shared machine); and with
  ``--jobs 2`` on two copies of it (combined frames/s and ratio to the one-video floor), beside two
  floors run at once (what ``--jobs 2`` could reach if the models cost nothing);
- median milliseconds per stage, and the models stage again with the yawn network run on
  every frame (``runtime.yawn_mar_gate=0``: no gate, so nothing to skip);
- live latency: the console monitor's path (``drowsy run``: a live source behind the
  newest-frame slot, session runner, console listener) fed a 30 fps 640x480 source in real
  time, from the moment a frame is captured to the alert decision made on it (p50/p95/p99);
  and the monitor window's capture-to-screen latency (offscreen Qt) when PyQt6 is present;
- event clips: the live latency again with the clip ring running, and the recorder fed a
  30 fps 640x480 source in real time with an alert every 8 s: what the frame loop pays a frame
  (the hand-over), the recorder threads' CPU a frame (JPEG ring + H.264 clips), the memory it
  holds (ring and open clips), frames dropped, and the seconds to encode one clip;
- peak resident memory of this process.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.analyze import AnalyzeOptions, analyze_video  # noqa: E402
from drowsy.clips.recorder import ClipRecorder  # noqa: E402
from drowsy.clips.video import write_mp4  # noqa: E402
from drowsy.contracts import (  # noqa: E402
    Alert,
    AlertAction,
    AlertKind,
    AlertLevel,
    AlertUpdate,
    Frame,
)
from drowsy.live import ConsoleListener  # noqa: E402
from drowsy.pipeline import Pipeline  # noqa: E402
from drowsy.sample import sample_video  # noqa: E402
from drowsy.session import Session, SessionOptions  # noqa: E402
from drowsy.settings import ClipSettings, Settings, apply_override  # noqa: E402
from drowsy.sources import (  # noqa: E402
    FrameSource,
    LatestFrameSource,
    SourceChoice,
    VideoFileSource,
)
from drowsy.vision.tracker import _face_mesh  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "data" / "videos" / "webcam_glasses_3.avi"
LIVE_FPS = 30.0


def decode_only(path: Path) -> float:
    t0 = time.perf_counter()
    with VideoFileSource(path) as src:
        n = sum(1 for _ in src)
    return n / (time.perf_counter() - t0)


def mesh_floor(path: Path) -> float:
    """Decode + colour conversion + MediaPipe's one-face tracking mesh, nothing else."""
    mesh = _face_mesh(False, Settings().tracker, 1)
    try:
        t0 = time.perf_counter()
        with VideoFileSource(path) as src:
            n = sum(1 for f in src if mesh.process(cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB)))
        return n / (time.perf_counter() - t0)
    finally:
        mesh.close()


def stage_times(path: Path, settings: Settings | None = None) -> tuple[dict[str, float], str]:
    """Median milliseconds per frame of each stage (one thread, stage by stage), and the
    execution provider the models ran on (CUDA when there is a GPU: the same tables then
    describe the GPU path)."""
    samples: dict[str, list[float]] = {"decode": []}
    with VideoFileSource(path) as src, Pipeline(settings or Settings()) as pipe:
        provider = pipe.provider
        it = iter(src)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                break
            samples["decode"].append((time.perf_counter() - t0) * 1e3)
            result = pipe.process(frame)
            for k, v in result.timings_ms.items():
                samples.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in samples.items()}, provider


def two_floors_fps(path: Path) -> float:
    """Two floors at once, one process each (as ``--jobs 2`` runs two videos): the most
    ``--jobs 2`` could reach if everything after the face mesh cost nothing."""
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(mesh_floor, [path, path]))  # start-up and warm-up, not timed
        return sum(pool.map(mesh_floor, [path, path]))


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def analyze_fps(path: Path) -> tuple[float, float]:
    """Frames/s of ``analyze`` on one video, and the CPU milliseconds it spends a frame (all
    threads): on N cores no overlap can go beyond N * 1000 / that, in frames/s."""
    with tempfile.TemporaryDirectory() as tmp:
        opts = AnalyzeOptions(
            Path(tmp) / "out", Path(tmp) / "log.sqlite", Settings(), progress=False
        )
        t0, c0 = time.perf_counter(), cpu_s()
        summary = analyze_video(path, Path(tmp) / "out" / path.stem, opts)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        return summary.frames / wall, 1e3 * cpu / summary.frames


def jobs2_fps(path: Path) -> float:
    """``drowsy analyze --jobs 2`` on two copies of the video, as a user runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        videos = []
        for name in ("a", "b"):
            copy = Path(tmp) / f"{name}{path.suffix}"
            shutil.copyfile(path, copy)
            videos.append(str(copy))
        cmd = [sys.executable, "-m", "drowsy", "analyze", *videos, "--jobs", "2", "-q"]
        cmd += ["--out", f"{tmp}/out", "--log", f"{tmp}/log.sqlite"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        frames = sum(
            json.loads((Path(tmp) / "out" / n / "summary.json").read_text())["frames"]
            for n in ("a", "b")
        )
    return frames / wall


class PacedCamera(FrameSource):
    """A live 640x480 source at ``fps`` in real time (the video's frames, looped), remembering
    when each frame was captured."""

    live = True

    def __init__(self, path: Path, seconds: float, fps: float = LIVE_FPS) -> None:
        super().__init__()
        with VideoFileSource(path) as src:  # 2 s of frames, looped: bounded memory
            self.images = [cv2.resize(f.image, (640, 480)) for f in islice(src, 60)]
        self.seconds, self.fps = seconds, fps
        self.captured: dict[int, float] = {}
        self.name = "paced camera"
        self.go = threading.Event()  # set once the models are loaded: no start-up backlog

    @property
    def nominal_fps(self) -> float:
        return self.fps

    def __iter__(self) -> Iterator[Frame]:
        self.go.wait(120)
        t0 = time.perf_counter()
        for i in range(int(self.seconds * self.fps)):
            due = t0 + i / self.fps
            time.sleep(max(0.0, due - time.perf_counter()))
            self.captured[i] = time.perf_counter()
            self.stats.frames += 1
            yield Frame(self.images[i % len(self.images)], i / self.fps, i)


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)} | {"frames": len(ms)}


def live_latency(path: Path, seconds: float, clips: Path | None = None) -> dict:
    camera = PacedCamera(path, seconds)
    latencies: list[float] = []

    class Timed(ConsoleListener):
        def info(self, provider: str, models: dict[str, str]) -> None:
            camera.go.set()

        def result(self, r) -> None:
            latencies.append((time.perf_counter() - camera.captured[r.frame.index]) * 1e3)

    source = LatestFrameSource(camera)
    choice = SourceChoice("paced camera", True, lambda _start: source)
    options = SessionOptions(fail_fast=False, clips_dir=clips)
    Session(Settings(), choice, source, None, options, Timed(io.StringIO())).run()
    return percentiles(latencies[int(LIVE_FPS) :]) | {"dropped": source.dropped}


def clip_costs(path: Path, seconds: float) -> dict:
    """The clip recorder at 30 fps 640x480 in real time, an alert every 8 s lasting 2 s."""
    images = PacedCamera(path, 0).images
    with tempfile.TemporaryDirectory() as tmp:
        ring_latency = live_latency(path, seconds, clips=Path(tmp) / "ring")
        rec = ClipRecorder(ClipSettings(), Path(tmp), lambda a: f"{a.uid}.mp4", LIVE_FPS, live=True)
        calls: list[float] = []
        cpu0, t0 = cpu_s(), time.perf_counter()
        n = int(seconds * LIVE_FPS)
        for i in range(n):
            time.sleep(max(0.0, t0 + i / LIVE_FPS - time.perf_counter()))
            t = i / LIVE_FPS
            start = time.perf_counter()
            rec.frame(t, images[i % len(images)], None)
            k, into = divmod(i, int(8 * LIVE_FPS))
            alert = Alert(k + 1, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, k * 8.0 + 1, i)
            if into == int(LIVE_FPS):
                rec.alerts([AlertUpdate(AlertAction.RAISED, alert)])
            elif into == int(3 * LIVE_FPS):
                ended = Alert(alert.uid, alert.kind, alert.level, alert.start_s, i, end_s=t)
                rec.alerts([AlertUpdate(AlertAction.ENDED, ended)])
            calls.append((time.perf_counter() - start) * 1e3)
        rec.close()
        cpu_ms = (cpu_s() - cpu0) * 1e3 / n
        frames = [(i / LIVE_FPS, images[i % len(images)]) for i in range(int(9 * LIVE_FPS))]
        t1 = time.perf_counter()
        write_mp4(Path(tmp) / "one.mp4", frames, LIVE_FPS)
        encode_s = time.perf_counter() - t1
    return {
        "ring_latency_ms": ring_latency,
        "handover_ms": percentiles(calls),
        "recorder_cpu_ms": cpu_ms,
        "held_mb": rec.stats.peak_bytes / 1e6,
        "clips": rec.stats.written,
        "dropped": rec.stats.dropped,
        "encode_9s_clip_s": encode_s,
    }


def gui_latency(path: Path, seconds: float) -> dict | None:
    """Capture to the end of the paint that shows the frame in the monitor window's video pane
    (offscreen Qt, the same session runner behind it)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PyQt6.QtWidgets import QApplication

        from drowsy.gui import worker
        from drowsy.gui.window import MonitorWindow
    except ImportError:
        return None
    app = QApplication.instance() or QApplication([])
    camera = PacedCamera(path, seconds)

    def paced_camera(_spec, _options=None):
        source = LatestFrameSource(camera)
        return SourceChoice("paced camera", True, lambda _start: source), source

    worker.choose_source = paced_camera  # the window starts its worker on this source
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(log={"path": f"{tmp}/log.sqlite"})
        window = MonitorWindow(settings)
        shown: dict[int, float] = {}
        show_video = window._show_video

        def timed_show() -> None:
            show_video()
            window.video.repaint()  # the paint Qt would do next, done now to time it
            r = window.latest
            if r is not None and r.frame.index not in shown:
                shown[r.frame.index] = time.perf_counter() - camera.captured[r.frame.index]

        window._show_video = timed_show
        window.worker.pipeline_info.connect(lambda _info: camera.go.set())
        window.show()
        deadline = time.perf_counter() + seconds + 15
        while window.worker is not None and window.worker_thread.isRunning():
            app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() > deadline:
                break
        window.close()
    ms = [1e3 * v for k, v in sorted(shown.items()) if k >= LIVE_FPS]
    return percentiles(ms) if ms else None


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=20.0, help="live latency run length")
    ap.add_argument("--rounds", type=int, default=3, help="floor / analyze rounds (median)")
    args = ap.parse_args()
    video = args.video or (DEFAULT_VIDEO if DEFAULT_VIDEO.exists() else sample_video())
    with VideoFileSource(video) as src:
        size, frames = src.size, src.stats.expected_frames
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    # each analyze right after its floor: the same host load; the round of the median ratio
    rounds = [(mesh_floor(video), *analyze_fps(video)) for _ in range(args.rounds)]
    ratios = sorted(a / f for f, a, _ in rounds)
    floor, analyze, analyze_cpu_ms = next(
        x for x in rounds if x[1] / x[0] == ratios[len(ratios) // 2]
    )
    stages, provider = stage_times(video)
    ungated = apply_override(Settings(), "runtime.yawn_mar_gate=0")
    models_every_frame = stage_times(video, ungated)[0].get("models")
    r = {
        "video": video.name,
        "size": size,
        "frames": frames,
        "machine": machine(),
        "decode_fps": decode_only(video),
        "floor_fps": floor,
        "analyze_fps": analyze,
        "analyze_cpu_ms": analyze_cpu_ms,
        "two_floors_fps": two_floors_fps(video),
        "jobs2_fps": jobs2_fps(video),
        "stage_ms": stages,
        "models_ms_yawn_every_frame": models_every_frame,
        "provider": provider,
        "live_ms": live_latency(video, args.seconds),
        "gui_ms": gui_latency(video, args.seconds),
        "clips": clip_costs(video, args.seconds),
    }
    r["analyze_ratio"] = r["analyze_fps"] / floor
    r["analyze_ratios"] = ratios
    r["jobs2_ratio"] = r["jobs2_fps"] / floor
    r["peak_rss_mb"] = peak_rss_mb()
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(
        f"Video: {video.name} ({size[0]}x{size[1]}, {frames} frames). Machine: {r['machine']}."
        f" Models on: {provider}.\n"
    )
    print("| throughput | frames/s | x floor |\n|---|---|---|")
    print(f"| decode only | {r['decode_fps']:.0f} | |")
    print(f"| decode + one-face mesh (floor) | {floor:.0f} | 1.00 |")
    spread = (
        f" (of {len(ratios)} rounds: {ratios[0]:.2f}-{ratios[-1]:.2f})" if len(ratios) > 1 else ""
    )
    print(
        f"| `drowsy analyze`, one video | {r['analyze_fps']:.0f} |"
        f" {r['analyze_ratio']:.2f}{spread} |"
    )
    print(
        f"| `drowsy analyze --jobs 2`, two videos | {r['jobs2_fps']:.0f} | {r['jobs2_ratio']:.2f} |"
    )
    print(
        f"| two floors at once, one process each (`--jobs 2` with free models) "
        f"| {r['two_floors_fps']:.0f} | {r['two_floors_fps'] / floor:.2f} |"
    )
    cores = os.cpu_count() or 1
    print(
        f"\n`analyze` spends {r['analyze_cpu_ms']:.2f} CPU ms a frame (all threads): on {cores}"
        f" cores at most {cores * 1e3 / r['analyze_cpu_ms']:.0f} frames/s"
        f" ({cores * 1e3 / r['analyze_cpu_ms'] / floor:.2f}x the floor) with perfect overlap."
    )
    print("\n| stage (one thread) | ms per frame (median) |\n|---|---|")
    for k, v in r["stage_ms"].items():
        print(f"| {k} | {v:.2f} |")
    if models_every_frame is not None:
        print(f"| models, yawn network on every frame (no MAR gate) | {models_every_frame:.2f} |")
    print(f"\n| latency at {LIVE_FPS:.0f} fps live, 640x480 | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|")
    for label, key in (
        ("capture -> alert decision (`drowsy run`)", "live_ms"),
        ("capture -> screen (monitor)", "gui_ms"),
    ):
        v = r[key]
        if v:
            print(f"| {label} | {v['p50']:.1f} | {v['p95']:.1f} | {v['p99']:.1f} |")
    c = r["clips"]
    ring = c["ring_latency_ms"]
    print(
        f"| capture -> alert decision, clip ring running | {ring['p50']:.1f} | {ring['p95']:.1f}"
        f" | {ring['p99']:.1f} |"
    )
    print(
        f"\nEvent clips at {LIVE_FPS:.0f} fps 640x480 (an alert every 8 s): the frame loop hands"
        f" a frame over in {c['handover_ms']['p50']:.3f} ms (p99 {c['handover_ms']['p99']:.3f});"
        f" the recorder's threads spend {c['recorder_cpu_ms']:.2f} CPU ms a frame (JPEG ring +"
        f" H.264); it holds at most {c['held_mb']:.1f} MB (ring + open clips);"
        f" {c['dropped']} frames dropped; a 9 s clip encodes in {c['encode_9s_clip_s']:.2f} s."
    )
    print(f"\nPeak resident memory of this benchmark: {r['peak_rss_mb']:.0f} MB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
