"""Tiny ONNX models built with onnx.helper (no torch), shaped like the exported members."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from drowsy.inference.metadata import IMAGE_OUTPUTS, ModelMetadata
from drowsy.inference.preprocess import NORMALISATION
from drowsy.vision.crops import CROP_SPEC_VERSION

# the metadata of an exported eye member, through the one schema the runtime reads
META = ModelMetadata(
    task="eyes",
    classes=("open", "closed"),
    input_size=64,
    normalisation=NORMALISATION,
    version="test",
    outputs=IMAGE_OUTPUTS,
    regions=("left_eye", "right_eye"),
    crop_spec_version=str(CROP_SPEC_VERSION),
).to_props()


def write_model(
    path: Path,
    *,
    bias: float = 0.0,
    darkness_weight: float = -4.0,
    size: int = 64,
    meta: dict | None = None,
    checksum: bool = True,
    mask: np.ndarray | None = None,
) -> Path:
    """probs = softmax([0, darkness_weight * centre + bias]), ``centre`` the mean of the
    middle quarter of the (standardised) crop: a crop whose centre is darker than its surround
    (a dark lid line, an open mouth) reads as 'closed' when darkness_weight < 0. Like the
    exported members it also outputs ``features`` (the input average-pooled to 4x4) and
    ``grad_features`` (d logit / d features). Enough to test wiring, metadata, voting and
    explanations. ``mask`` (4x4) replaces the middle quarter as the region read (a model
    that reads one side of the crop tells a crop from its mirror)."""
    w = np.array([[0.0], [darkness_weight]], np.float32).T  # (1, 2)
    b = np.array([0.0, bias], np.float32)
    k = size // 4
    centre = np.zeros((4, 4), np.float32)
    centre[1:3, 1:3] = 0.25
    if mask is not None:
        centre = np.asarray(mask, np.float32) / float(np.sum(mask))
    grad = np.stack([np.zeros((4, 4), np.float32), darkness_weight * centre])
    grad = np.ascontiguousarray(grad.reshape(1, 2, 1, 4, 4), dtype=np.float32)
    nodes = [
        helper.make_node(
            "AveragePool", ["input"], ["features"], kernel_shape=[k, k], strides=[k, k]
        ),
        helper.make_node("Mul", ["features", "C"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "axes"], ["gap"], keepdims=1),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        helper.make_node("Shape", ["input"], ["in_shape"], start=0, end=1),
        helper.make_node("Concat", ["in_shape", "grad_tail"], ["grad_shape"], axis=0),
        helper.make_node("Expand", ["G", "grad_shape"], ["grad_features"]),
    ]
    outputs = [
        helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 2]),
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2]),
        helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1, 4, 4]),
        helper.make_tensor_value_info("grad_features", TensorProto.FLOAT, ["batch", 2, 1, 4, 4]),
    ]
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "B"),
        numpy_helper.from_array(grad, "G"),
        numpy_helper.from_array(centre.reshape(1, 1, 4, 4), "C"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.array([2, 1, 4, 4], np.int64), "grad_tail"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, size, size])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (META if meta is None else meta).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    if checksum:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return path


def write_models_dir(root: Path, voting: str = "soft") -> Path:
    for task, classes, regions in (
        ("eyes", ["open", "closed"], ["left_eye", "right_eye"]),
        ("yawn", ["no_yawn", "yawn"], ["mouth"]),
    ):
        folder = root / task
        folder.mkdir(parents=True, exist_ok=True)
        members = []
        for i, bias in enumerate((0.0, 0.5, -0.5)):
            meta = {
                **META,
                "task": task,
                "classes": json.dumps(classes),
                "crop_regions": json.dumps(regions),
                "member": f"m{i}",
            }
            write_model(folder / f"m{i}.onnx", bias=bias, meta=meta)
            members.append({"file": f"m{i}.onnx", "weight": 1.0 + i})
        (folder / "ensemble.json").write_text(
            json.dumps({"task": task, "version": "test", "voting": voting, "members": members})
        )
    return root
