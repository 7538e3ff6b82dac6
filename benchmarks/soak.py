"""Soak test: hours of `drowsy run --fast` over a real video played in a loop; is memory flat?

The console monitor's own session runner, listener, alert log and default models run over a
looping source (each pass continues the clock, like an endless drive), as fast as the machine
goes. Every ``--every`` seconds the process's RSS is sampled into a CSV; the end prints the
curve's summary: first/last/max RSS after warm-up and the fitted growth per hour.

    python benchmarks/soak.py --minutes 120 --out soak.csv [VIDEO]
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from drowsy.alertlog import AlertLog
from drowsy.contracts import Frame
from drowsy.lifecycle import StopFlag
from drowsy.live import ConsoleListener
from drowsy.session import Session, SessionOptions
from drowsy.settings import Settings
from drowsy.sources import FrameSource, SourceChoice, VideoFileSource

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared/data/videos/webcam_glasses_3.avi"


class LoopingVideo(FrameSource):
    """A video file played again and again on one increasing clock."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.name = f"{path} (looped)"
        with VideoFileSource(path) as probe:
            self._fps = probe.nominal_fps
        self.passes = 0

    @property
    def nominal_fps(self) -> float:
        return self._fps

    def __iter__(self) -> Iterator[Frame]:
        offset, index = 0.0, 0
        while True:
            last = 0.0
            with VideoFileSource(self.path) as src:
                for f in src:
                    last = f.timestamp_s
                    yield Frame(f.image, offset + f.timestamp_s, index)
                    index += 1
            offset += last + 1.0 / self._fps
            self.passes += 1


def rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class QuietConsole(ConsoleListener):
    """Counts what the console would print instead of printing hours of it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines = 0
        self.frames = 0

    def _print(self, text: str) -> None:
        self.lines += 1

    def result(self, r) -> None:
        self.frames += 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--minutes", type=float, default=120.0)
    p.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    p.add_argument("--out", type=Path, default=Path("soak.csv"))
    args = p.parse_args()
    if not args.video.is_file():
        print(f"error: {args.video}: no such video", file=sys.stderr)
        return 2
    source = LoopingVideo(args.video)
    choice = SourceChoice(source.name, False, lambda _start: LoopingVideo(args.video))
    listener = QuietConsole()
    stop = StopFlag()
    samples: list[tuple[float, int, float]] = []
    t0 = time.monotonic()

    def sample() -> None:
        while not stop.wait(args.every):
            samples.append((time.monotonic() - t0, listener.frames, rss_mb()))
            with args.out.open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["wall_s", "frames", "rss_mb"])
                w.writerows(samples)
        stop.set()

    def deadline() -> None:
        stop.wait(args.minutes * 60)
        stop.set("time")

    with tempfile.TemporaryDirectory() as tmp, AlertLog(Path(tmp) / "soak.sqlite") as db:
        threading.Thread(target=sample, daemon=True).start()
        threading.Thread(target=deadline, daemon=True).start()
        session = Session(
            Settings(), choice, source, db, SessionOptions(fail_fast=False), listener, stop
        )
        summary = session.run()
        alerts = len(db.alerts())
    warm = [s for s in samples if s[0] >= 300] or samples
    t = np.array([s[0] for s in warm]) / 3600.0
    rss = np.array([s[2] for s in warm])
    slope = float(np.polyfit(t, rss, 1)[0]) if len(warm) > 2 else float("nan")
    print(
        f"{summary.frames} frames in {samples[-1][0] / 60:.1f} min ({source.passes} passes,"
        f" {summary.duration_s / 3600:.2f} h of video, {alerts} alerts logged);"
        f" RSS after 5 min warm-up: first {rss[0]:.1f} MB, last {rss[-1]:.1f} MB,"
        f" max {rss.max():.1f} MB, fitted growth {slope:+.2f} MB/h; curve in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
