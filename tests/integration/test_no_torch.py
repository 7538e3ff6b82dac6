"""docs/architecture.md: the runtime never imports torch, torchvision or the training package."""

from __future__ import annotations

import subprocess
import sys


def test_importing_every_runtime_module_loads_no_torch():
    """The dynamic side of the import-linter contract (tests/integration/test_lint.py): every
    module of drowsy, the GUI and the scenario renderer included, imported and a pipeline
    built."""
    code = (
        "import importlib, pkgutil, sys, drowsy\n"
        "for m in pkgutil.walk_packages(drowsy.__path__, 'drowsy.'):\n"
        "    if m.name == 'drowsy.__main__': continue\n"
        "    importlib.import_module(m.name)\n"
        "from drowsy.pipeline import Pipeline\n"
        "from drowsy.settings import Settings\n"
        "Pipeline(Settings()).close()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'torchvision', 'training'))\n"
        "print(len([m for m in sys.modules if m.startswith('drowsy.')]), ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, bad = out.stdout.split(" ", 1)
    assert int(count) > 40 and bad.strip() == ""


def test_help_is_fast_because_heavy_imports_wait():
    code = "import sys, drowsy.cli; print(any(m.startswith('mediapipe') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
