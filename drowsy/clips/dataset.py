"""Reviewed clips as a labelled dataset: what ``drowsy log export --reviewed --clips DIR``
writes and ``training.reviewed`` reads, so a fleet can learn from its own reviewed events.

Layout (version 1)::

    DIR/manifest.json          {"format": "drowsy-reviewed-clips", "version": 1, "clips": [...]}
    DIR/confirmed/<name>.mp4   clips a reviewer confirmed
    DIR/false_alarm/<name>.mp4 clips a reviewer called a false alarm

Each manifest entry: ``file`` (relative to DIR), ``label`` (confirmed / false_alarm),
``kind``, ``level``, ``alert_id``, ``session_id``, ``source``, ``raised_at``, ``reviewed_at``,
``note``, and where the alert is inside the clip: ``alert_start_s`` and ``alert_end_s`` (seconds
from the clip's first frame; null when not known).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from drowsy.alertlog import AlertRow

FORMAT = "drowsy-reviewed-clips"
VERSION = 1


@dataclass(frozen=True, slots=True)
class ExportReport:
    written: int
    without_clip: list[int]  # reviewed alerts whose clip is missing or was never written


def export_reviewed(rows: list[AlertRow], folder: Path) -> ExportReport:
    """Copy each reviewed alert's clip into ``folder/<label>/`` and write the manifest."""
    entries, missing = [], []
    for r in rows:
        clip = r.clip_path
        if r.review is None:
            continue
        if clip is None or not clip.is_file():
            missing.append(r.id)
            continue
        rel = Path(r.review) / f"a{r.id}-{r.kind}{clip.suffix}"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, folder / rel)
        offset = None if r.clip_start_s is None else r.start_s - r.clip_start_s
        end = None if offset is None or r.end_s is None else r.end_s - (r.clip_start_s or 0.0)
        entries.append(
            {
                "file": rel.as_posix(),
                "label": r.review,
                "kind": r.kind,
                "level": r.level,
                "alert_id": r.id,
                "session_id": r.session_id,
                "source": r.source,
                "raised_at": r.raised_at,
                "reviewed_at": r.reviewed_at,
                "note": r.review_note,
                "alert_start_s": None if offset is None else round(offset, 3),
                "alert_end_s": None if end is None else round(end, 3),
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "version": VERSION, "clips": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportReport(len(entries), missing)
