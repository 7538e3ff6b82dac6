"""CNN ensembles in ONNX Runtime, and the estimator that turns face crops into FrameSignals
probabilities with them.

A model folder (``models/eyes``, ``models/yawn``) holds the members' ONNX files, their
``.sha256`` files, ``ensemble.json`` (members, weights from validation accuracy, the default
voting mode) and the model card.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from drowsy.contracts import Calibration, FaceCrops, FaceObservation, StateProbabilities
from drowsy.inference.merge import MEMBER_PROBS, merge_members, metadata, prefix
from drowsy.inference.metadata import FEATURES, GRAD_FEATURES, PROBS
from drowsy.inference.onnx_model import (
    ModelError,
    ModelInfo,
    OnnxModel,
    choose_providers,
    model_info,
    read_verified,
)
from drowsy.inference.preprocess import to_tensor
from drowsy.inference.voting import MODES, vote
from drowsy.state.fusion import EyeFusion, MarGate, move_threshold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnsembleOutput:
    """An ensemble's voted probabilities and each member's, for one batch of crops."""

    probs: np.ndarray  # (N, C) after voting
    member_probs: tuple[np.ndarray, ...]  # each (N, C): what each member said


class Ensemble:
    """A task's CNN members (``ensemble.json``), verified one by one and run as one merged
    graph, with the voting its training run chose."""

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
        protos, self.members = [], []
        for m in members:
            proto, info = _load_member(folder / m["file"], m.get("sha256"))
            protos.append(proto)
            self.members.append(info)
        self.weights = [float(m.get("weight", 1.0)) for m in members]
        first = self.members[0]
        for m in self.members[1:]:
            if (m.meta.task, m.meta.classes, m.meta.input_size) != (
                first.meta.task,
                first.meta.classes,
                first.meta.input_size,
            ):
                raise ModelError(f"{m.path}: does not match the other members of {folder}")
        content = merge_members(protos, [m.path for m in self.members]).SerializeToString()
        del protos  # the parsed graphs are scratch: free them before the session allocates
        self.model = OnnxModel(folder / "ensemble.json", providers, threads, content=content)
        del content
        self.explainable = all(
            {FEATURES, GRAD_FEATURES} <= set(m.meta.outputs) & set(m.graph_outputs)
            for m in self.members
        )
        self.task = first.meta.task
        self.classes = first.meta.classes
        self.version = str(spec.get("version", first.meta.version))
        self.input_size = first.meta.input_size
        self.provider = self.model.provider
        self.mar_gate: MarGate | None = None  # yawn: the gate its training run chose
        if "mar_gate" in spec:
            try:
                g = spec["mar_gate"]
                self.mar_gate = MarGate(float(g["center"]), float(g["softness"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelError(f"{spec_path}: malformed mar_gate ({exc})") from exc
        # eyes (sixth amendment): each crop's probability is the mean over the crop and its
        # horizontal mirror, when the rule chose mirror averaging
        self.mirror = spec.get("mirror", False)
        if not isinstance(self.mirror, bool):
            raise ModelError(f"{spec_path}: 'mirror' must be true or false, not {self.mirror!r}")
        # yawn (seventh amendment): the probability its training run decides at, moved to 0.5
        try:
            self.threshold = float(spec.get("threshold", 0.5))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{spec_path}: malformed threshold ({exc})") from exc
        if not 0 < self.threshold < 1 or (self.threshold != 0.5 and len(self.classes) != 2):
            raise ModelError(f"{spec_path}: threshold must be in (0, 1), for two classes")
        self.eye_fusion: EyeFusion | None = None  # eyes: the fusion with geometry, if it won
        if "fusion" in spec:
            try:
                f = spec["fusion"]
                self.eye_fusion = EyeFusion(
                    float(f["cnn_weight"]),
                    float(f["ear_weight"]),
                    float(f["bias"]),
                    float(f.get("pitch_ear_weight", 0.0)),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelError(f"{spec_path}: malformed fusion ({exc})") from exc

    def predict(self, crops: list[np.ndarray]) -> EnsembleOutput:
        """All members on all the crops of a frame in one call of the merged graph (with
        ``mirror``, the crops and their mirrors in that one call)."""
        batch = to_tensor(crops, self.input_size)
        n = len(batch)
        if self.mirror:
            batch = np.concatenate([batch, mirrored(batch)])
        stacked = self.model.run(batch, [MEMBER_PROBS])[MEMBER_PROBS]
        if self.mirror:
            stacked = (stacked[:, :n] + stacked[:, n:]) / 2
        probs = vote(stacked, self.voting, self.weights)
        if self.threshold != 0.5:
            probs = probs.copy()
            probs[:, 1] = move_threshold(probs[:, 1], self.threshold)
            probs[:, 0] = 1 - probs[:, 1]
        return EnsembleOutput(probs, tuple(stacked))

    def explain_outputs(self, batch: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per member: ``probs``, ``features`` and ``grad_features`` for Grad-CAM (alerts only)."""
        if not self.explainable:
            raise ModelError(f"{self.model.info.path}: members lack Grad-CAM outputs")
        keys = (PROBS, FEATURES, GRAD_FEATURES)
        names = [f"{prefix(i)}{k}" for i in range(len(self.members)) for k in keys]
        out = self.model.run(batch, names)
        return [{k: out[f"{prefix(i)}{k}"] for k in keys} for i in range(len(self.members))]


