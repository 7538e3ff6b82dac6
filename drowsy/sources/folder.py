"""Image folders: images in name order at a fixed rate (a folder has no clock)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from drowsy.contracts import Frame
from drowsy.errors import SourceError
from drowsy.sources.base import IMAGE_SUFFIXES, FrameSource, SourceOptions, _quiet_opencv

log = logging.getLogger(__name__)


class ImageFolderSource(FrameSource):
    """Images in name order; unreadable files are skipped with a warning and counted."""

    def __init__(self, folder: str | Path, options: SourceOptions | None = None) -> None:
        super().__init__(options)
        self.folder = Path(folder)
        self.name = str(self.folder)
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: no such folder")
        files = sorted(p for p in self.folder.iterdir() if p.is_file())
        self.files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if not self.files:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise SourceError(f"{self.folder}: no image files ({kinds})")
        others = [p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
        if others:  # said once, not silently dropped
            message = f"{len(others)} file(s) that are not images skipped (e.g. {others[0]})"
            self._warn(message)

    @property
    def nominal_fps(self) -> float:
        return self.options.folder_fps

    def __iter__(self) -> Iterator[Frame]:
        period = 1.0 / self.options.folder_fps
        first = round(self.options.start_s / period)
        for index, path in enumerate(self.files):
            if index < first:
                continue
            t = index * period
            if self._limits_reached(t):
                return
            image = read_image(path)
            if image is None:
                self.stats.skipped += 1
                log.warning("%s: not a readable image, skipped", path)
                continue
            self.stats.frames += 1
            yield Frame(image=image, timestamp_s=t, index=index)


def read_image(path: Path) -> np.ndarray | None:
    """Read an image as 3-channel BGR, or None when it cannot be decoded."""
    with _quiet_opencv():
        data = np.fromfile(str(path), dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return image
