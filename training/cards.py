"""Model cards for the shipped ensembles, rendered from ``results.json`` of ``reproduce`` so
every number in a card is one the run measured."""

from __future__ import annotations

from pathlib import Path

from drowsy.inference.preprocess import MIN_STD
from drowsy.vision.crops import CROP_SPEC_VERSION, REGIONS
from training.recipes import TASKS

SOURCES = {
    "eyes": (
        "`../shared/data/eyes`: 726 open + 726 closed single-eye crops, colour, various people, "
        'max side 160 px; the public Kaggle "drowsiness dataset" eye images via a GitHub copy. '
        "**Terms: no licence stated, research use.**"
    ),
    "yawn": (
        '`../shared/data/yawn`: 2124 yawn + 2276 no-yawn mouth crops (~30-80 px; "yawn" means '
        'mouth wide open, some are open-mouth smiles); the public Kaggle "yawn dataset" via a '
        "GitHub copy, exact and cross-class duplicates removed. **Terms: no licence stated, "
        "research use.**"
    ),
}
CKPLUS = (
    "`../shared/data/mouth_negatives`: 981 CK+ (Extended Cohn-Kanade) expression faces of 118 "
    "people, 48 px grayscale, split by subject 70/15/15; cut by the runtime tracker after "
    "upscaling to 192 px. **Terms: research use only, non-commercial, do not redistribute** "
    "(the models learn from them; no image is shipped)."
)
CKPLUS_USE = {
    "eyes": "eyes of the train subjects with an open-eyed expression, and the same faces with "
    "their lids painted shut by the scenario renderer (taken through the original 48 px and "
    "back, so the paint is as blurred as the face): synthetic closed eyes on real faces of many "
    "people, training data only (never a test set)",
    "yawn": "mouths of the train subjects as no_yawn (smiles, wide-open surprised mouths, "
    "other expressions: hard negatives); validation subjects choose the voting and the MAR "
    "gate; test subjects are a held-out test source",
}
OTHER_SOURCES = (
    "Unlabelled pretraining crops and the pipeline-cut dev/test crops come from "
    "`../shared/data/videos` (webcam_glasses_*: a public university blink-detection project, "
    "personal non-commercial use only; stage_clip: MIT) and `../shared/data/portraits` (MIT). "
    "Frame labels of the webcam videos are ours (`benchmarks/blink_labels.json`)."
)


TASK_REGION = {"eyes": "left_eye", "yawn": "mouth"}


def _duration(results: dict) -> str:
    scratch = results.get("from_scratch_s")
    ckpt = results.get("checkpoints", {})
    text = "from nothing: " + (f"{scratch / 60:.0f} min" if scratch else "not measured")
    if ckpt.get("reused"):
        text += (
            f"; this card's run reused {ckpt['reused']} of "
            f"{ckpt['reused'] + ckpt.get('trained', 0)} checkpoints and took "
            f"{results['timings_s'].get('total', 0) / 60:.1f} min"
        )
    return text + " on 2 CPU cores, AMD EPYC"


def _f(x: object) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def _metric_rows(block: dict, sets: list[str], key: str) -> str:
    return " | ".join(_f(block[s].get(key)) if s in block else "-" for s in sets)


def _versus(ens: dict, best: dict, task: str) -> str:
    """Does the ensemble beat its best member (chosen by validation)? Say so either way."""
    keys = ["test", "test_pipeline"] if task == "eyes" else ["test"]
    parts = [
        f"{k}: ensemble {_f(ens[k]['balanced_accuracy'])} vs best member "
        f"{_f(best[k]['balanced_accuracy'])}"
        for k in keys
    ]
    wins = all(ens[k]["balanced_accuracy"] >= best[k]["balanced_accuracy"] for k in keys)
    verdict = (
        "The ensemble matches or beats its best member."
        if wins
        else "The ensemble does not beat its best member everywhere; it ships because which member "
        "is best changes from set to set (no single member is best on all of them), voting "
        "bounds the damage of the worst one, and member disagreement is kept for explanations."
    )
    return "Balanced accuracy, " + "; ".join(parts) + ". " + verdict


