"""``drowsy analyze``: recorded videos in, per-frame signals, events and a summary out."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import cv2
from tqdm import tqdm

from drowsy.alertlog import AlertLog
from drowsy.contracts import Episode
from drowsy.errors import UserError
from drowsy.pipeline import Pipeline
from drowsy.settings import Settings
from drowsy.sinks import FramesCsv, LogSink
from drowsy.sources import FrameSource, SourceOptions, VideoFileSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    out_dir: Path
    log_path: Path
    settings: Settings
    source: SourceOptions = field(default_factory=SourceOptions)
    progress: bool = True


def prepare_out_dir(path: Path) -> Path:
    """Create the output folder and prove it is writable before any work is done."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".drowsy-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to output folder {path}: {exc.strerror or exc}") from exc
    return path


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def summarize(
    *,
    frames: int,
    duration_s: float,
    face_frames: int,
    usable_frames: int,
    episodes: list[Episode],
    alerts: list[dict],
    perclos_max: float | None,
    wall_s: float,
) -> dict:
    blinks = [e for e in episodes if e.kind == "blink"]
    minutes = duration_s / 60.0
    return {
        "frames": frames,
        "duration_s": round(duration_s, 3),
        "face_found_rate": round(face_frames / frames, 4) if frames else 0.0,
        "usable_face_rate": round(usable_frames / frames, 4) if frames else 0.0,
        "blinks": len(blinks),
        "blink_rate_per_min": round(len(blinks) / minutes, 2) if minutes > 0 else None,
        "mean_blink_duration_s": (
            round(sum(e.duration_s for e in blinks) / len(blinks), 4) if blinks else None
        ),
        "long_blinks": sum(e.kind == "long_blink" for e in episodes),
        "yawns": sum(e.kind == "yawn" for e in episodes),
        "perclos_max": None if perclos_max is None else round(perclos_max, 4),
        "alerts_by_kind": dict(sorted(Counter(a["kind"] for a in alerts).items())),
        "processing_fps": round(frames / wall_s, 2) if wall_s > 0 else None,
        "realtime_factor": round(duration_s / wall_s, 2) if wall_s > 0 else None,
    }


def run_source(
    source: FrameSource,
    pipeline: Pipeline,
    sink: LogSink | None,
    csv_out: FramesCsv | None,
    progress: bool = False,
    before_frame: Callable[[float], None] | None = None,
    images_dir: Path | None = None,
) -> dict:
    """Drive one source through the pipeline into the sinks; returns the summary dict.
    ``before_frame(timestamp_s)`` runs before each frame (the live monitor paces files);
    alert explanations are written as PNGs to ``images_dir`` when given."""
    t0 = time.perf_counter()
    frames = face = usable = 0
    first_t = last_t = 0.0
    perclos_max: float | None = None
    alerts: dict[int, dict] = {}
    images: dict[int, list[str]] = {}

    def keep(explanations: dict) -> None:
        for uid, exp in explanations.items():
            for role, image in exp.images.items():
                if images_dir is not None:
                    images_dir.mkdir(parents=True, exist_ok=True)
                    name = f"alert{uid:03d}_{role}.png"
                    cv2.imwrite(str(images_dir / name), image)
                    images.setdefault(uid, []).append(f"{images_dir.name}/{name}")

    bar = tqdm(
        total=getattr(source.stats, "expected_frames", None),
        desc=Path(source.name).name,
        unit="frame",
        disable=not progress,
        leave=False,
    )
    with bar:
        for frame in source:
            if before_frame is not None:
                before_frame(frame.timestamp_s)
            r = pipeline.process(frame)
            if frames == 0:
                first_t = frame.timestamp_s
            last_t = frame.timestamp_s
            frames += 1
            face += r.signals.face_present
            usable += r.signals.usable
            if r.status.perclos is not None:
                perclos_max = max(perclos_max or 0.0, r.status.perclos)
            if csv_out:
                csv_out.write(r)
            if sink and r.updates:
                sink.handle(r.updates, r)
            keep(r.explanations)
            for u in r.updates:
                alerts[u.alert.uid] = u.alert.to_dict()
            bar.update(1)
    final, final_explanations = pipeline.finish()
    if sink and final:
        sink.handle(final, None, final_explanations)
    keep(final_explanations)
    for u in final:
        alerts[u.alert.uid] = u.alert.to_dict()
    for uid, names in images.items():
        alerts[uid]["images"] = names
    wall = time.perf_counter() - t0
    period = 1.0 / (source.nominal_fps or 30.0)
    duration = (last_t - first_t + period) if frames else 0.0
    summary = summarize(
        frames=frames,
        duration_s=duration,
        face_frames=face,
        usable_frames=usable,
        episodes=pipeline.engine.episodes,
        alerts=list(alerts.values()),
        perclos_max=perclos_max,
        wall_s=wall,
    )
    summary["alerts"] = list(alerts.values())
    return summary


