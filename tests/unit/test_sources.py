from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from drowsy.errors import SourceError
from drowsy.sources import (
    CameraSource,
    ImageFolderSource,
    SourceOptions,
    VideoFileSource,
    _MonotonicClock,
    open_source,
)
from tests.helpers import absurd_rate_avi, blank_frames, write_video


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi", blank_frames(45), fps=15)


def test_video_frames_have_increasing_timestamps_from_the_container(video):
    with VideoFileSource(video) as src:
        frames = list(src)
    assert len(frames) == 45
    ts = [f.timestamp_s for f in frames]
    assert all(b > a for a, b in itertools.pairwise(ts))
    assert ts[1] == pytest.approx(1 / 15, abs=1e-3)
    assert [f.index for f in frames] == list(range(45))
    assert not src.stats.truncated


def test_start_end_and_max_frames(video):
    with VideoFileSource(video, SourceOptions(start_s=1.0, end_s=2.0)) as src:
        frames = list(src)
    assert frames[0].timestamp_s == pytest.approx(1.0, abs=0.07)
    assert frames[-1].timestamp_s < 2.0
    assert 14 <= len(frames) <= 16
    with VideoFileSource(video, SourceOptions(max_frames=5)) as src:
        assert len(list(src)) == 5


def test_a_start_past_the_end_of_the_video_is_an_error_not_zero_frames(video):
    with pytest.raises(SourceError, match=r"--start 100 s is past the end of the video \(3\.0 s\)"):
        VideoFileSource(video, SourceOptions(start_s=100.0))


def test_bad_source_options_are_rejected():
    with pytest.raises(SourceError, match="end time"):
        SourceOptions(start_s=5, end_s=2)
    with pytest.raises(SourceError, match="max frames"):
        SourceOptions(max_frames=0)


def test_clock_repairs_timestamps_that_do_not_increase():
    clock = _MonotonicClock(0.1)
    got = [clock.next(t) for t in (0.0, 0.1, 0.1, None, 0.15, 0.5)]
    assert got == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert clock.repaired == 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty"),
        (lambda p: (p.write_text("this is not a video\n" * 50), p)[1], "decode"),
    ],
    ids=["missing", "empty", "text-named-mp4"],
)
def test_unusable_files_give_clear_errors(tmp_path, make, message):
    path = make(tmp_path / "bad.mp4")
    with pytest.raises(SourceError, match=message) as info:
        VideoFileSource(path)
    assert str(path) in str(info.value)


def test_video_with_zero_frames(tmp_path):
    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (64, 48))
    writer.release()
    with pytest.raises(SourceError, match=r"(no decodable frames|empty|decode)"):
        VideoFileSource(path)


def test_truncated_video_yields_what_decodes_and_says_so(tmp_path, caplog):
    path = write_video(tmp_path / "full.avi", blank_frames(60), fps=15)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with VideoFileSource(cut) as src:
        frames = list(src)
    assert 10 < len(frames) < 60
    assert src.stats.truncated
    assert "truncated" in caplog.text


def test_image_folder_skips_unreadable_images_and_counts_them(tmp_path, caplog):
    for i, frame in enumerate(blank_frames(3)):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame)
    (tmp_path / "001b.jpg").write_bytes(b"not an image")
    with ImageFolderSource(tmp_path, SourceOptions(folder_fps=10)) as src:
        frames = list(src)
    assert len(frames) == 3
    assert src.stats.skipped == 1
    assert "001b.jpg" in caplog.text
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.1, 0.3])


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="no image files"):
        ImageFolderSource(tmp_path)


def test_absent_camera_is_a_clear_error(capfd):
    with pytest.raises(SourceError, match="camera 97 could not be opened"):
        CameraSource(97)
    assert capfd.readouterr().err == ""  # OpenCV's own backend warnings are kept quiet


def test_open_source_dispatches(tmp_path, video):
    assert isinstance(open_source(str(video)), VideoFileSource)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert isinstance(open_source(str(tmp_path)), ImageFolderSource)


def test_latest_frame_source_drops_stale_frames(video):
    import time

    from drowsy.sources import LatestFrameSource

    with LatestFrameSource(VideoFileSource(video)) as src:
        got = []
        for frame in src:
            got.append(frame.index)
            time.sleep(0.01)  # a consumer slower than the reader
    assert got[-1] == 44  # the newest frame always arrives
    assert len(got) < 45 and src.dropped == 45 - len(got)
    assert got == sorted(got)