def render(task: str, results: dict) -> str:
    r = results[task]
    data = results["data"][task]
    sel = results["selection"]
    positive = "closed" if task == "eyes" else "yawn"
    sets = ["val", "test", "dev_pipeline", "test_pipeline"]
    lines = [
        f"# Model card: {task} ensemble (version {results.get('version', '1')})",
        "",
        f"Classifies a 64x64 grayscale aligned {'eye' if task == 'eyes' else 'mouth'} crop (cut "
        f"by `drowsy.vision.crops`, crop spec version {CROP_SPEC_VERSION}: "
        f"{REGIONS[TASK_REGION[task]].side_iod:g} inter-ocular distances wide) as "
        + ("open / closed" if task == "eyes" else "no_yawn / yawn")
        + ". Three small CNNs in ONNX, combined by voting in the runtime.",
        "",
        "## Data",
        f"- Labelled: {SOURCES[task]}",
        f"- Faces of many people: {CKPLUS}; used as {CKPLUS_USE[task]}.",
        f"- {OTHER_SOURCES}",
        f"- Splits (seeded, random): train {data['train']['n']}, val {data['val']['n']}, "
        f"test {data['test']['n']} of the labelled crops. Pipeline-cut crops: dev "
        f"{data['dev_pipeline']['n']} ({data['dev_pipeline']}), test {data['test_pipeline']['n']} "
        f"({data['test_pipeline']}).",
        f"- Self-supervised pretraining used {results['data']['unlabelled']} unlabelled crops: the "
        "labelled sets without labels plus tracker crops of the dev video, the stage clip, the "
        "portraits and the CK+ faces of the train and validation subjects. The two test videos "
        "and the CK+ test subjects were left out; but the person in the test videos is also the "
        "person in the dev video, and the portraits were pretraining input too: pretraining saw "
        "those test faces, without labels.",
    ]
    if task == "eyes":
        lines.append(
            "- **Test set of the target** (`test_pipeline`): crops the runtime pipeline cuts from "
            "the two test webcam videos (every hand-labelled closed frame, both eyes; every 4th "
            "open frame at least 3 frames from a closure) and from the 7 portraits (open). One "
            "person with glasses in two other recordings, plus 8 portrait faces: no fine-tuning "
            "label came from them (self-supervised pretraining saw them unlabelled, see above)."
        )
    else:
        lines.append(
            "- **Talking / smiling check** (`dev_pipeline`, `test_pipeline`): mouth crops the "
            "pipeline cuts from the webcam videos (a person talking and moving) and the portraits "
            "(several smiling, one with open-mouth smile): all are not yawns, so the number to "
            "read there is the false-positive rate."
        )
    lines += [
        "",
        "## Training",
        f"- Pretext task chosen by validation: **{sel['pretext']}** "
        f"(scores {sel['pretext_scores']}); "
        f"fine-tuning mode: **{sel['mode']}** (scores {sel['mode_scores']}). Protocol: "
        f"{sel['protocol']}.",
        "- Full fine-tuning runs at a tenth of the pretraining learning rate; random "
        "initialisation trains at the pretraining rate (its best chance) with the same step "
        "budget.",
        "- Augmentations: scale, rotation, off-centre shift, flip, low resolution (down to 10 px, "
        "eyes ~8 px wide), blur, glasses glare, gamma/contrast/brightness, noise, JPEG"
        + (
            "; for mouths also an object in front of the mouth in 40 % of crops (a hand, phone, "
            "cup, cigarette or food), in both classes, so an object is not evidence of a yawn."
            if task == "yawn"
            else "."
        ),
        "",
        "## Members and voting",
        "",
        "balanced accuracy on each set (false-positive rate where a set has one class):",
        "",
        "| | " + " | ".join(sets) + " | FPR test_pipeline |",
        "|---|" + "---|" * (len(sets) + 1),
    ]
    for name, m in r["members"].items():
        lines.append(
            f"| {name} | {_metric_rows(m, sets, 'balanced_accuracy')} | "
            f"{_f(m['test_pipeline']['false_positive_rate'])} |"
        )
    for mode, m in r["voting"].items():
        lines.append(
            f"| **{mode} voting** | {_metric_rows(m, sets, 'balanced_accuracy')} | "
            f"{_f(m['test_pipeline']['false_positive_rate'])} |"
        )
    if "baseline_ear" in r:
        b = r["baseline_ear"]
        lines.append(
            f"| EAR < 0.2 baseline | - | - | {_f(b['dev_pipeline']['balanced_accuracy'])} | "
            f"{_f(b['test_pipeline']['balanced_accuracy'])} | "
            f"{_f(b['test_pipeline']['false_positive_rate'])} |"
        )
    sel_sets = "val + dev_pipeline" if task == "eyes" else "val"
    n_seeds = len(next(iter(results["label_efficiency"][task].values()))["test"]["runs"])
    best_member = max(r["members"].values(), key=lambda m: m["val"]["balanced_accuracy"])
    d = r["default_voting"]
    lines += [
        "",
        f"Default voting: **{d}**, the best mode on validation ({sel_sets}); "
        f"weights (validation accuracy): {r['weights']}.",
        _versus(r["voting"][d], best_member, task),
        "",
        f"{positive} confusion of the default ensemble on test_pipeline: "
        f"{r['voting'][d]['test_pipeline']['confusion']}",
        "",
        "## Label efficiency",
        "",
        f"cnn_s, {sel['pretext']} backbone vs random initialisation, same step budget; balanced "
        f"accuracy on the test split (mean ± std over {n_seeds} seeds)"
        + (" and on test_pipeline" if task == "eyes" else " and 1 - FPR on test_pipeline")
        + ":",
        "",
        "| labels | pretrained: test | random: test | pretrained: pipeline | random: pipeline |",
        "|---|---|---|---|---|",
    ]
    le = results["label_efficiency"][task]
    fracs = sorted({k.split(":")[0] for k in le}, key=float)
    for frac in fracs:
        p, q = le[f"{frac}:pretrained"], le[f"{frac}:random"]
        cells = [f"{x[s]['mean']:.3f} ± {x[s]['std']:.3f}" for s in ("test",) for x in (p, q)]
        cells += [
            f"{x[s]['mean']:.3f} ± {x[s]['std']:.3f}" for s in ("test_pipeline",) for x in (p, q)
        ]
        lines.append(f"| {float(frac):.0%} | " + " | ".join(cells) + " |")
    lines += _loso_lines(task, results) + _gate_lines(task, r)
    lines += [
        "",
        "## Files",
        "",
        "| member | bytes | sha256 | torch vs ONNX Runtime max abs diff |",
        "|---|---|---|---|",
    ]
    for e in r["export"]:
        lines.append(
            f"| {e['file']} | {e['bytes']} | `{e['sha256'][:16]}...` "
            f"| {e['parity_max_abs_diff']:.1e} |"
        )
    lines += [
        "",
        "Inputs: `input` (N, 1, 64, 64) float32: gray/255, standardised per crop (minus the "
        f"crop's mean, over its standard deviation, at least {MIN_STD:g}). Outputs: "
        "`probs`, `logits`, `features` (last conv map) and `grad_features` (Grad-CAM gradients).",
        "",
        "## Reproduce",
        "",
        "`python -m training reproduce --force` (all stages; " + _duration(results) + ").",
        "",
        "## Known weaknesses",
    ]
    lines += WEAKNESSES[task]
    return "\n".join(lines) + "\n"


