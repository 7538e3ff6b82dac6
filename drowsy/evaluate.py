"""``drowsy evaluate``: measure the pipeline on labelled real data, beside a plain baseline.

Every report carries ``baseline``: the same metrics for a fixed eye-aspect-ratio threshold
(mouth-aspect-ratio for yawns) on the same images, so the models' advantage (or its absence)
is visible in one place.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from drowsy.contracts import Calibration, Frame
from drowsy.errors import UserError
from drowsy.metrics import binary_metrics, match_episodes, runs
from drowsy.pipeline import Pipeline
from drowsy.session import Session, SessionListener, SessionOptions
from drowsy.settings import Settings
from drowsy.sources import IMAGE_SUFFIXES, file_choice, read_image

log = logging.getLogger(__name__)

BASELINE_EAR_CLOSED = 0.2  # the classic fixed threshold (Soukupová & Čech 2016)
BASELINE_MAR_YAWN = 0.5  # the strongest simple rule measured on in-car frames (issue 11)


def _class_images(root: Path, names: tuple[str, str]) -> list[tuple[Path, bool]]:
    """(image, is_positive) for the two class folders; positive is ``names[1]``."""
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    items = []
    for positive, name in ((False, names[0]), (True, names[1])):
        folder = root / name
        if not folder.is_dir():
            raise UserError(f"{root}: expected a folder {name}/ (and {'/ '.join(names)}/)")
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
        items += [(p, positive) for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
        if others:
            log.warning(
                "%s: %d file%s not an image (e.g. %s), skipped",
                folder,
                len(others),
                "s" if len(others) != 1 else "",
                others[0].name,
            )
    if not items:
        raise UserError(f"{root}: no images in {names[0]}/ or {names[1]}/")
    return items


def _evaluate_images(root: Path, settings: Settings, task: str) -> dict:
    names = ("open", "closed") if task == "eyes" else ("no_yawn", "yawn")
    positive = names[1]
    items = _class_images(root, names)
    truth, model, baseline = [], [], []
    found = skipped = 0
    default = Calibration()
    thr = settings.signals.closed_threshold if task == "eyes" else settings.signals.yawn_threshold
    with Pipeline(settings, static_images=True) as pipe:
        for path, label in items:
            image = read_image(path)
            if image is None:
                skipped += 1
                log.warning("%s: not a readable image, skipped", path)
                continue
            obs = pipe.tracker.process(Frame(image, 0.0, 0))
            truth.append(label)
            if not obs.present:  # no face: predicted negative ("open" / "no_yawn")
                model.append(False)
                baseline.append(False)
                continue
            found += 1
            probs = pipe.estimator.estimate(obs, default)
            if task == "eyes":
                p = 0.5 * (probs.eye_closed_left + probs.eye_closed_right)
                ear = 0.5 * (obs.ear_left + obs.ear_right)  # type: ignore[operator]
                base = ear < BASELINE_EAR_CLOSED
            else:
                p = probs.yawn
                base = obs.mar >= BASELINE_MAR_YAWN  # type: ignore[operator]
            model.append(p >= thr)
            baseline.append(base)
        source = pipe.estimator.name
    n = len(truth)
    report = binary_metrics(truth, model, positive)
    report.update(
        task=task,
        face_found_rate=round(found / n, 4) if n else 0.0,
        skipped_unreadable=skipped,
        per_class={name: sum(t == (name == positive) for t in truth) for name in names},
        probability_source=source,
    )
    base = binary_metrics(truth, baseline, positive)
    base["rule"] = (
        f"EAR < {BASELINE_EAR_CLOSED}" if task == "eyes" else f"MAR >= {BASELINE_MAR_YAWN}"
    )
    report["baseline"] = base
    return report


def evaluate_eyes(root: Path, settings: Settings) -> dict:
    return _evaluate_images(root, settings, "eyes")


def evaluate_yawn(root: Path, settings: Settings) -> dict:
    return _evaluate_images(root, settings, "yawn")


def read_frame_labels(path: Path) -> dict[int, bool]:
    """``frame,closed`` CSV -> {frame index: closed}."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"frame", "closed"} <= set(reader.fieldnames):
                raise UserError(f"{path}: expected a header 'frame,closed'")
            return {int(r["frame"]): r["closed"].strip() in ("1", "true", "True") for r in reader}
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable labels ({exc})") from exc


def _frames_error(pairs, truth, detected, periods) -> float | None:
    """Median |detected - true| closure duration in frames of each episode's own video."""
    errors = [
        abs((detected[j][1] - detected[j][0]) - (truth[i][1] - truth[i][0])) / periods[i]
        for i, j in pairs
    ]
    return round(float(np.median(errors)), 2) if errors else None


