"""``drowsy analyze``: recorded videos in, per-frame signals, events and a summary out."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from drowsy.alertlog import AlertLog
from drowsy.errors import UserError
from drowsy.files import write_text_atomic
from drowsy.lifecycle import StopFlag
from drowsy.pipeline import Pipeline
from drowsy.report.html import shared_plotly, write_index, write_report
from drowsy.session import Session, SessionOptions, SessionSummary
from drowsy.settings import Settings
from drowsy.sources import SourceOptions, file_choice

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """Where ``analyze`` writes (outputs, alert log) and how it reads and runs each video."""

    out_dir: Path
    log_path: Path | None  # None: no alert log (``drowsy fleet``'s tasks; the driver logs)
    settings: Settings
    source: SourceOptions = field(default_factory=SourceOptions)
    progress: bool = True
    input_root: Path | None = None  # name outputs by the path relative to this folder
    skip_done: bool = False  # skip videos whose finished results (same content hash) exist
    pipelined: bool = True  # decode and face mesh each in a thread of their own (SessionOptions)
    # reports load one plotly.js in out_dir/assets/ instead of each inlining 4.6 MB
    shared_assets: bool = False


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


OUTPUT_SCHEMA_VERSION = 1  # docs/schemas.md
ASSETS = "assets"  # shared report assets of a run folder (--shared-assets)
# what a finished analysis leaves in its folder (alert images too, when there are alerts)
OUTPUTS = ("frames.csv", "events.json", "summary.json", "report.html")


def _write_json(path: Path, data: object) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))


def file_sha256(path: Path) -> str:
    """Content hash of a video: identifies it across renames and re-runs of a batch."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def already_done(path: Path, out_dir: Path) -> bool:
    """A finished (not interrupted) analysis of this very file is in ``out_dir``, with every
    output written (``"complete"``: set in summary.json after the last file)."""
    try:
        summary = SessionSummary.read(out_dir / "summary.json")
    except (OSError, ValueError, TypeError):
        return False
    if summary.interrupted or not summary.complete:
        return False
    if not all((out_dir / name).is_file() for name in OUTPUTS):
        return False
    return summary.source_sha256 == file_sha256(path)


def analyze_video(
    path: Path, out_dir: Path, opts: AnalyzeOptions, stop: StopFlag | None = None
) -> SessionSummary:
    """Analyse one video into ``out_dir``; returns its summary. Stopped by ``stop`` (a signal),
    it ends the session as interrupted and still writes events.json and a partial
    summary.json marked ``"interrupted": true``."""
    choice, source = file_choice(path, opts.source)
    try:
        prepare_out_dir(out_dir)
        sha = file_sha256(path)
        alert_log = AlertLog(opts.log_path) if opts.log_path is not None else None
    except BaseException:
        source.close()
        raise
    started_at = datetime.now(UTC)
    with alert_log or nullcontext():
        session = Session(
            opts.settings,
            choice,
            source,
            alert_log,
            SessionOptions(
                images_dir=out_dir / "alerts",
                frames_csv=out_dir / "frames.csv",
                clips_dir=out_dir / "clips",
                keep_episodes=True,
                progress=opts.progress,
                pipelined=opts.pipelined,
            ),
            stop_flag=stop,
        )
        result = session.run()
        pipeline = session.pipeline
        summary = replace(
            result,
            schema_version=OUTPUT_SCHEMA_VERSION,
            started_at=started_at.isoformat(timespec="seconds"),
            ended_at=datetime.now(UTC).isoformat(timespec="seconds"),
            source=str(path),
            source_sha256=sha,
            calibration=_calibration_dict(pipeline),
            thresholds=_thresholds(opts.settings),
            models=pipeline.model_versions,
            probability_source=pipeline.estimator.name,
            execution_provider=pipeline.provider,
            log=None if opts.log_path is None else str(opts.log_path),
        )
        alerts = list(session.tally.alerts.values())
        _write_json(
            out_dir / "events.json",
            {
                "schema_version": OUTPUT_SCHEMA_VERSION,
                "source": str(path),
                "alerts": alerts,
                "episodes": session.tally.episodes_dicts(),
            },
        )
        # summary.json first (the report reads it), marked complete only once the report is
        # written too: a disk that fills on the way leaves a folder --skip-done re-runs
        _write_json(out_dir / "summary.json", summary.to_dict())
        write_report(out_dir, opts.out_dir / ASSETS if opts.shared_assets else None)
        summary = replace(summary, complete=True)
        _write_json(out_dir / "summary.json", summary.to_dict())
        if result.log_failure:
            raise UserError(
                f"{path.name}: analysed (every alert is in {out_dir / 'events.json'}), but the"
                f" alert log failed: {result.log_failure}"
            )
    return summary