def analyze_video(path: Path, out_dir: Path, opts: AnalyzeOptions) -> dict:
    """Analyse one video into ``out_dir``; returns its summary."""
    source = VideoFileSource(path, opts.source)
    with source, Pipeline(opts.settings) as pipeline, AlertLog(opts.log_path) as alert_log:
        prepare_out_dir(out_dir)
        session = alert_log.start_session(
            str(path.resolve()), opts.settings.model_dump(), pipeline.model_versions
        )
        sink = LogSink(alert_log, session, opts.settings.log.snapshots)
        csv_out = FramesCsv(out_dir / "frames.csv")
        try:
            summary = run_source(
                source, pipeline, sink, csv_out, opts.progress, images_dir=out_dir / "alerts"
            )
        finally:
            csv_out.close()
        alerts = summary.pop("alerts")
        summary.update(
            source=str(path),
            source_fps=round(source.nominal_fps, 3),
            skipped_frames=source.stats.skipped,
            repaired_timestamps=source.stats.repaired_timestamps,
            truncated=source.stats.truncated,
            calibration=_calibration_dict(pipeline),
            models=pipeline.model_versions,
            probability_source=pipeline.estimator.name,
            execution_provider=pipeline.provider,
            session_id=session,
            log=str(opts.log_path),
        )
        episodes = [
            {
                "kind": e.kind,
                "start_s": round(e.start_s, 3),
                "end_s": round(e.end_s, 3),
                "duration_s": round(e.duration_s, 3),
            }
            for e in pipeline.engine.episodes
        ]
        _write_json(
            out_dir / "events.json", {"source": str(path), "alerts": alerts, "episodes": episodes}
        )
        _write_json(out_dir / "summary.json", summary)
        alert_log.end_session(session, {k: v for k, v in summary.items() if k != "calibration"})
    return summary


def _calibration_dict(pipeline: Pipeline) -> dict:
    c = pipeline.calibrator.result
    return {
        "done": c.done,
        "neutral_yaw": round(c.neutral_yaw, 2),
        "neutral_pitch": round(c.neutral_pitch, 2),
        "ear_open_left": None if c.ear_open_left is None else round(c.ear_open_left, 4),
        "ear_open_right": None if c.ear_open_right is None else round(c.ear_open_right, 4),
        "samples": c.samples,
    }


def output_dirs(paths: list[Path], out: Path) -> list[Path]:
    """``out/<stem>``, with ``-2``, ``-3``... when two inputs share a stem."""
    seen: Counter[str] = Counter()
    dirs = []
    for p in paths:
        seen[p.stem] += 1
        dirs.append(out / (p.stem if seen[p.stem] == 1 else f"{p.stem}-{seen[p.stem]}"))
    return dirs


def _worker(
    path: Path, out_dir: Path, opts: AnalyzeOptions
) -> tuple[Path, dict | None, str | None]:
    try:
        return path, analyze_video(path, out_dir, opts), None
    except UserError as exc:
        return path, None, str(exc)


def analyze_many(
    paths: list[Path], opts: AnalyzeOptions, jobs: int = 1
) -> list[tuple[Path, dict | None, str | None]]:
    """Analyse several videos, in ``jobs`` processes; a bad video does not stop the others."""
    prepare_out_dir(opts.out_dir)
    dirs = output_dirs(paths, opts.out_dir)
    if jobs <= 1 or len(paths) == 1:
        return [_worker(p, d, opts) for p, d in zip(paths, dirs, strict=True)]
    # spawn: MediaPipe's graph threads do not survive fork
    quiet = AnalyzeOptions(opts.out_dir, opts.log_path, opts.settings, opts.source, False)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_worker, p, d, quiet) for p, d in zip(paths, dirs, strict=True)]
        results = []
        for fut in tqdm(futures, desc="videos", disable=not opts.progress, file=sys.stderr):
            results.append(fut.result())
        return results
