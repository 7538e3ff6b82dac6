"""Audible alarm that escalates with the alert level: faster, higher beeps for critical.
Without sound hardware (or Qt Multimedia) it degrades silently and says so once."""

from __future__ import annotations

import math
import struct
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from drowsy.contracts import AlertLevel

if TYPE_CHECKING:  # Qt Multimedia is optional at run time (no backend: visual alerts only)
    from PyQt6.QtMultimedia import QSoundEffect

TONES = {  # level -> (frequency Hz, beeps, beep seconds)
    AlertLevel.INFO: (660.0, 1, 0.15),
    AlertLevel.WARNING: (880.0, 2, 0.15),
    AlertLevel.CRITICAL: (1320.0, 4, 0.12),
}


def write_tone(path: Path, freq: float, beeps: int, beep_s: float, rate: int = 22050) -> Path:
    frames = bytearray()
    for _ in range(beeps):
        for i in range(int(rate * beep_s)):
            frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate)))
        frames += b"\x00\x00" * int(rate * beep_s * 0.6)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


class Alarm:
    """The audible alarm: a tone per alert level, escalating with it; silent (saying so once)
    without sound hardware."""

    def __init__(self) -> None:
        self.unavailable = False
        self._effects: dict[AlertLevel, QSoundEffect] = {}
        self._dir = tempfile.TemporaryDirectory(prefix="drowsy-alarm-")
        try:
            from PyQt6.QtCore import QUrl
            from PyQt6.QtMultimedia import QMediaDevices, QSoundEffect

            if not QMediaDevices.audioOutputs():
                raise RuntimeError("no audio output")
            for level, (freq, beeps, beep_s) in TONES.items():
                effect = QSoundEffect()
                path = write_tone(Path(self._dir.name) / f"{level}.wav", freq, beeps, beep_s)
                effect.setSource(QUrl.fromLocalFile(str(path)))
                self._effects[level] = effect
        except Exception:  # no Qt Multimedia backend or no device: visual alerts only
            self.unavailable = True

    def play(self, level: AlertLevel) -> None:
        effect = self._effects.get(level)
        if effect is not None:
            effect.play()

    def stop(self) -> None:
        for effect in self._effects.values():
            effect.stop()
