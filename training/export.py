"""ONNX export with metadata, Grad-CAM outputs, a torch-vs-ONNX-Runtime parity check and a
SHA-256 checksum file.

Graph outputs (named): ``logits`` (N, C), ``probs`` (N, C), ``features`` (N, K, h, w) = the
last convolutional feature map, and ``grad_features`` (N, C, K, h, w) = the gradient of each
class score with respect to that map. With the architectures' linear head after global average
pooling that gradient is the class's weight row over the map's area; the graph computes it from
its own weights, so the runtime's Grad-CAM needs no torch and no second model.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from drowsy.inference.metadata import IMAGE_OUTPUTS, ModelMetadata
from drowsy.inference.preprocess import NORMALISATION
from drowsy.vision.crops import CROP_SPEC_VERSION
from training.errors import TrainingError
from training.models import CropNet

PARITY_TOLERANCE = 1e-4


class _GradCamGraph(nn.Module):
    def __init__(self, net: CropNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        feats = self.net.forward_features(x)
        logits = self.net.fc(feats.mean(dim=(2, 3)))
        probs = torch.softmax(logits, dim=1)
        n, k, h, w = feats.shape
        weight = self.net.fc.weight / (h * w)  # d logit_c / d feats[k, i, j]
        grad = weight.reshape(1, -1, k, 1, 1).expand(n, -1, k, h, w)
        return logits, probs, feats, grad


def export_onnx(
    model: CropNet,
    path: Path,
    *,
    task: str,
    classes: tuple[str, ...],
    regions: tuple[str, ...],
    member: str,
    version: str,
    training: dict,
    metrics: dict,
    force: bool = False,
    input_size: int = 64,
) -> dict:
    """Export, check (onnx.checker and parity) and checksum one member; returns a report."""
    if path.exists() and not force:
        raise TrainingError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = _GradCamGraph(model.eval()).eval()
    example = torch.randn(4, 1, input_size, input_size)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(
        graph,
        (example,),
        str(tmp),
        input_names=["input"],
        output_names=list(IMAGE_OUTPUTS),
        dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=4096)}},
        opset_version=18,
        dynamo=True,
        external_data=False,  # one self-contained file: the runtime checksums exactly that
        verbose=False,
    )
    proto = onnx.load(str(tmp))
    meta = ModelMetadata(
        task=task,
        classes=tuple(classes),
        input_size=input_size,
        normalisation=NORMALISATION,
        version=version,
        outputs=IMAGE_OUTPUTS,
        member=member,
        regions=tuple(regions),
        crop_spec_version=str(CROP_SPEC_VERSION),
        extra={
            "input_channels": "1",
            "colour": "gray",
            "arch": model.arch,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "training_data": json.dumps(training),
            "val_metrics": json.dumps(metrics),
        },
    )
    del proto.metadata_props[:]
    for k, v in meta.to_props().items():
        proto.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    return accept(tmp, path, parity(graph, tmp, input_size))


def accept(tmp: Path, path: Path, diff: float) -> dict:
    """Keep an exported graph only when torch and ONNX Runtime agree; then write its SHA-256
    file (which the runtime verifies on load)."""
    if diff > PARITY_TOLERANCE:
        tmp.unlink()
        raise TrainingError(
            f"{path}: ONNX Runtime differs from torch by {diff:.2e} (> {PARITY_TOLERANCE}); "
            "export refused"
        )
    tmp.replace(path)
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return {
        "file": path.name,
        "sha256": digest,
        "parity_max_abs_diff": diff,
        "bytes": path.stat().st_size,
    }


@torch.no_grad()
def parity(graph: nn.Module, onnx_path: Path, input_size: int, n: int = 16) -> float:
    """Largest absolute difference over every output on a random batch."""
    import onnxruntime as ort

    x = torch.randn(n, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))
    ref = [t.numpy() for t in graph(x)]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(list(IMAGE_OUTPUTS), {"input": x.numpy()})
    return float(max(np.max(np.abs(a - b)) for a, b in zip(ref, got, strict=True)))