def _cell(block: dict | None, key: str = "balanced_accuracy") -> str:
    return "-" if not block else _f(block.get(key))


def _loso_lines(task: str, results: dict) -> list[str]:
    rows = results.get("loso", {}).get(task)
    if not rows:
        return []
    base_names = sorted({k for r in rows for k in r.get("baseline", {})})
    lines = [
        "",
        "## Leave-one-source-out",
        "",
        "Each source held out in turn: a cnn_s member trained without it (same recipe as m1), the "
        "shipped ensemble (which never trained on a held-out face-level source either) and the "
        "geometric baseline on the same crops. Balanced accuracy; where a source has one class "
        "(all open, all no_yawn) that is 1 - false-positive rate.",
        "",
        "| held-out source | trained on | n | model | shipped ensemble | "
        + ("shipped decision (MAR gate) | " if task == "yawn" else "")
        + " | ".join(base_names)
        + " |",
        "|---|---|---|---|---|" + ("---|" if task == "yawn" else "") + "---|" * len(base_names),
    ]
    for r in rows:
        if "not_measurable" in r:
            lines.append(f"| {r['source']} | not measurable: {r['not_measurable']} |")
            continue
        cells = [r["source"], r["trained_on"], str(r["n"]), _cell(r["model"])]
        cells.append(_cell(r["shipped_ensemble"]))
        if task == "yawn":
            cells.append(_cell(r.get("shipped_decision")))
        cells += [_cell(r.get("baseline", {}).get(b)) for b in base_names]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _gate_lines(task: str, r: dict) -> list[str]:
    g = r.get("mar_gate")
    if task != "yawn" or not g:
        return []
    return [
        "",
        "## The yawn decision: ensemble x MAR gate",
        "",
        "The runtime multiplies the ensemble's yawn probability by a soft gate on the "
        f"mouth-aspect ratio, sigmoid((MAR - {g['center']:g}) / {g['softness']:g}) "
        "(`drowsy.state.fusion.MarGate`): an object in front of a closed mouth is not a yawn, "
        "whatever the crop looks like."
        f" Center chosen on validation by a rule fixed in advance ({g['rule']}); "
        f"false-positive rate of the gated decision on those negatives by center: "
        f"{g['validation_fpr']}. Shipped in ensemble.json as `mar_gate`.",
    ]


