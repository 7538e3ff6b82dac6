"""Every face-level evaluation of benchmarks/EVALUATION.md in one run, for each estimator.

Usage: python benchmarks/evaluate_all.py EVAL_DIR [--json OUT]
(EVAL_DIR is what benchmarks/make_eval_sets.py writes.)

For the geometric, cnn and fused (default) estimators: eye state on eyes_test, yawn false
positives on yawn_test (talking/smiling webcam faces, portraits) and yawn_ckplus_test (CK+ faces
of subjects no model saw: smiles, wide-open surprised mouths), yawn_occluded_test (the same
faces with an object over the mouth: eating, drinking, smoking, phoning), blinks on blinks_dev
(the video choices are made on) and blinks_test; each beside its simple baseline. Prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.evaluate import evaluate_blinks, evaluate_eyes, evaluate_yawn  # noqa: E402
from drowsy.settings import Settings  # noqa: E402

ESTIMATORS = ("geometric", "cnn", "fused")


def run(folder: Path) -> dict:
    out: dict = {}
    for est in ESTIMATORS:
        s = Settings()
        s.runtime.estimator = est
        r: dict = {}
        if (folder / "eyes_test").is_dir():
            r["eyes_test"] = evaluate_eyes(folder / "eyes_test", s)
        for name in ("yawn_test", "yawn_ckplus_test", "yawn_occluded_test"):
            if (folder / name).is_dir():
                r[name] = evaluate_yawn(folder / name, s)
        for name in ("blinks_dev", "blinks_test"):
            if (folder / name).is_dir():
                r[name] = evaluate_blinks(folder / name, s)
        out[est] = r
        print(f"{est}: done", file=sys.stderr, flush=True)
    return out


def table(res: dict) -> str:
    rows = [
        ("eyes_test", "balanced accuracy", "balanced_accuracy"),
        ("eyes_test", "F1 closed", "f1_closed"),
        ("eyes_test", "false-positive rate", "false_positive_rate"),
        ("yawn_test", "false-positive rate", "false_positive_rate"),
        ("yawn_ckplus_test", "false-positive rate", "false_positive_rate"),
        ("yawn_occluded_test", "false-positive rate", "false_positive_rate"),
        ("blinks_test", "frame F1 closed", "frame_f1_closed"),
        ("blinks_test", "blink F1", "blink_f1"),
        (
            "blinks_test",
            "closure duration error (frames, median)",
            "closure_duration_median_error_frames",
        ),
        ("blinks_test", "alerts raised", "alerts"),
        ("blinks_dev", "frame F1 closed", "frame_f1_closed"),
        ("blinks_dev", "blink F1", "blink_f1"),
        ("blinks_dev", "alerts raised", "alerts"),
    ]
    lines = [
        "| set | metric | " + " | ".join(ESTIMATORS) + " | baseline |",
        "|---|---|" + "---|" * (len(ESTIMATORS) + 1),
    ]
    for name, label, key in rows:
        if name not in res[ESTIMATORS[0]]:
            continue
        cells = []
        for est in ESTIMATORS:
            v = res[est][name].get(key)
            cells.append(_cell(v))
        base = res["fused"][name].get("baseline", {})
        cells.append(_cell(base.get(key)) if key != "alerts" else "-")
        lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(v: object) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} x{n}" for k, n in v.items()) or "none"
    if isinstance(v, float):
        return f"{v:.3f}"
    return "-" if v is None else str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    res = run(args.folder)
    print(table(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
