"""Choose the fused estimator's CNN weight (``runtime.fusion_cnn_weight``) on the dev video.

Usage: python benchmarks/choose_fusion.py BLINKS_DEV_DIR [--json OUT]
(BLINKS_DEV_DIR is the blinks_dev/ folder that benchmarks/make_eval_sets.py writes.)

The rule, fixed before looking at any result: the dev video shows an awake driver, so any alert
on it is false and a false closure turns into a false alarm. Among the weights 0, 0.1, ..., 1
that raise no alert and detect blinks with precision >= 0.9, take the one with the best frame
balanced accuracy (ties: the smaller CNN weight, the one closer to the calibrated EAR). Only the
dev video is used; the test videos judge the result afterwards (benchmarks/EVALUATION.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.evaluate import choose_fusion_weight, evaluate_blinks  # noqa: E402
from drowsy.settings import Settings  # noqa: E402

WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


def evaluate_weight(folder: Path, weight: float) -> dict:
    settings = Settings()
    settings.runtime.estimator = "fused"
    settings.runtime.fusion_cnn_weight = weight
    report = evaluate_blinks(folder, settings)
    return {
        "weight": weight,
        "frame_balanced_accuracy": report["frame_balanced_accuracy"],
        "frame_f1_closed": report["frame_f1_closed"],
        "blink_precision": report["blink_precision"],
        "blink_recall": report["blink_recall"],
        "alerts": sum(report["alerts"].values()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--json", type=Path, help="also write the table here")
    args = ap.parse_args()
    rows = []
    for w in WEIGHTS:
        rows.append(evaluate_weight(args.folder, w))
        r = rows[-1]
        print(
            f"w={w:.1f}  frame BA {r['frame_balanced_accuracy']:.3f}  "
            f"blink P/R {r['blink_precision'] or 0:.2f}/{r['blink_recall'] or 0:.2f}  "
            f"alerts {r['alerts']}",
            flush=True,
        )
    best = choose_fusion_weight(rows)
    print("chosen:", "none meets the rule" if best is None else best["weight"])
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "chosen": best}, indent=2) + "\n")
    return 0 if best is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