WEAKNESSES = {
    "eyes": [
        "- The pipeline-cut test set is small (one person with glasses, 22 closed crops) plus "
        "portraits: its balanced accuracy moves by several points with one crop.",
        "- Glasses glare, very dim frames (webcam_glasses_6) and downward glances (lids low, eye "
        "open) are the hard cases; a half-closed eye is ambiguous by definition.",
        "- Trained on close-up crops of mostly adults; not checked on near-infrared cabin cameras, "
        "children, or heavy make-up.",
        "- The closed eyes of the CK+ pairs are painted (flat eyelid skin and a lash line): real "
        "closed eyes have creases and lashes the paint lacks.",
    ],
    "yawn": [
        '- "yawn" in the training data means "mouth wide open": a wide-open laugh or a shout '
        "looks the same to a single frame; the 2 s rule of the alert engine filters short ones.",
        "- No pipeline-cut yawning mouths exist in the data, so recall on pipeline crops is not "
        "measured, only false positives on talking and smiling mouths.",
        "- Objects in front of the mouth are synthetic shapes (augmentation), not photographs of "
        "hands, food or phones; the MAR gate covers what they miss when the mouth stays closed.",
        "- A driver yawning behind a hand: the gate sees the mouth landmarks MediaPipe guesses "
        "under the hand; such a yawn may be missed.",
    ],
}


def write_cards(results: dict, out: Path) -> None:
    for task in TASKS:
        if task in results:
            (out / task / "MODEL_CARD.md").write_text(render(task, results), encoding="utf-8")
