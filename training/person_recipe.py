"""Eye and yawn members trained on many people, every choice made out-of-fold by person.

One recipe per task (:class:`MemberRecipe`: architecture, steps, learning rate, augmentation),
trained from random initialisation: with 26k labelled eye crops of 160+ people the labels are no
longer the bottleneck that self-supervised pretraining was there to ease (``training selfsup``
measured that trade on the old sets; on this protocol a rotation-pretrained backbone per fold,
``MemberRecipe.pretext``, lost to random initialisation: docs/PROTOCOL.md, tenth amendment).
The shipped eye and yawn members are also distilled from a twice-as-wide network trained by the
same recipe on the same crops (``MemberRecipe.teacher``; eleventh and thirteenth amendments):
the cheap network's cost with the wide one's accuracy.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from training.data import TASK_CLASSES, CropSet
from training.models import CropNet
from training.people import PeopleSet
from training.protocol import FOLDS, Split, out_of_fold
from training.recipes import PretrainConfig
from training.train import FinetuneConfig, finetune, predict, pretrain

log = logging.getLogger(__name__)


# the steps of each task's base recipe (training/person_build.py): candidates name the rest
BASE_STEPS = {"eyes": 1500, "yawn": 1000}


@dataclass(frozen=True)
class MemberRecipe:
    task: str = "eyes"
    arch: str = "cnn_t32"
    steps: int = 1500
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0
    occlude_p: float = 0.0  # yawn: objects drawn in front of the mouth, as negatives
    # draw each crop with weight (crops of its source)^-alpha: 0 = as they come (MRL, 12k
    # close-ups, dominates); 0.5 = square-root balancing, the small video sources count more
    source_alpha: float = 0.0
    # eyes: add the painted-shut daylight faces of the training people (Split.extra)
    painted: bool = False
    # small-loss truncation (FinetuneConfig.drop_hard; docs/PROTOCOL.md, eighth amendment)
    drop_hard: float = 0.0
    # start from a backbone pretrained on the training crops by this pretext, labels unused
    # ("" = random initialisation; tenth amendment)
    pretext: str = ""
    # distilled from a network of this architecture trained by the same recipe on the same
    # crops ("" = no teacher; eleventh and thirteenth amendments)
    teacher: str = ""

    @property
    def key(self) -> str:
        """Cache key of its OOF predictions (fields at their default that were added later
        are left out, so earlier caches stay valid)."""
        fields = asdict(self)
        for late in ("source_alpha", "painted", "drop_hard", "pretext", "teacher"):
            if not fields[late]:
                del fields[late]
        return "-".join(str(v) for v in fields.values())

    @property
    def label(self) -> str:
        """Candidate name: the architecture and what differs from the task's base recipe."""
        balanced = f"_sources{self.source_alpha:g}" if self.source_alpha else ""
        steps = "" if self.steps == BASE_STEPS.get(self.task) else f"_{self.steps}steps"
        painted = "_painted" if self.painted else ""
        drop = f"_drophard{self.drop_hard:g}" if self.drop_hard else ""
        pretext = f"_{self.pretext}" if self.pretext else ""
        taught = f"_from_{self.teacher}" if self.teacher else ""
        return f"{self.arch}{balanced}{painted}{drop}{pretext}{taught}{steps}_seed{self.seed}"

    @property
    def teacher_recipe(self) -> MemberRecipe | None:
        """The recipe of its teacher: the same one with the teacher's architecture."""
        return replace(self, arch=self.teacher, teacher="") if self.teacher else None

    def finetune_config(self, backbone: str | None = None) -> FinetuneConfig:
        kd = KD_TEMPERATURE if self.teacher else 0.0
        return FinetuneConfig(
            task=self.task,
            arch=self.arch,
            backbone=backbone,
            mode="full",
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            occlude_p=self.occlude_p,
            drop_hard=self.drop_hard,
            kd_temperature=kd,
        )


# eleventh amendment: the temperature of the teacher's softened answers
KD_TEMPERATURE = 2.0

# the tenth amendment's pretraining budget, PretrainConfig's 600 steps of 64 crops for the
# 1500-step recipe of 128, as shares of the recipe's (so a tiny test recipe pretrains briefly)
PRETRAIN_SHARE = 0.4