def _thresholds(settings: Settings) -> dict[str, float]:
    """The limits the report draws beside the signals."""
    return {
        "closed": settings.signals.closed_threshold,
        "yawn": settings.signals.yawn_threshold,
        "perclos": settings.alerts.perclos_threshold,
        "temporal": settings.alerts.temporal_threshold,
    }


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


def display_names(paths: list[Path], input_root: Path | None = None) -> list[str]:
    """How each video is named to the user (console, index.html, the log): its path relative
    to ``input_root``; without one, its file name, or, where several inputs share a file name,
    the shortest path tail that tells them apart (``a/cam.avi``, ``b/cam.avi``). Never the
    argument order."""
    if input_root is not None:
        root = input_root.resolve()
        names = []
        for p in paths:
            try:
                names.append(p.resolve().relative_to(root).as_posix())
            except ValueError as exc:
                raise UserError(f"{p} is not under the input root {input_root}") from exc
        return names
    full = [p.resolve().parts for p in paths]
    if len(set(full)) < len(full):
        twice = next(p for p, f in zip(paths, full, strict=True) if full.count(f) > 1)
        raise UserError(f"{twice} is given twice")
    names = []
    for parts in full:
        depth = 1
        while sum(f[-depth:] == parts[-depth:] for f in full) > 1:
            depth += 1
        names.append("/".join(parts[-depth:]))
    return names


def output_dirs(paths: list[Path], out: Path, input_root: Path | None = None) -> list[Path]:
    """With ``input_root``: ``out/<path relative to it>`` (``a/cam.avi`` -> ``out/a/cam.avi``),
    so equal names in different folders never collide and a re-run finds its own results.
    Without: ``out/<stem>``; inputs sharing a file name get the folders that tell them apart
    joined with "-" (``a/cam.avi`` -> ``out/a-cam``), whatever order they are given in."""
    names = display_names(paths, input_root)
    if input_root is not None:
        return [out / n for n in names]
    return [out / "-".join([*Path(n).parts[:-1], Path(n).stem]) for n in names]


@dataclass(frozen=True, slots=True)
class VideoResult:
    """One video of an ``analyze`` run: its summary, or why it failed or was skipped."""

    path: Path
    summary: SessionSummary | None = None
    error: str | None = None
    skipped: bool = False  # already analysed (``skip_done``)


_WORKER_STOP = StopFlag()


def _init_worker() -> None:
    """Pool processes end their session cleanly on SIGTERM/SIGINT too."""
    import signal

    def handler(signum: int, _frame: object) -> None:
        _WORKER_STOP.set(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _worker(
    path: Path, out_dir: Path, opts: AnalyzeOptions, stop: StopFlag | None = None
) -> VideoResult:
    if opts.skip_done and already_done(path, out_dir):
        return VideoResult(path, skipped=True)
    try:
        return VideoResult(path, analyze_video(path, out_dir, opts, stop or _WORKER_STOP))
    except UserError as exc:
        return VideoResult(path, error=str(exc))


def analyze_many(
    paths: list[Path], opts: AnalyzeOptions, jobs: int = 1, stop: StopFlag | None = None
) -> list[VideoResult]:
    """Analyse several videos, in ``jobs`` processes; a bad video does not stop the others.
    Once ``stop`` is set the videos being analysed end as interrupted and no more start."""
    prepare_out_dir(opts.out_dir)
    dirs = output_dirs(paths, opts.out_dir, opts.input_root)
    if opts.shared_assets:  # once, before parallel workers would race to write it
        shared_plotly(opts.out_dir / ASSETS)
    stop = stop or StopFlag()
    results = _analyze_all(paths, dirs, opts, jobs, stop)
    write_index(opts.out_dir, dirs, display_names(paths, opts.input_root))
    return results


def _analyze_all(
    paths: list[Path], dirs: list[Path], opts: AnalyzeOptions, jobs: int, stop: StopFlag
) -> list[VideoResult]:
    if jobs <= 1 or len(paths) == 1:
        results = []
        for p, d in zip(paths, dirs, strict=True):
            if stop.is_set():
                break
            results.append(_worker(p, d, opts, stop))
        return results
    # spawn: MediaPipe's graph threads do not survive fork. One thread per video: the
    # processes already fill the cores (measured, 2 videos on 2 cores: 173 frames/s, 157 with
    # each process also tracking ahead in a thread)
    quiet = replace(opts, progress=False, pipelined=False)
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker
    ) as pool:
        futures = [pool.submit(_worker, p, d, quiet) for p, d in zip(paths, dirs, strict=True)]
        results = []
        for fut in tqdm(futures, desc="videos", disable=not opts.progress, file=sys.stderr):
            if stop.is_set():
                for f in futures:
                    f.cancel()
            if not fut.cancelled():
                results.append(fut.result())
        return results
