"""Frame sources: video files, webcams and image folders, all yielding :class:`Frame` with
strictly increasing timestamps in seconds, and the choice of which one a spec names.

Modules: ``base`` (options, stats, clock, base class), ``video``, ``camera`` (a webcam and the
newest-frame wrapper), ``folder`` (image folders), ``choice`` (spec parsing and reopening).
"""

from drowsy.sources.base import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameSource,
    SourceOptions,
    SourceStats,
    _MonotonicClock,
)
from drowsy.sources.camera import CameraSource, LatestFrameSource
from drowsy.sources.choice import SourceChoice, choose_source, file_choice, open_source
from drowsy.sources.folder import ImageFolderSource, read_image
from drowsy.sources.video import VideoFileSource

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "CameraSource",
    "FrameSource",
    "ImageFolderSource",
    "LatestFrameSource",
    "SourceChoice",
    "SourceOptions",
    "SourceStats",
    "VideoFileSource",
    "_MonotonicClock",
    "choose_source",
    "file_choice",
    "open_source",
    "read_image",
]
