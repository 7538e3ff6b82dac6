"""The one schema of a drowsy model's ONNX metadata: written by ``training`` (export, the
temporal model) and the test fixtures, read and checked by the runtime.

Why one dataclass: the keys were written by hand in three places and the runtime hard-coded
the output names it then ran; a renamed key or output failed at run time, far from its cause.
ONNX metadata is a flat string map, so lists and dicts travel as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from drowsy.errors import UserError

FORMAT_VERSION = "1"

# Output names (graph outputs) by role. Image models: probabilities for voting and the
# Grad-CAM pair; the temporal model: its scores and where in its window it looked.
LOGITS, PROBS, FEATURES, GRAD_FEATURES = "logits", "probs", "features", "grad_features"
IMAGE_OUTPUTS = (LOGITS, PROBS, FEATURES, GRAD_FEATURES)
SCORES, ATTENTION = "scores", "attention"
TEMPORAL_OUTPUTS = (SCORES, ATTENTION)

# keys with a meaning of their own; every other key is kept in ``extra`` as written
_KNOWN = (
    "drowsy_format",
    "task",
    "classes",
    "input_size",
    "normalisation",
    "version",
    "outputs",
    "member",
    "crop_regions",
    "crop_spec_version",
    "input_shape",
)


class ModelError(UserError):
    """A model file that is missing, corrupt or not what the runtime expects."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a model says about itself: its task and classes, its input (size, normalisation,
    the crop regions and crop spec it was trained on, or a sequence shape), its outputs, and
    its version; ``extra`` holds the rest (architecture, training data, metrics, features)."""

    task: str
    classes: tuple[str, ...]
    input_size: int
    normalisation: dict
    version: str
    outputs: tuple[str, ...]
    member: str = ""
    regions: tuple[str, ...] = ()
    crop_spec_version: str | None = None
    input_shape: tuple[int, ...] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    format_version: str = FORMAT_VERSION

    def to_props(self) -> dict[str, str]:
        props = {
            **self.extra,
            "drowsy_format": self.format_version,
            "task": self.task,
            "classes": json.dumps(list(self.classes)),
            "input_size": str(self.input_size),
            "normalisation": json.dumps(self.normalisation),
            "version": self.version,
            "outputs": json.dumps(list(self.outputs)),
        }
        if self.member:
            props["member"] = self.member
        if self.regions:
            props["crop_regions"] = json.dumps(list(self.regions))
        if self.crop_spec_version is not None:
            props["crop_spec_version"] = self.crop_spec_version
        if self.input_shape is not None:
            props["input_shape"] = json.dumps(list(self.input_shape))
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], path: Path) -> ModelMetadata:
        """Parse a model's metadata; a missing key, a malformed value or another format
        version is a :class:`ModelError` naming the file."""
        fmt = props.get("drowsy_format")
        if fmt != FORMAT_VERSION:
            raise ModelError(
                f"model {path}: metadata format {fmt!r}, this runtime reads format "
                f"{FORMAT_VERSION!r}; use models exported for this version of drowsy"
            )
        required = ("task", "classes", "input_size", "normalisation", "version", "outputs")
        missing = [k for k in required if k not in props]
        if missing:
            raise ModelError(f"model {path}: metadata lacks {', '.join(missing)}")
        try:
            shape = props.get("input_shape")
            return cls(
                task=props["task"],
                classes=tuple(json.loads(props["classes"])),
                input_size=int(props["input_size"]),
                normalisation=json.loads(props["normalisation"]),
                version=props["version"],
                outputs=tuple(json.loads(props["outputs"])),
                member=props.get("member", ""),
                regions=tuple(json.loads(props.get("crop_regions", "[]"))),
                crop_spec_version=props.get("crop_spec_version"),
                input_shape=None if shape is None else tuple(int(v) for v in json.loads(shape)),
                extra={k: v for k, v in props.items() if k not in _KNOWN},
                format_version=fmt,
            )
        except (ValueError, TypeError) as exc:
            raise ModelError(f"model {path}: malformed metadata ({exc})") from exc

    def require_outputs(self, names: tuple[str, ...], graph_outputs: tuple[str, ...], path) -> None:
        """The outputs the runtime will ask for are declared and present in the graph."""
        missing = [n for n in names if n not in self.outputs or n not in graph_outputs]
        if missing:
            raise ModelError(f"model {path}: has no {', '.join(map(repr, missing))} output")
