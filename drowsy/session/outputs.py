"""What a session writes beside the alert log: frames.csv and the explanation PNGs.

Offline a failed write ends the session with a one-line error (``fail_fast``); live it is
reported through ``on_fault`` and monitoring goes on without that output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drowsy.errors import UserError
from drowsy.inference.explain import Explanation
from drowsy.pipeline import FrameResult
from drowsy.sinks import FramesCsv, png_bytes


class SessionOutputs:
    """frames.csv (``frames_csv``) and ``alertNNN_<role>.png`` files (``images_dir``)."""

    def __init__(
        self,
        frames_csv: Path | None,
        images_dir: Path | None,
        fail_fast: bool,
        on_fault: Callable[[str], None],
    ) -> None:
        self.frames_csv = frames_csv
        self.images_dir = images_dir
        self.fail_fast = fail_fast
        self.on_fault = on_fault
        self._csv: FramesCsv | None = None

    def _write(self, write: Callable[[], None], where: Path | None) -> bool:
        """Run one write; False when it failed (live)."""
        try:
            write()
            return True
        except OSError as exc:
            message = f"cannot write {where}: {exc.strerror or exc}"
            if self.fail_fast:
                raise UserError(message) from exc
            self.on_fault(message)
            return False

    def open(self) -> None:
        path = self.frames_csv
        if path is None:
            return

        def make() -> None:
            self._csv = FramesCsv(path)

        self._write(make, path)

    def frame(self, r: FrameResult) -> None:
        csv_out = self._csv
        if csv_out is not None and not self._write(lambda: csv_out.write(r), self.frames_csv):
            self._csv = None  # live: stop writing it, keep monitoring

    def images(self, explanations: dict[int, Explanation]) -> dict[int, list[str]]:
        """Write each alert's explanation images; returns the paths written (relative to the
        output folder) by alert uid."""
        folder = self.images_dir
        written: dict[int, list[str]] = {}
        if folder is None:
            return written
        for uid, exp in explanations.items():
            for role, image in exp.images.items():
                name = f"alert{uid:03d}_{role}.png"

                def write(name: str = name, image=image) -> None:
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(png_bytes(image))

                if self._write(write, folder / name):
                    written.setdefault(uid, []).append(f"{folder.name}/{name}")
        return written

    def close(self) -> None:
        csv_out, self._csv = self._csv, None
        if csv_out is not None:
            self._write(csv_out.close, self.frames_csv)
