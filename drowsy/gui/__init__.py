"""The PyQt6 desktop monitor (the only part of drowsy that imports Qt)."""

import os

import cv2  # noqa: F401 - imported first so its environment changes can be undone here

# opencv-contrib-python points Qt at the Qt 5 plugins it bundles for its own windows; PyQt6
# must load its own, or no display plugin (xcb) can start.
for _var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
    if "cv2" in os.environ.get(_var, ""):
        del os.environ[_var]