def test_implausible_container_rate_falls_back_to_nominal_timing(tmp_path):
    from tests.helpers import blank_frames

    path = absurd_rate_avi(tmp_path / "absurd.avi", blank_frames(45))
    with VideoFileSource(path) as src:
        times = [f.timestamp_s for f in src]
        assert src.stats.warnings and "implausible" in src.stats.warnings[0]
    assert times[-1] == pytest.approx(44 / 30.0)  # 30 fps nominal, not 4.4e10 s
    assert all(b > a for a, b in itertools.pairwise(times))


def test_a_phone_video_is_read_upright_as_players_show_it(tmp_path):
    """Before: frames came out as stored (sideways); the rotation metadata was ignored."""
    from tests.helpers import phone_video

    upright = np.zeros((48, 64, 3), np.uint8)
    upright[:10, :20] = 255  # a bright patch top left when upright
    src = VideoFileSource(phone_video(tmp_path / "phone.mp4", [upright] * 5))
    frames = [f.image for f in src]
    assert src.stats.rotation_deg == 90
    assert frames[0].shape == (48, 64, 3)
    bright = np.argwhere(frames[0][:, :, 0] > 128).mean(axis=0)
    assert bright[0] < 12 and bright[1] < 24  # still top left


def test_image_folder_says_which_files_are_not_images(tmp_path, caplog):
    """Before: junk files in an image folder were dropped without a word."""
    cv2.imwrite(str(tmp_path / "000.png"), blank_frames(1)[0])
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "Thumbs.db").write_bytes(b"x")
    src = ImageFolderSource(tmp_path)
    assert len(src.files) == 1
    assert src.stats.warnings == ["2 file(s) that are not images skipped (e.g. Thumbs.db)"]


def test_a_tiny_video_is_called_too_small(tmp_path):
    """Before: a 1x1 video ran to the end with no face and no word why."""
    video = write_video(tmp_path / "dot.avi", blank_frames(5, size=(8, 8)), fps=10)
    src = VideoFileSource(video)
    assert any("8x8 pixels: too small" in w for w in src.stats.warnings)
    assert not VideoFileSource(write_video(tmp_path / "ok.avi", blank_frames(3))).stats.warnings


def test_a_video_we_may_not_read_says_permission_denied(tmp_path, monkeypatch):
    """Before: a file in a mode-000 folder was "not a video OpenCV can decode" (and, for a
    non-root user, "no such file")."""
    from pathlib import Path

    video = write_video(tmp_path / "v.avi", blank_frames(3))
    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self == video:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(SourceError, match=r"v\.avi: permission denied"):
        VideoFileSource(video)
    monkeypatch.setattr(
        Path,
        "stat",
        lambda self, **kw: (_ for _ in ()).throw(
            PermissionError(13, "Permission denied", str(self))
        ),
    )
    with pytest.raises(SourceError, match="permission denied"):
        VideoFileSource(video)


class FakeCamera:
    """A webcam that offers 640x480 and 1280x720 at 30 fps and rounds other requests down."""

    MODES = ((640, 480), (1280, 720))

    def __init__(self, index):
        self.size, self.fps = self.MODES[0], 30.0

    def isOpened(self):
        return True

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            fits = [m for m in self.MODES if m[0] <= value] or [self.MODES[0]]
            self.size = fits[-1]
        return True

    def get(self, prop):
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        w, h = self.size
        return True, np.zeros((h, w, 3), np.uint8)

    def release(self):
        pass


def test_a_camera_is_asked_for_a_size_and_says_what_it_delivers(monkeypatch):
    from drowsy.sources import CameraSource

    monkeypatch.setattr(cv2, "VideoCapture", FakeCamera)
    cam = CameraSource(0, SourceOptions(camera_size=(1280, 720), camera_fps=30))
    assert cam.describe() == "1280x720 at 30 fps" and not cam.stats.warnings
    cam = CameraSource(0, SourceOptions(camera_size=(1920, 1080)))
    assert cam.describe() == "1280x720 at 30 fps"
    assert cam.stats.warnings == ["camera 0 delivers 1280x720 at 30 fps (asked for 1920x1080)"]


@pytest.mark.parametrize(
    "options, message",
    [({"camera_size": (10, 10)}, "each side must be"), ({"camera_fps": 0.0}, "camera fps")],
)
def test_camera_requests_out_of_range_are_refused(options, message):
    with pytest.raises(SourceError, match=message):
        SourceOptions(**options)