def train_member(
    recipe: MemberRecipe,
    images: np.ndarray,
    labels: np.ndarray,
    sources: np.ndarray | None = None,
    teacher: CropNet | None = None,
) -> CropNet:
    """One member on these crops; ``teacher``: the trained network of
    ``recipe.teacher_recipe`` on the same crops, when the recipe is distilled."""
    if bool(recipe.teacher) != (teacher is not None):
        raise ValueError(f"{recipe.label}: a distilled recipe needs its teacher, others none")
    crops = CropSet(images, labels.astype(np.int64), TASK_CLASSES[recipe.task])
    weights = None
    if recipe.source_alpha and sources is not None:
        _, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
        weights = counts[inverse].astype(float) ** -recipe.source_alpha
    with tempfile.TemporaryDirectory(prefix="drowsy-pretrain-") as tmp:
        backbone = None
        if recipe.pretext:
            # pretrained on exactly the crops it then fine-tunes on (a fold's training people),
            # so no held-out person is seen even without labels
            backbone = Path(tmp) / "backbone.pt"
            pre = PretrainConfig(
                arch=recipe.arch,
                pretext=recipe.pretext,
                steps=max(1, round(recipe.steps * PRETRAIN_SHARE)),
                batch_size=max(2, recipe.batch_size // 2),
                seed=recipe.seed,
            )
            pretrain(pre, crops, backbone, progress=False)
        cfg = recipe.finetune_config(str(backbone) if backbone else None)
        return finetune(cfg, crops, None, progress=False, sample_weights=weights, teacher=teacher)


def recipe_oof(
    recipe: MemberRecipe,
    split: Split,
    folds: int = FOLDS,
    keep: dict[int, CropNet] | None = None,
    teachers: dict[int, CropNet] | None = None,
) -> np.ndarray:
    """OOF positive-class probabilities of one recipe (NaN outside the validation folds);
    ``keep`` collects each fold's model (for running the fold's people through the runtime);
    ``teachers``: a distilled recipe's teacher of each fold, trained on that fold's
    training people only."""
    images = split.people.images

    def fit_predict(train: np.ndarray, val: np.ndarray) -> np.ndarray:
        f = int(split.fold[val[0]])
        teacher = teachers[f] if teachers else None  # train_member checks it fits the recipe
        model = train_member(recipe, *split.training_rows(train, recipe.painted), teacher)
        if keep is not None:
            keep[f] = model
        return predict(model, images[val])[:, 1]

    return out_of_fold(split, fit_predict, folds)


def seeds(recipe: MemberRecipe, n: int) -> list[MemberRecipe]:
    return [replace(recipe, seed=recipe.seed + k) for k in range(n)]


def recipe_dict(recipe: MemberRecipe) -> dict:
    return asdict(recipe)


# --- decisions on top of the members, chosen on OOF predictions -----------------------------

EAR_OPEN_PERCENTILE = 75  # a person's open-eye EAR, standing in for the runtime's calibration


def geometric_logit(people: PeopleSet) -> np.ndarray:
    """Per crop: the runtime geometric estimate's log-odds of "closed" (the calibrated EAR
    ratio through its logistic ramp), with each person's open-eye EAR taken as their
    75th-percentile EAR (most of anyone's frames are open-eyed; no labels used). NaN where
    there are no landmarks."""
    from drowsy.settings import Settings
    from drowsy.state.estimator import GeometricEstimator
    from drowsy.state.fusion import logit

    geo = GeometricEstimator(Settings().signals)
    out = np.full(len(people), np.nan)
    for p in sorted(set(people.person.tolist())):
        idx = np.flatnonzero((people.person == p) & ~np.isnan(people.ear))
        if not len(idx):
            continue
        ear_open = float(np.percentile(people.ear[idx], EAR_OPEN_PERCENTILE))
        out[idx] = [logit(geo.eye_closed(float(e), ear_open)) for e in people.ear[idx]]
    return out


def logit_array(p: np.ndarray) -> np.ndarray:
    from drowsy.state.fusion import LOGIT_CLIP

    q = np.clip(p, LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(q / (1 - q))


def fusion_inputs(
    p_cnn: np.ndarray, g_logit: np.ndarray, pitch: np.ndarray | None = None
) -> np.ndarray:
    """The fusion's inputs per crop: ``logit(p_cnn)`` and the geometric log-odds, and with
    ``pitch`` (degrees) also the geometric log-odds times ``pitch / 30``, so the weight of the
    EAR may change with the head's pitch (docs/PROTOCOL.md, fifth amendment). Never the pitch
    on its own: in FL3D closed eyes come with drooping heads, and "head down = eyes closed"
    would call a driver looking at the dashboard asleep."""
    from drowsy.state.fusion import PITCH_SCALE

    cols = [logit_array(p_cnn), g_logit]
    if pitch is not None:
        cols.append(g_logit * pitch / PITCH_SCALE)
    return np.stack(cols, axis=1)


def fit_fusion(x: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    """The weights of :func:`fusion_inputs`' columns, then the bias, of
    ``sigmoid(w . x + c)`` by logistic regression (class-balanced, like the members' training).
    With the two plain inputs that is the runtime's ``EyeFusion(cnn_weight, ear_weight, bias)``."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(class_weight="balanced", C=1.0).fit(x, y)
    return (*(float(v) for v in lr.coef_[0]), float(lr.intercept_[0]))


def apply_fusion(weights: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    z = x @ np.asarray(weights[:-1]) + weights[-1]
    return 1 / (1 + np.exp(-z))


def as_eye_fusion(weights: tuple[float, ...]):
    """:func:`fit_fusion`'s weights (two or three inputs, then the bias) as the runtime's
    :class:`~drowsy.state.fusion.EyeFusion`."""
    from drowsy.state.fusion import EyeFusion

    pitch = weights[2] if len(weights) == 4 else 0.0
    return EyeFusion(weights[0], weights[1], weights[-1], pitch)


def apply_eye_fusion(
    fusion, p_cnn: np.ndarray, g_logit: np.ndarray, pitch: np.ndarray
) -> np.ndarray:
    """The runtime's ``EyeFusion.apply`` over arrays (NaN where there are no landmarks; no
    pitch counts as a level head, as at run time)."""
    weights = (fusion.cnn_weight, fusion.ear_weight, fusion.pitch_ear_weight, fusion.bias)
    return apply_fusion(weights, fusion_inputs(p_cnn, g_logit, np.nan_to_num(pitch)))


def nested_fusion_oof(
    split: Split,
    p_cnn: np.ndarray,
    g_logit: np.ndarray,
    pitch: np.ndarray | None = None,
    folds: int = FOLDS,
) -> tuple[np.ndarray, list[tuple[float, ...]]]:
    """The fusion's OOF probabilities: for each fold, fitted on the other folds' OOF
    predictions (crops with landmarks only) and applied to this one. NaN elsewhere."""
    x = fusion_inputs(p_cnn, g_logit, pitch)
    ok = ~np.isnan(x).any(axis=1) & (split.fold >= 0)
    out = np.full(len(p_cnn), np.nan)
    fits = []
    for f in range(folds):
        train, val = ok & (split.fold != f), ok & (split.fold == f)
        if not val.any() or len(set(split.labels[train].tolist())) < 2:
            continue
        weights = fit_fusion(x[train], split.labels[train])
        fits.append(weights)
        out[val] = apply_fusion(weights, x[val])
    return out, fits


GATE_CENTERS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
GATE_SOFTNESS = 0.04
MAX_YAWN_FPR = 0.05


def gate_table(
    p_yawn: np.ndarray, mar: np.ndarray, y: np.ndarray, positives: np.ndarray, negatives: np.ndarray
) -> dict[str, dict]:
    """Recall on ``positives`` and FPR on ``negatives`` (index masks) for no gate and each
    MAR gate centre, at 0.5 on the gated probability."""
    out = {}
    for c in (None, *GATE_CENTERS):
        pred = p_yawn * gate_factor(mar, c) >= 0.5
        out["none" if c is None else f"{c:g}"] = {
            "center": c,
            "recall": float(pred[positives].mean()) if positives.any() else None,
            "fpr": float(pred[negatives].mean()) if negatives.any() else None,
        }
    return out


def gate_factor(mar: np.ndarray, center: float | None) -> np.ndarray:
    """What the runtime's MAR gate multiplies the yawn probability by (1 without a gate or
    without landmarks)."""
    from drowsy.state.fusion import MarGate

    if center is None:
        return np.ones(len(mar))
    g = MarGate(center, GATE_SOFTNESS)
    return np.array([g.gate(float(m)) if not np.isnan(m) else 1.0 for m in mar])


# seventh amendment of docs/PROTOCOL.md: the yawn decision threshold, chosen by negatives only
YAWN_THRESHOLDS = tuple(round(0.1 + 0.05 * k, 2) for k in range(9))  # 0.10 ... 0.50
THRESHOLD_MAX_FPR = 0.04


def decided(p: np.ndarray, gate: np.ndarray, threshold: float) -> np.ndarray:
    """The runtime's yawn decision: the probability moved so ``threshold`` is at 0.5, then
    the gate, at 0.5 (NaN probabilities decide nothing)."""
    from drowsy.state.fusion import move_threshold

    ok = ~np.isnan(p)
    out = np.zeros(len(p), bool)
    out[ok] = move_threshold(p[ok], threshold) * gate[ok] >= 0.5
    return out


def lowest_threshold(p: np.ndarray, gate: np.ndarray, caps: dict[str, np.ndarray]) -> float:
    """The lowest threshold of YAWN_THRESHOLDS whose FPR stays <= THRESHOLD_MAX_FPR on every
    negative mask of ``caps`` (seventh amendment: the pooled negatives; ninth: each source
    too); 0.5 when none does."""
    for t in YAWN_THRESHOLDS:
        yes = decided(p, gate, t)
        if all(yes[m].mean() <= THRESHOLD_MAX_FPR for m in caps.values() if m.any()):
            return t
    return 0.5


def source_caps(
    negatives: np.ndarray, source: np.ndarray, min_crops: int = 50
) -> dict[str, np.ndarray]:
    """Ninth amendment's caps: the pooled negatives and each source with at least
    ``min_crops`` of them (a handful of portraits would make one crop a 14 % rate)."""
    caps = {"pooled": negatives}
    for s in sorted(set(source[negatives].tolist())):
        if (negatives & (source == s)).sum() >= min_crops:
            caps[s] = negatives & (source == s)
    return caps


def nested_threshold(
    p: np.ndarray,
    gate: np.ndarray,
    fold: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    caps: dict[str, np.ndarray] | None = None,
) -> tuple[dict, np.ndarray]:
    """The threshold candidate scored nested: each development fold decided at the threshold
    chosen on the other folds' negatives (``caps``: the masks whose FPR it holds, default the
    pooled ``negatives``). Returns its report (pooled recall on ``positives``, FPR on
    ``negatives`` and on each cap, each fold's threshold, the threshold of all development
    folds) and its decisions (1.0 / 0.0, NaN where ``p`` is)."""
    caps = caps or {"pooled": negatives}
    dev = fold >= 0
    decision = np.zeros(len(p), bool)
    per_fold = {}
    for f in sorted(set(fold[dev].tolist())):
        t = lowest_threshold(p, gate, {k: m & dev & (fold != f) for k, m in caps.items()})
        rows = fold == f
        decision[rows] = decided(p[rows], gate[rows], t)
        per_fold[str(f)] = t
    report = {
        "per_fold": per_fold,
        "recall": float(decision[positives].mean()) if positives.any() else None,
        "fpr": float(decision[negatives].mean()) if negatives.any() else None,
        "fpr_by_cap": {k: float(decision[m].mean()) for k, m in caps.items() if m.any()},
        "all_development": lowest_threshold(p, gate, {k: m & dev for k, m in caps.items()}),
    }
    return report, np.where(np.isnan(p), np.nan, decision.astype(float))


def choose_gate(table: dict[str, dict]) -> str:
    """The rule of docs/PROTOCOL.md: the highest recall with FPR <= 0.05, ties to the lower
    centre (no gate counts as the lowest); when none meets 0.05, the lowest FPR."""
    keys = list(table)  # none, then centres in increasing order
    ok = [k for k in keys if table[k]["fpr"] is not None and table[k]["fpr"] <= MAX_YAWN_FPR]
    if ok:
        best = max(table[k]["recall"] or 0.0 for k in ok)
        return next(k for k in ok if (table[k]["recall"] or 0.0) == best)
    return min(keys, key=lambda k: table[k]["fpr"])
