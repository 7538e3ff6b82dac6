"""CNN ensembles in ONNX Runtime, and the estimator that turns face crops into FrameSignals
probabilities with them.

A model folder (``models/eyes``, ``models/yawn``) holds the members' ONNX files, their
``.sha256`` files, ``ensemble.json`` (members, weights from validation accuracy, the default
voting mode) and the model card.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drowsy.contracts import Calibration, FaceObservation, StateProbabilities
from drowsy.inference.onnx_model import ModelError, OnnxModel, choose_providers
from drowsy.inference.preprocess import to_tensor
from drowsy.inference.voting import MODES, vote
from drowsy.state.fusion import MarGate

log = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class EnsembleOutput:
    probs: np.ndarray  # (N, C) after voting
    member_probs: tuple[np.ndarray, ...]  # each (N, C), kept for explanations


class Ensemble:
    def __init__(
        self,
        folder: Path,
        providers: list[str] | None = None,
        threads: int = 0,
        voting: str = "auto",
    ) -> None:
        spec_path = folder / "ensemble.json"
        if not spec_path.is_file():
            raise ModelError(f"model folder {folder}: no ensemble.json")
        try:
            spec = json.loads(spec_path.read_text(encoding="utf-8"))
            members = spec["members"]
            default = spec["voting"]
        except (ValueError, KeyError) as exc:
            raise ModelError(f"{spec_path}: malformed ({exc})") from exc
        if not members:
            raise ModelError(f"{spec_path}: lists no members")
        self.voting = default if voting == "auto" else voting
        if self.voting not in MODES:
            raise ModelError(f"{spec_path}: unknown voting mode {self.voting!r}")
        providers = providers or choose_providers()
        self.members = [
            OnnxModel(folder / m["file"], providers, threads, m.get("sha256")) for m in members
        ]
        for m in self.members:
            if "probs" not in m.output_names:
                raise ModelError(f"model {m.info.path}: has no 'probs' output")
        self.weights = [float(m.get("weight", 1.0)) for m in members]
        first = self.members[0].info
        for m in self.members[1:]:
            if (m.info.task, m.info.classes, m.info.input_size) != (
                first.task,
                first.classes,
                first.input_size,
            ):
                raise ModelError(f"{m.info.path}: does not match the other members of {folder}")
        self.task = first.task
        self.classes = first.classes
        self.version = str(spec.get("version", first.version))
        self.provider = self.members[0].provider
        self.mar_gate: MarGate | None = None  # yawn: the gate its training run chose
        if "mar_gate" in spec:
            try:
                g = spec["mar_gate"]
                self.mar_gate = MarGate(float(g["center"]), float(g["softness"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelError(f"{spec_path}: malformed mar_gate ({exc})") from exc

    def predict(self, crops: list[np.ndarray]) -> EnsembleOutput:
        """One batched call per member for all the crops of a frame."""
        info = self.members[0].info
        batch = to_tensor(crops, info.input_size)
        member_probs = tuple(m.run(batch, ["probs"])["probs"] for m in self.members)
        return EnsembleOutput(vote(member_probs, self.voting, self.weights), member_probs)


class CnnEstimator:
    """Eye-closed and yawn probabilities from the eye and yawn ensembles."""

    def __init__(
        self, models_dir: Path, provider: str = "auto", threads: int = 0, voting: str = "auto"
    ) -> None:
        providers = choose_providers(provider)
        self.eyes = Ensemble(models_dir / "eyes", providers, threads, voting)
        self.yawn = Ensemble(models_dir / "yawn", providers, threads, voting)
        self._closed = self.eyes.classes.index("closed")
        self._yawning = self.yawn.classes.index("yawn")
        self.name = f"cnn(eyes v{self.eyes.version}, yawn v{self.yawn.version})"
        self.provider = self.eyes.provider
        self.last: dict[str, EnsembleOutput] = {}

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities:
        if not obs.present or obs.crops is None:
            raise ValueError("estimate() needs an observation with a face")
        eyes = self.eyes.predict([obs.crops.left_eye, obs.crops.right_eye])
        mouth = self.yawn.predict([obs.crops.mouth])
        self.last = {"eyes": eyes, "yawn": mouth}
        return StateProbabilities(
            eye_closed_left=float(eyes.probs[0, self._closed]),
            eye_closed_right=float(eyes.probs[1, self._closed]),
            yawn=float(mouth.probs[0, self._yawning]),
            source="cnn",
        )

    def versions(self) -> dict[str, str]:
        return {
            "eyes": self.eyes.version,
            "yawn": self.yawn.version,
            "voting": f"eyes {self.eyes.voting}, yawn {self.yawn.voting}",
        }

    def close(self) -> None:
        self.last = {}
