"""Choose the fused estimator's eye fusion (``runtime.eye_fusion_cnn_weight``,
``eye_fusion_ear_weight``, ``eye_fusion_bias``) on the dev video.

Usage: python benchmarks/choose_fusion.py BLINKS_DEV_DIR [--models DIR] [--json OUT]
(BLINKS_DEV_DIR is the blinks_dev/ folder that benchmarks/make_eval_sets.py writes.)

The rule, fixed before the candidates' results were seen: one pass of the runtime pipeline
over the dev video records, per frame and eye, the two probabilities the fusion adds (the
driver-adapted CNN ensemble and the calibrated EAR estimate). Every candidate of the grid is
scored offline by per-frame closed F1 on the hand labels (the frames PERCLOS and closure
durations are built on); ties go to the better frame balanced accuracy, then to the smaller
CNN weight. Candidates are then run through ``drowsy evaluate blinks`` in that order and the
first one that ``drowsy.evaluate.fusion_acceptable`` (no alert on this awake driver, blink
precision >= 0.9) wins. Only the dev video is used; the test videos judge the result
afterwards (benchmarks/EVALUATION.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.evaluate import evaluate_blinks, fusion_acceptable, read_frame_labels  # noqa: E402
from drowsy.metrics import binary_metrics  # noqa: E402
from drowsy.pipeline import Pipeline  # noqa: E402
from drowsy.settings import Settings  # noqa: E402
from drowsy.sources import VideoFileSource  # noqa: E402
from drowsy.state.fusion import EyeFusion, logit, sigmoid  # noqa: E402

CNN_WEIGHTS = (0.5, 1.0, 1.5, 2.0)
GEOMETRY_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
BIASES = tuple(round(-6 + 0.5 * i, 1) for i in range(17))  # -6 ... 2
VERIFY_AT_MOST = 12


@dataclass
class Recorder:
    """Stands in for the estimator's fusion during the evidence pass: records what it is
    asked to fuse and answers as the shipped fusion would (so calibration sees the same)."""

    inner: EyeFusion
    calls: list[tuple[float, float]] = field(default_factory=list)

    def apply(self, p_cnn: float, p_geo: float) -> float:
        self.calls.append((p_cnn, p_geo))
        return self.inner.apply(p_cnn, p_geo)


def fused_settings(models: Path | None, fusion: EyeFusion | None = None) -> Settings:
    """The fused estimator on ``models`` (default: the shipped ones), with ``fusion`` if given."""
    settings = Settings()
    settings.runtime.estimator = "fused"
    if models is not None:
        settings.runtime.models_dir = str(models)
    if fusion is not None:
        settings.runtime.eye_fusion_cnn_weight = fusion.cnn_weight
        settings.runtime.eye_fusion_ear_weight = fusion.ear_weight
        settings.runtime.eye_fusion_bias = fusion.bias
    return settings


def record_evidence(
    video: Path, labels: dict[int, bool], settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) log-odds [cnn left, geo left, cnn right, geo right] and truth, labelled frames
    with a usable face only (the others are never called closed at any setting)."""
    rows, truth = [], []
    with VideoFileSource(video) as src, Pipeline(settings) as pipe:
        recorder = Recorder(pipe.estimator.fusion)  # type: ignore[attr-defined]
        pipe.estimator.fusion = recorder  # type: ignore[attr-defined]
        for frame in src:
            before = len(recorder.calls)
            r = pipe.process(frame)
            if frame.index not in labels or len(recorder.calls) != before + 2:
                continue
            if not r.signals.usable:
                continue
            (cl, gl), (cr, gr) = recorder.calls[-2:]
            rows.append([logit(cl), logit(gl), logit(cr), logit(gr)])
            truth.append(labels[frame.index])
    return np.asarray(rows), np.asarray(truth)


def score(evidence: np.ndarray, truth: np.ndarray, a: float, b: float, k: float) -> dict:
    left = [sigmoid(v) for v in a * evidence[:, 0] + b * evidence[:, 1] + k]
    right = [sigmoid(v) for v in a * evidence[:, 2] + b * evidence[:, 3] + k]
    closed = 0.5 * (np.asarray(left) + np.asarray(right)) >= Settings().signals.closed_threshold
    m = binary_metrics(truth, closed, "closed")
    return {"f1": m["f1_closed"] or 0.0, "ba": m["balanced_accuracy"] or 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--models", type=Path, help="model folder (default: the shipped models)")
    ap.add_argument("--json", type=Path, help="also write the candidates and the choice here")
    args = ap.parse_args()
    videos = sorted(args.folder.glob("*.avi"))
    if len(videos) != 1:
        print(f"error: expected one dev video in {args.folder}", file=sys.stderr)
        return 2
    labels = read_frame_labels(videos[0].with_suffix(".csv"))
    evidence, truth = record_evidence(videos[0], labels, fused_settings(args.models))
    print(f"evidence: {len(truth)} labelled frames, {int(truth.sum())} closed", flush=True)
    grid = []
    for a, b, k in itertools.product(CNN_WEIGHTS, GEOMETRY_WEIGHTS, BIASES):
        grid.append({"cnn": a, "geometry": b, "bias": k, **score(evidence, truth, a, b, k)})
    grid.sort(key=lambda r: (-r["f1"], -r["ba"], r["cnn"]))
    chosen = None
    for cand in grid[:VERIFY_AT_MOST]:
        fusion = EyeFusion(cand["cnn"], cand["geometry"], cand["bias"])
        settings = fused_settings(args.models, fusion)
        report = evaluate_blinks(args.folder, settings)
        cand["verified"] = {
            k: report[k] for k in ("frame_f1_closed", "blink_precision", "blink_recall", "alerts")
        }
        ok = fusion_acceptable(report)
        print(
            f"cnn {cand['cnn']:g} geometry {cand['geometry']:g} bias {cand['bias']:+g}: "
            f"frame F1 {cand['f1']:.3f} (run {report['frame_f1_closed']}), blink P/R "
            f"{report['blink_precision']}/{report['blink_recall']}, alerts {report['alerts']}"
            f" -> {'chosen' if ok else 'vetoed'}",
            flush=True,
        )
        if ok:
            chosen = cand
            break
    print("chosen:", "none meets the rule" if chosen is None else chosen)
    if args.json:
        out = {"top": grid[:VERIFY_AT_MOST], "chosen": chosen}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if chosen is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
