"""Where live clips are kept (beside the alert log) and the disk budget that bounds them."""

from __future__ import annotations

import logging
from pathlib import Path

from drowsy.clips.video import SUFFIX
from drowsy.settings import Settings, default_log_path

log = logging.getLogger(__name__)


def live_clips_dir(settings: Settings) -> Path:
    """``clips/`` in the alert log's folder (``~/.local/share/drowsy/clips`` by default)."""
    return default_log_path(settings).parent / "clips"


def enforce_budget(folder: Path, max_mb: float, keep: Path) -> list[Path]:
    """Remove the oldest clips in ``folder`` until they fit in ``max_mb``; never ``keep``
    (the clip just written: the newest alert's). Returns what was removed."""
    try:
        clips = sorted(
            (p for p in folder.glob(f"*{SUFFIX}") if p.is_file()), key=lambda p: p.stat().st_mtime
        )
        sizes = {p: p.stat().st_size for p in clips}
    except OSError as exc:
        log.warning("clip budget: cannot list %s: %s", folder, exc)
        return []
    total = sum(sizes.values())
    removed = []
    for p in clips:
        if total <= max_mb * 1e6:
            break
        if p == keep:
            continue
        try:
            p.unlink()
        except OSError as exc:
            log.warning("clip budget: cannot remove %s: %s", p, exc)
            continue
        total -= sizes[p]
        removed.append(p)
    if removed:
        log.info("clip budget %.0f MB: removed %d oldest clip(s)", max_mb, len(removed))
    return removed
