"""Small generated fixtures: frames, videos and signal sequences."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from drowsy.contracts import FrameSignals
from drowsy.scenario.script import Event, Script

ROOT = Path(__file__).resolve().parents[1]  # the repository


def write_video(
    path: Path, frames: list[np.ndarray], fps: float = 15.0, fourcc: str = "MJPG"
) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def blank_frames(n: int, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    w, h = size
    return [rng.integers(90, 110, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def signals_at(
    t: float,
    index: int,
    *,
    closed: float = 0.0,
    yawn: float = 0.0,
    on_road: bool | None = True,
    usable: bool = True,
) -> FrameSignals:
    return FrameSignals(
        index=index,
        timestamp_s=t,
        face_present=usable,
        usable=usable,
        eye_closed_left=closed if usable else None,
        eye_closed_right=closed if usable else None,
        yawn=yawn if usable else None,
        ear=0.3,
        mar=0.1,
        yaw=0.0,
        pitch=0.0,
        roll=0.0,
        gaze_yaw=0.0 if on_road else 40.0,
        gaze_pitch=0.0,
        on_road=on_road if usable else None,
        iod_px=60.0,
        sharpness=100.0,
        brightness=120.0,
        calibrated=True,
        probability_source="test",
    )


def sequence(seconds: float, fps: float, state: Callable[[float], dict]) -> list[FrameSignals]:
    """Signals at ``fps`` for ``seconds``; ``state(t)`` gives the keyword overrides."""
    return [signals_at(i / fps, i, **state(i / fps)) for i in range(round(seconds * fps))]


def face_images():
    """(open eyes, closed eyes) versions of the scenario portrait (512x512 BGR)."""
    from drowsy.scenario.render import actor

    cast = actor(None)
    return cast.open_eyes.image, cast.closed_eyes.image


def spawn_analyze(video: Path, out: Path, log: Path, *extra: str):
    """A real `drowsy analyze` in a child process (to be signalled or killed by a test)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "drowsy", "analyze", str(video), "--out", str(out)]
    return subprocess.Popen(
        [*cmd, "--log", str(log), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def monitor_screenshot(
    video: Path, shot: Path, log: Path, seconds: int, env: dict, *extra: str, prefix=()
):
    """The documented `drowsy monitor` on a video that exits after ``seconds`` with a
    screenshot (``prefix``: a wrapper such as xvfb-run)."""
    import subprocess
    import sys

    cmd = [*prefix, sys.executable, "-m", "drowsy", "monitor", "--source", str(video)]
    cmd += ["--exit-after", str(seconds), "--screenshot", str(shot), *extra, "--log", str(log)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


# A 34 s demo script with one event of each of three alert kinds (used by the scenario tests).
SHORT_SCRIPT = Script(
    duration_s=34.0,
    fps=10.0,
    size=(480, 360),
    events=(
        Event("blink", 2.0, 2.2),
        Event("blink", 5.5, 5.7),
        Event("blink", 9.0, 9.2),
        Event("closure", 12.0, 13.5),  # microsleep
        Event("blink", 15.5, 15.7),
        Event("glance", 17.0, 21.0, yaw_deg=40.0),  # long distraction
        Event("away", 22.0, 33.5),  # monitoring degraded
    ),
)


def absurd_rate_avi(path, frames, fps=10):
    """An AVI whose stream header claims 1e-9 frames per second (rate 1 / scale 1e9): OpenCV
    then reports container timestamps 1e6 s apart."""
    import struct

    write_video(path, frames, fps=fps)
    data = bytearray(path.read_bytes())
    strh = data.find(b"strh")
    struct.pack_into("<II", data, strh + 8 + 20, 1_000_000_000, 1)  # dwScale, dwRate
    avih = data.find(b"avih")
    struct.pack_into("<I", data, avih + 8, 0xFFFFFFFF)  # dwMicroSecPerFrame
    path.write_bytes(data)
    return path


def video_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while limit is None or len(frames) < limit:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def phone_video(path: Path, upright: list[np.ndarray], fps: float = 10.0) -> Path:
    """An MP4 as a phone records it: the frames stored turned 90 degrees counter-clockwise,
    with a 90-degree display rotation in the track header (what ``ffmpeg -metadata:s:v:0
    rotate=90`` writes), so players, and OpenCV with auto-orientation, show them upright."""
    import struct

    stored = [cv2.rotate(f, cv2.ROTATE_90_COUNTERCLOCKWISE) for f in upright]
    write_video(path, stored, fps, fourcc="mp4v")
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0, "no track header in the MP4"
    # after 'tkhd': version/flags 4, times/ids/duration 20 (v0) or 32 (v1), 8 reserved,
    # layer/group/volume/reserved 8, then the 3x3 display matrix in 16.16 / 2.30 fixed point
    matrix_at = at + 4 + 4 + (20 if data[at + 4] == 0 else 32) + 8 + 8
    data[matrix_at : matrix_at + 36] = struct.pack(
        ">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30
    )
    path.write_bytes(bytes(data))
    return path


def assert_clip_covers(
    folder: Path, alert: dict, before: float, after: float, end: float, fps: float = 10.0
):
    """The clip decodes and runs from ``before`` s before the alert to ``after`` s after it
    ended (cut at the video's ends: ``end`` is the last frame's time), within one frame."""
    from drowsy.clips.video import read_clip

    video = read_clip(folder / alert["clip"])
    lo, hi = alert["clip_span_s"]
    frame = 1.0 / fps
    assert lo == pytest.approx(max(0.0, alert["start_s"] - before), abs=frame + 1e-6)
    assert hi == pytest.approx(min(end, alert["end_s"] + after), abs=frame + 1e-6)
    assert video.times[-1] == pytest.approx(hi - lo, abs=frame + 1e-6)
    assert len(video.frames) == pytest.approx((hi - lo) * fps + 1, abs=1)
    return video