def mirrored(batch: np.ndarray) -> np.ndarray:
    """(N, 1, S, S) network input flipped left to right."""
    return np.ascontiguousarray(batch[..., ::-1])


def _load_member(path: Path, sha256: str | None) -> tuple[onnx.ModelProto, ModelInfo]:
    content, digest = read_verified(path, sha256)
    try:
        proto = onnx.load_from_string(content)
    except Exception as exc:  # onnx raises protobuf's own decode errors
        raise ModelError(f"model {path}: not a loadable ONNX model ({exc})") from exc
    info = model_info(path, metadata(proto), digest, tuple(o.name for o in proto.graph.output))
    info.meta.require_outputs((PROBS,), info.graph_outputs, path)
    return proto, info


def _return_scratch_memory() -> None:
    """Give the memory of the parsed and merged graphs back to the OS (glibc keeps freed heap
    pages otherwise: measured 9 MB of a monitor's resident memory for the rest of a drive)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _crops_of(obs: FaceObservation) -> FaceCrops:
    if not obs.present or obs.crops is None:
        raise ValueError("estimate() needs an observation with a face")
    return obs.crops


class CnnEstimator:
    """Eye-closed and yawn probabilities from the eye and yawn ensembles."""

    def __init__(
        self,
        models_dir: Path,
        provider: str = "auto",
        threads: int = 0,
        voting: str = "auto",
        eyes_voting: str | None = None,
    ) -> None:
        providers = choose_providers(provider)
        self.eyes = Ensemble(models_dir / "eyes", providers, threads, eyes_voting or voting)
        self.yawn = Ensemble(models_dir / "yawn", providers, threads, voting)
        self._closed = self.eyes.classes.index("closed")
        self._yawning = self.yawn.classes.index("yawn")
        _return_scratch_memory()
        self.name = f"cnn(eyes v{self.eyes.version}, yawn v{self.yawn.version})"
        self.provider = self.eyes.provider

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities:
        left, right = self.eyes_closed(obs)
        return StateProbabilities(
            eye_closed_left=left, eye_closed_right=right, yawn=self.yawning(obs), source="cnn"
        )

    def eyes_closed(self, obs: FaceObservation) -> tuple[float, float]:
        """(left, right) closed probability of the eye ensemble."""
        crops = _crops_of(obs)
        probs = self.eyes.predict([crops.left_eye, crops.right_eye]).probs
        return float(probs[0, self._closed]), float(probs[1, self._closed])

    def yawning(self, obs: FaceObservation) -> float:
        """Yawn probability of the yawn ensemble."""
        return float(self.yawn.predict([_crops_of(obs).mouth]).probs[0, self._yawning])

    def versions(self) -> dict[str, str]:
        return {
            "eyes": self.eyes.version,
            "yawn": self.yawn.version,
            "voting": f"eyes {self.eyes.voting}, yawn {self.yawn.voting}",
            "yawn_threshold": f"{self.yawn.threshold:g}",
        }

    def close(self) -> None:
        """Nothing to release early: the ONNX Runtime sessions go with the object."""