class _LabelledFrames(SessionListener):
    """Collects, for every labelled frame, the truth, the pipeline's decision and the EAR
    baseline's, on the time axis shared by all videos."""

    def __init__(self, labels: dict[int, bool], offset: float, thr: float) -> None:
        self.labels, self.offset, self.thr = labels, offset, thr
        self.times: list[float] = []
        self.truth: list[bool] = []
        self.model: list[bool] = []
        self.base: list[bool] = []

    def result(self, r) -> None:
        if r.frame.index not in self.labels:
            return
        s = r.signals
        self.times.append(r.frame.timestamp_s + self.offset)
        self.truth.append(self.labels[r.frame.index])
        self.model.append(bool(s.usable and s.eye_closed is not None and s.eye_closed >= self.thr))
        self.base.append(bool(s.ear is not None and s.ear < BASELINE_EAR_CLOSED))


def evaluate_blinks(root: Path, settings: Settings) -> dict:
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    videos = sorted(p for p in root.iterdir() if p.suffix.lower() in (".avi", ".mp4"))
    if not videos:
        raise UserError(f"{root}: no *.avi or *.mp4 videos")
    thr = settings.signals.closed_threshold
    all_truth: list[bool] = []
    all_model: list[bool] = []
    all_base: list[bool] = []
    ep_true: list[tuple[float, float]] = []
    periods: list[float] = []  # frame period of the video each true episode is in
    ep_model: list[tuple[float, float]] = []
    ep_base: list[tuple[float, float]] = []
    alerts: Counter[str] = Counter()
    faces = frames_seen = 0
    per_video = {}
    offset = 0.0  # videos are laid end to end on one time axis so episodes never mix
    for video in videos:
        labels_path = video.with_suffix(".csv")
        if not labels_path.exists():
            raise UserError(f"{video}: missing labels {labels_path.name}")
        labels = read_frame_labels(labels_path)
        frames = _LabelledFrames(labels, offset, thr)
        choice, source = file_choice(video)
        session = Session(
            settings, choice, source, None, SessionOptions(keep_episodes=True), frames
        )
        result = session.run()
        alerts.update(result.alerts_by_kind)
        faces, frames_seen = faces + session.tally.face_frames, frames_seen + result.frames
        times, truth, model, base = frames.times, frames.truth, frames.model, frames.base
        episodes = [
            (e.start_s + offset, e.end_s + offset)
            for e in session.tally.episodes
            if e.kind in ("blink", "long_blink", "closure")
        ]
        end = (times[-1] if times else offset) + 1.0 / (result.source_fps or 30.0)
        if len(times) != len(labels):
            log.warning(
                "%s: %d labelled frames, %d decoded and labelled", video, len(labels), len(times)
            )
        vt, vb = runs(truth, times, end), runs(base, times, end)
        per_video[video.name] = {
            "frames": len(times),
            "blinks_true": len(vt),
            "blinks_detected": len(episodes),
            "frame_f1_closed": binary_metrics(truth, model, "closed")["f1_closed"],
        }
        ep_true += vt
        periods += [1.0 / (result.source_fps or 30.0)] * len(vt)
        ep_model += episodes
        ep_base += vb
        all_truth += truth
        all_model += model
        all_base += base
        offset = end + 10.0

    def block(pred: list[bool], detected: list[tuple[float, float]]) -> dict:
        m = binary_metrics(all_truth, pred, "closed")
        ep = match_episodes(ep_true, detected)
        return {
            "frames": m["n"],
            "frame_f1_closed": m["f1_closed"],
            "frame_balanced_accuracy": m["balanced_accuracy"],
            "blinks_true": ep["true"],
            "blinks_detected": ep["detected"],
            "blinks_matched": ep["matched"],
            "blink_precision": ep["precision"],
            "blink_recall": ep["recall"],
            "blink_f1": ep["f1"],
            "closure_duration_median_error_ms": (
                None
                if ep["duration_median_abs_error_s"] is None
                else round(1000 * ep["duration_median_abs_error_s"], 1)
            ),
            "closure_duration_median_error_frames": _frames_error(
                ep["pairs"], ep_true, detected, periods
            ),
        }

    report = block(all_model, ep_model)
    report.update(
        alerts=dict(sorted(alerts.items())),
        face_found_rate=round(faces / frames_seen, 4) if frames_seen else 0.0,
        videos=per_video,
    )
    baseline: dict = block(all_base, ep_base)
    baseline["rule"] = f"EAR < {BASELINE_EAR_CLOSED}, every run of closed frames is a blink"
    report["baseline"] = baseline
    return report
