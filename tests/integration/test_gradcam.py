"""Grad-CAM from the exported ONNX graph (no torch at run time) agrees with pytorch-grad-cam
on the torch model: correlation >= 0.99 per heat map."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training extra is not installed")
pytest.importorskip("pytorch_grad_cam", reason="grad-cam is not installed (see README)")

from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

from drowsy.inference.gradcam import gradcam, overlay  # noqa: E402
from drowsy.inference.onnx_model import OnnxModel  # noqa: E402
from tests.training_fixtures import easy_set  # noqa: E402
from training.export import export_onnx  # noqa: E402
from training.train import FinetuneConfig, finetune, to_input  # noqa: E402


@pytest.fixture(scope="module", params=["cnn_s", "cnn_t32"])
def trained(tmp_path_factory, request):
    model = finetune(
        FinetuneConfig(arch=request.param, steps=30, batch_size=32, lr=3e-3),
        easy_set(160, 0),
        None,
        progress=False,
    ).eval()
    path = tmp_path_factory.mktemp("m") / "m.onnx"
    export_onnx(
        model,
        path,
        task="eyes",
        classes=("open", "closed"),
        regions=("left_eye",),
        member="m",
        version="t",
        training={},
        metrics={},
        input_size=model.input_size,
    )
    return model, OnnxModel(path)


@pytest.mark.slow
@pytest.mark.parametrize("target", [0, 1])
def test_onnx_gradcam_matches_pytorch_grad_cam(trained, target):
    model, onnx_model = trained
    images = easy_set(8, 3).images
    x = to_input(images, model.input_size)
    reference = GradCAM(model=model, target_layers=[model.features[-1]])(
        input_tensor=x, targets=[ClassifierOutputTarget(target)] * len(x)
    )
    out = onnx_model.run(x.numpy(), ["features", "grad_features"])
    ours = gradcam(out["features"], out["grad_features"][:, target], model.input_size)
    compared = 0
    for ref, got in zip(reference, ours, strict=True):
        assert (ref.std() < 1e-6) == (got.std() < 1e-6)  # empty in both or in neither
        if ref.std() < 1e-6:
            continue  # the class has no positive evidence in this crop
        assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] >= 0.99
        compared += 1
    assert compared >= len(images) // 2  # most maps have structure: the test compares them


def test_overlay_keeps_crop_size():
    heat = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    img = overlay(np.full((64, 64), 128, np.uint8), heat)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
