"""DESIGN.md: the runtime never imports torch, torchvision or the training package."""

from __future__ import annotations

import subprocess
import sys

RUNTIME_MODULES = [
    "drowsy.cli",
    "drowsy.pipeline",
    "drowsy.analyze",
    "drowsy.evaluate",
    "drowsy.live",
    "drowsy.alertlog",
    "drowsy.sample",
    "drowsy.vision.tracker",
]


def test_runtime_imports_no_torch():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in RUNTIME_MODULES)
        + "from drowsy.pipeline import Pipeline\n"
        + "from drowsy.settings import Settings\n"
        + "Pipeline(Settings()).close()\n"
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        + "('torch', 'torchvision', 'training'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_is_fast_because_heavy_imports_wait():
    code = "import sys, drowsy.cli; print(any(m.startswith('mediapipe') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
