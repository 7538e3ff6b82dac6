"""``drowsy fleet``: every video under a folder analysed as a Ray task, on one machine or a
cluster, with fleet-wide tables (Parquet) and one alert log.

Videos are named by their path relative to the input folder (two ``trip.avi`` in different
folders are two videos) and identified by their content hash: a re-run skips videos whose
finished results are in the output folder and redoes failed or interrupted ones. A task whose
worker dies (killed, out of memory, node lost) is retried by Ray. Tasks write only their own
output folder; the alert log is SQLite, which has one writer, so the driver process imports each
finished video's alerts and images into it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from drowsy.alertlog import AlertFilter, AlertLog
from drowsy.analyze import (
    AnalyzeOptions,
    already_done,
    analyze_video,
    file_sha256,
    prepare_out_dir,
)
from drowsy.contracts import Alert, AlertKind, AlertLevel
from drowsy.errors import UserError
from drowsy.report.html import write_index
from drowsy.settings import Settings
from drowsy.summary import SessionSummary

VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm"})
TASK_RETRIES = 3  # a task whose worker process dies is run again, up to this many times
INSTALL_HINT = (
    "drowsy fleet needs Ray and pyarrow: pip install 'drowsy[fleet]' "
    '(from a checkout: pip install -e ".[fleet]")'
)


@dataclass(frozen=True)
class FleetVideo:
    """One video of the fleet: where it is, its name in the fleet and its output folder."""

    path: Path
    relative: str
    out_dir: Path


@dataclass(frozen=True)
class FleetResult:
    """One video of a fleet run: its status and summary, or its error."""

    video: FleetVideo
    status: str  # finished, interrupted, failed, skipped (finished by an earlier run)
    summary: SessionSummary | None = None
    error: str | None = None
    session_id: int | None = None  # its session in the alert log, once imported


def find_videos(in_dir: Path, out_dir: Path) -> list[FleetVideo]:
    """Every video file under ``in_dir`` (recursively, sorted), outputs mirrored under
    ``out_dir`` by relative path. The output folder itself is never searched."""
    if not in_dir.is_dir():
        raise UserError(f"{in_dir}: no such folder")
    out = out_dir.resolve()
    if out == in_dir.resolve():
        # outputs are named by the videos' paths (IN/a.avi -> OUT/a.avi/): in the input
        # folder itself each output folder would be its own video, and IN/fleet/ the tables
        raise UserError(
            f"--out {out_dir} is the input folder: choose another (e.g. {in_dir}/../fleet-out)"
        )
    denied: list[str] = []

    def refused(exc: OSError) -> None:  # a folder we may not list is said, never skipped
        denied.append(f"{exc.filename}: {exc.strerror.lower() if exc.strerror else exc}")

    paths = []
    for folder, _dirs, files in os.walk(in_dir, onerror=refused):
        paths += [Path(folder) / f for f in files]
    found = []
    for path in sorted(paths):
        if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
            continue
        if path.resolve().is_relative_to(out):
            continue
        rel = path.relative_to(in_dir).as_posix()
        found.append(FleetVideo(path, rel, out_dir / rel))
    if denied and not found:
        raise UserError(f"{in_dir}: cannot list {'; '.join(denied)}")
    for why in denied:
        print(f"warning: {why} (its videos are not analysed)", file=sys.stderr)
    if not found:
        raise UserError(f"{in_dir}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) under it")
    return found


def analyze_task(path: str, out_dir: str, settings: dict) -> dict:
    """One video on a Ray worker: analyse into its folder, no alert log. Errors that rerunning
    cannot fix (a corrupt video) are returned, not raised, so Ray does not retry them."""
    opts = AnalyzeOptions(
        Path(out_dir), None, Settings.model_validate(settings), progress=False, pipelined=False
    )
    try:
        return {"summary": analyze_video(Path(path), Path(out_dir), opts)}
    except UserError as exc:
        return {"error": str(exc)}


def _ray():
    try:
        import pyarrow  # noqa: F401
        import ray
    except ImportError as exc:
        raise UserError(INSTALL_HINT) from exc
    return ray


def run_fleet(
    in_dir: Path,
    out_dir: Path,
    settings: Settings,
    log_path: Path,
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    quiet: bool = False,
) -> list[FleetResult]:
    """Analyse every video under ``in_dir`` on Ray; write the fleet tables, index and log.
    ``progress``: a bar over videos (a terminal); otherwise, unless ``quiet``, one line per
    finished video."""
    ray = _ray()
    videos = find_videos(in_dir, out_dir)
    prepare_out_dir(out_dir)
    todo = [v for v in videos if not already_done(v.path, v.out_dir)]
    with AlertLog(log_path) as log:
        # a video finished by an earlier run keeps the log session that run imported it as
        earlier = {s.source: s.id for s in log.sessions()}  # the newest per source
        results = {
            v.relative: FleetResult(v, "skipped", session_id=earlier.get(v.relative))
            for v in videos
            if v not in todo
        }
        if todo:
            runs = _run_on_ray(ray, todo, settings, workers, address, progress, quiet)
            for k, result in enumerate(runs, 1):
                if not progress and not quiet:
                    print(
                        f"[{k}/{len(todo)}] {result.video.relative}: {result.status}",
                        file=sys.stderr,
                        flush=True,
                    )
                if result.summary is not None:
                    result = replace(result, session_id=import_into_log(log, result))
                results[result.video.relative] = result
        reviews: Reviews = {
            (a.session_id, a.start_frame, a.kind): (a.review, a.review_note)
            for a in log.alerts(AlertFilter(reviewed=True))
        }
    ordered = [results[v.relative] for v in videos]
    write_tables(ordered, out_dir / "fleet", out_dir, reviews)
    write_index(out_dir / "fleet", [v.out_dir for v in videos], [v.relative for v in videos])
    return ordered


def _run_on_ray(
    ray, todo: list[FleetVideo], settings: Settings, workers, address, progress, quiet
) -> Iterator[FleetResult]:
    # Ray's own start-up lines (token set-up, "Started a local Ray instance") only when asked
    level = logging.ERROR if quiet else logging.WARNING
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=level)
    else:
        ray.init(
            num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=level
        )
    try:
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(analyze_task)
        dump = settings.model_dump()
        # ObjectRef -> its video
        pending = {task.remote(str(v.path), str(v.out_dir), dump): v for v in todo}
        bar = tqdm(total=len(todo), desc="videos", unit="video", disable=not progress)
        with bar:
            while pending:
                (done,), _ = ray.wait(list(pending), num_returns=1)
                video = pending.pop(done)
                yield _collect(ray, done, video)
                bar.update(1)
    finally:
        ray.shutdown()


def _collect(ray, ref, video: FleetVideo) -> FleetResult:
    try:
        out = ray.get(ref)
    except ray.exceptions.RayError as exc:  # retries exhausted: the worker kept dying
        return FleetResult(video, "failed", error=f"{video.relative}: {exc}")
    if "error" in out:
        return FleetResult(video, "failed", error=out["error"])
    summary = out["summary"]
    return FleetResult(video, "interrupted" if summary.interrupted else "finished", summary)


def import_into_log(log: AlertLog, result: FleetResult) -> int:
    """One session for the video, holding its alerts and their images (from its folder)."""
    summary = result.summary or SessionSummary(source=result.video.relative)
    folder = result.video.out_dir
    events = json.loads((folder / "events.json").read_text(encoding="utf-8"))
    # the session's times are the analysis's own (on whichever node), not the import's
    started, rate = summary.started_at, summary.realtime_factor
    sid = log.start_session(result.video.relative, {}, summary.models, started)
    for a in events.get("alerts", []):
        alert = Alert(
            uid=a["id"],
            kind=AlertKind(a["kind"]),
            level=AlertLevel(a["level"]),
            start_s=a["start_s"],
            start_frame=a.get("start_frame", 0),
            end_s=a.get("end_s"),
            peak=a.get("peak", {}),
            evidence=a.get("evidence", {}),
            levels=a.get("levels", {}),
        )
        raised = None
        if started and rate:  # when the analysis got to it
            at = datetime.fromisoformat(started) + timedelta(seconds=alert.start_s / rate)
            raised = at.isoformat(timespec="seconds")
        alert_id = log.record(sid, alert, raised_at=raised)
        if a.get("clip") or a.get("clip_error"):
            clip = str(folder / a["clip"]) if a.get("clip") else None
            span = a.get("clip_span_s") or [None]
            log.set_clip(alert_id, clip, a.get("clip_error"), span[0])
        for rel in a.get("images", []):
            image = folder / rel
            if image.is_file():
                role = image.stem.split("_", 1)[1] if "_" in image.stem else image.stem
                log.add_image(alert_id, role, image.read_bytes())
    log.end_session(
        sid,
        summary.to_dict(),
        interrupted=result.status == "interrupted",
        ended_at=summary.ended_at,
    )
    return sid


def video_row(r: FleetResult) -> dict:
    s = r.summary or _read_summary(r.video.out_dir)
    by_kind = s.alerts_by_kind if s else {}
    sha = s.source_sha256 if s else None
    if sha is None and r.status == "failed":
        sha = file_sha256(r.video.path)
    return {
        "path": r.video.relative,
        "sha256": sha,
        "status": "finished" if r.status == "skipped" else r.status,
        "analysed_now": r.status != "skipped",
        "duration_s": s.duration_s if s else None,
        "frames": s.frames if s else None,
        "face_found_rate": s.face_found_rate if s else None,
        "blinks": s.blinks if s else None,
        "perclos_max": s.perclos_max if s else None,
        "alerts": s.alerts_raised if s else None,
        **{f"alerts_{k.value}": int(by_kind.get(k.value, 0)) for k in AlertKind},
        "error": r.error,
    }


Reviews = dict[tuple[int | None, int, str], tuple[str | None, str | None]]


def event_rows(r: FleetResult, out_dir: Path | None = None, reviews: Reviews | None = None):
    """One row per alert of the video: with its clip (relative to the fleet's ``out_dir``)
    and, once a reviewer has judged it in the fleet's log, the review."""
    path = r.video.out_dir / "events.json"
    if r.status == "failed" or not path.is_file():
        return []
    events = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for a in events.get("alerts", []):
        clip = None
        if a.get("clip"):
            clip_path = r.video.out_dir / a["clip"]
            clip = clip_path.relative_to(out_dir).as_posix() if out_dir else str(clip_path)
        review, note = (reviews or {}).get(
            (r.session_id, a.get("start_frame", 0), a["kind"]), (None, None)
        )
        rows.append(
            {
                "video": r.video.relative,
                "alert_id": a["id"],
                "kind": a["kind"],
                "level": a["level"],
                "start_s": a["start_s"],
                "end_s": a.get("end_s"),
                "duration_s": a.get("duration_s"),
                "peak": sorted((k, float(v)) for k, v in a.get("peak", {}).items()),
                "session_id": r.session_id,
                "clip": clip,
                "review": review,
                "review_note": note,
            }
        )
    return rows


def _read_summary(folder: Path) -> SessionSummary | None:
    try:
        return SessionSummary.read(folder / "summary.json")
    except (OSError, ValueError, TypeError):
        return None


def write_tables(
    results: list[FleetResult],
    folder: Path,
    out_dir: Path | None = None,
    reviews: Reviews | None = None,
) -> None:
    """``videos.parquet`` (one row per video) and ``events.parquet`` (one row per alert)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    videos = pa.Table.from_pylist([video_row(r) for r in results])
    events_schema = pa.schema(
        [
            ("video", pa.string()),
            ("alert_id", pa.int64()),
            ("kind", pa.string()),
            ("level", pa.string()),
            ("start_s", pa.float64()),
            ("end_s", pa.float64()),
            ("duration_s", pa.float64()),
            ("peak", pa.map_(pa.string(), pa.float64())),
            ("session_id", pa.int64()),
            ("clip", pa.string()),
            ("review", pa.string()),
            ("review_note", pa.string()),
        ]
    )
    rows = [row for r in results for row in event_rows(r, out_dir, reviews)]
    try:
        pq.write_table(videos, folder / "videos.parquet")
        pq.write_table(pa.Table.from_pylist(rows, schema=events_schema), folder / "events.parquet")
    except OSError as exc:
        raise UserError(f"cannot write the fleet tables in {folder}: {exc}") from exc


def print_results(results: list[FleetResult], out_dir: Path) -> int:
    counts = {k: sum(r.status == k for r in results) for k in ("finished", "skipped")}
    failed = [r for r in results if r.status in ("failed", "interrupted")]
    for r in failed:
        print(f"error: {r.error or r.video.relative + ': interrupted'}", file=sys.stderr)
    print(
        f"{counts['finished']} analysed, {counts['skipped']} skipped (already done), "
        f"{len(failed)} failed; tables and index in {out_dir / 'fleet'}"
    )
    return 0 if not failed else (2 if len(failed) == len(results) else 1)
