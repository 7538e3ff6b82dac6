"""ONNX Runtime model wrapper, voting, and the CNN estimator in the pipeline (no torch)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from drowsy.inference.ensemble import Ensemble, _load_member
from drowsy.inference.factory import make_estimator
from drowsy.inference.onnx_model import ModelError, OnnxModel, choose_providers
from drowsy.inference.preprocess import to_tensor
from drowsy.inference.voting import vote
from drowsy.settings import Settings, apply_override
from drowsy.state.estimator import GeometricEstimator
from tests.onnx_fixtures import META, write_model, write_models_dir


def test_model_reads_its_metadata_and_runs(tmp_path):
    model = OnnxModel(write_model(tmp_path / "m.onnx"))
    assert model.info.meta.classes == ("open", "closed")
    assert model.info.meta.input_size == 64 and model.info.meta.normalisation["kind"] == "per_crop"
    assert model.provider == "CPUExecutionProvider"
    dark = np.full((2, 1, 64, 64), -2.0, np.float32)
    probs = model.run(dark)["probs"]
    assert probs.shape == (2, 2) and probs[0, 1] > 0.99


def test_no_gpu_means_cpu_only_and_no_noise(capfd):
    assert choose_providers("auto") == ["CPUExecutionProvider"]
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "no such file"),
        ("not_onnx", "not a loadable ONNX model"),
        ("checksum", "checksum mismatch"),
        ("no_sha", "checksum file"),
        ("metadata", "metadata lacks task"),
        ("format", "metadata format '0', this runtime reads format '1'"),
        ("outputs", "has no 'probs' output"),
        ("shape", "input shape"),
        ("crop_spec", "crop spec version 0"),
        ("normalisation", "normalised as"),
    ],
)
def test_bad_model_files_are_named_clearly(tmp_path, damage, message):
    path = tmp_path / "m.onnx"
    if damage == "not_onnx":
        path.write_text("not a model")
        path.with_name("m.onnx.sha256").write_text(
            __import__("hashlib").sha256(path.read_bytes()).hexdigest() + "  m.onnx\n"
        )
    elif damage == "checksum":
        write_model(path)
        path.with_name("m.onnx.sha256").write_text("0" * 64 + "  m.onnx\n")
    elif damage == "no_sha":
        write_model(path, checksum=False)
    elif damage == "metadata":
        write_model(path, meta={k: v for k, v in META.items() if k != "task"})
    elif damage == "format":
        write_model(path, meta={**META, "drowsy_format": "0"})
    elif damage == "outputs":  # the graph has probs, the metadata does not declare it
        write_model(path, meta={**META, "outputs": json.dumps(["logits"])})
    elif damage == "shape":
        write_model(path, size=48)
    elif damage == "normalisation":
        write_model(path, meta={**META, "normalisation": json.dumps({"mean": 0.5, "std": 0.25})})
    elif damage == "crop_spec":
        write_model(path, meta={**META, "crop_spec_version": "0"})
    with pytest.raises(ModelError, match=re.escape(message)) as info:
        if damage == "outputs":  # members are read by the ensemble, which needs probs
            _load_member(path, None)
        else:
            OnnxModel(path)
    assert "m.onnx" in str(info.value)


def test_voting_modes():
    a = np.array([[0.9, 0.1], [0.4, 0.6]])
    b = np.array([[0.6, 0.4], [0.45, 0.55]])
    c = np.array([[0.2, 0.8], [0.9, 0.1]])
    soft = vote([a, b, c], "soft")
    assert soft == pytest.approx(np.array([[1.7 / 3, 1.3 / 3], [1.75 / 3, 1.25 / 3]]))
    hard = vote([a, b, c], "hard")
    assert hard.argmax(1).tolist() == [0, 1]  # majorities: open; closed (2 of 3)
    assert hard.sum(1) == pytest.approx([1, 1])
    weighted = vote([a, b, c], "weighted", [0, 0, 1])
    assert weighted == pytest.approx(c)
    with pytest.raises(ValueError, match="weights"):
        vote([a, b], "weighted", [1.0])


def test_hard_vote_ties_break_on_mean_probability():
    a = np.array([[0.9, 0.1]])
    b = np.array([[0.45, 0.55]])
    assert vote([a, b], "hard").argmax(1).tolist() == [0]


def test_merged_graph_gives_each_members_own_probabilities(tmp_path):
    """One call of the merged graph = the members run one by one, in ensemble.json's order."""
    from drowsy.inference.preprocess import to_tensor

    ens = Ensemble(write_models_dir(tmp_path) / "eyes")
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    out = ens.predict(crops)
    batch = to_tensor(crops, ens.input_size)
    alone = [OnnxModel(m.path).run(batch, ["probs"])["probs"] for m in ens.members]
    assert [m.member for m in ens.members] == ["m0", "m1", "m2"]
    for got, want in zip(out.member_probs, alone, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert not np.allclose(alone[0], alone[1])  # the members differ, so order is tested
    np.testing.assert_allclose(out.probs, vote(alone, "soft"), atol=1e-6)


def test_ensemble_one_call_for_all_members(tmp_path):
    root = write_models_dir(tmp_path)
    ens = Ensemble(root / "eyes")
    dark_centre = np.full((64, 64, 3), 200, np.uint8)
    dark_centre[16:48, 16:48] = 40
    bright_centre = 255 - dark_centre
    out = ens.predict([dark_centre, bright_centre])
    assert out.probs.shape == (2, 2) and len(out.member_probs) == 3
    assert out.probs[0, 1] > out.probs[1, 1]  # the dark-centred crop reads as more closed
    assert ens.voting == "soft"


def test_missing_models_are_an_error_unless_geometry_was_asked_for(tmp_path):
    settings = apply_override(Settings(), f'runtime.models_dir="{tmp_path}"')
    for estimator in ("auto", "fused", "cnn"):
        strict = apply_override(settings, f"runtime.estimator={estimator}")
        with pytest.raises(ModelError, match=r"no eye and yawn ensembles.*estimator=geometric"):
            make_estimator(strict)
    geometric = apply_override(settings, "runtime.estimator=geometric")
    assert isinstance(make_estimator(geometric), GeometricEstimator)


def test_broken_ensemble_spec(tmp_path):
    root = write_models_dir(tmp_path)
    (root / "eyes" / "ensemble.json").write_text(json.dumps({"members": []}))
    with pytest.raises(ModelError, match="malformed"):
        Ensemble(root / "eyes")


def _one_sided_eyes(folder, mirror):
    """An eye folder whose one member reads the left half of the crop, mirror averaging on
    or off in ensemble.json."""
    folder.mkdir(parents=True)
    left = np.zeros((4, 4))
    left[:, :2] = 1
    write_model(folder / "m0.onnx", mask=left)
    spec = {"task": "eyes", "version": "test", "voting": "soft", "mirror": mirror}
    spec["members"] = [{"file": "m0.onnx"}]
    (folder / "ensemble.json").write_text(json.dumps(spec))
    return Ensemble(folder)


def test_mirror_averaging_gives_a_crop_and_its_mirror_one_probability(tmp_path):
    """With ``mirror`` each crop reads as the mean of the member on it and on its mirror
    (sixth amendment); without, a one-sided model tells the two apart."""
    crop = np.full((64, 64), 200, np.uint8)
    crop[:, :24] = 30  # dark on the left
    both = [crop, crop[:, ::-1].copy()]
    plain = _one_sided_eyes(tmp_path / "plain", False).predict(both).probs[:, 1]
    assert plain[0] > plain[1] + 0.3
    averaged = _one_sided_eyes(tmp_path / "mirror", True).predict(both).probs[:, 1]
    np.testing.assert_allclose(averaged, [plain.mean(), plain.mean()], atol=1e-6)


def test_alert_tiles_show_the_mirror_averaged_probability(tmp_path):
    """The Grad-CAM tiles' percentages are the decision's, mirror averaging included."""
    from drowsy.inference.explain import Explainer

    ens = _one_sided_eyes(tmp_path / "eyes", True)
    crop = np.full((64, 64), 200, np.uint8)
    crop[:, :24] = 30
    crops = [crop, np.full((64, 64), 120, np.uint8)]
    combined, heats, probs = Explainer._heat(None, ens, crops, "closed")
    np.testing.assert_allclose(probs[0], ens.predict(crops).probs[:, 1], atol=1e-6)
    assert combined.shape == (2, 64, 64) and heats[0].shape == (2, 64, 64)


def test_mirror_must_be_a_flag(tmp_path):
    with pytest.raises(ModelError, match="'mirror' must be true or false"):
        _one_sided_eyes(tmp_path / "eyes", "yes")


def test_a_shipped_threshold_is_moved_to_one_half(tmp_path):
    """Seventh amendment: ensemble.json's ``threshold`` is where the voted probability is
    decided; the runtime shifts its log-odds so 0.5 means the same everywhere after it."""
    from drowsy.state.fusion import move_threshold

    np.testing.assert_allclose(move_threshold(np.array([0.3, 0.5]), 0.3), [0.5, 0.7], atol=1e-6)
    root = write_models_dir(tmp_path)
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    before = Ensemble(root / "yawn").predict(crops).probs
    spec_path = root / "yawn" / "ensemble.json"
    spec = json.loads(spec_path.read_text())
    spec_path.write_text(json.dumps(spec | {"threshold": 0.3}))
    after = Ensemble(root / "yawn").predict(crops)
    np.testing.assert_allclose(after.probs[:, 1], move_threshold(before[:, 1], 0.3), atol=1e-6)
    np.testing.assert_allclose(after.probs.sum(axis=1), 1.0, atol=1e-6)
    assert (after.probs[:, 1] >= 0.5).tolist() == (before[:, 1] >= 0.3).tolist()
    for bad in (0.0, 1.5, "high"):
        spec_path.write_text(json.dumps(spec | {"threshold": bad}))
        with pytest.raises(ModelError, match="threshold"):
            Ensemble(root / "yawn")


def test_gpu_provider_uses_io_binding(tmp_path, monkeypatch):
    """Without a GPU here, check the wiring: a CUDA session is driven through IO binding."""
    model = OnnxModel(write_model(tmp_path / "m.onnx"))
    calls = []

    class Binding:
        def bind_cpu_input(self, name, array):
            calls.append(("in", name, array.shape))

        def bind_output(self, name, device):
            calls.append(("out", name, device))

        def copy_outputs_to_cpu(self):
            return [np.zeros((2, 2), np.float32)]

    class Session:
        def io_binding(self):
            return Binding()

        def run_with_iobinding(self, binding):
            calls.append(("run",))

    model.session = Session()
    model.provider = "CUDAExecutionProvider"
    out = model.run(np.zeros((2, 1, 64, 64), np.float32), ["probs"])
    assert out["probs"].shape == (2, 2)
    assert calls == [("in", "input", (2, 1, 64, 64)), ("out", "probs", "cuda"), ("run",)]


def test_crops_are_standardised_per_crop():
    """A dim, low-contrast copy of a crop reaches the network as the crop itself would; a flat
    crop (black frame) stays flat instead of becoming amplified noise."""
    rng = np.random.default_rng(0)
    crop = rng.integers(60, 200, (64, 64)).astype(np.uint8)
    dim = (crop.astype(np.float32) * 0.3 + 5).astype(np.uint8)
    a, b = to_tensor([crop, dim], 64)
    assert a.shape == (1, 64, 64)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    assert abs(float(a.std()) - float(b.std())) < 0.05
    flat = np.full((64, 64), 3, np.uint8)
    flat[0, 0] = 4
    assert np.abs(to_tensor([flat], 64)).max() < 1.0
    assert to_tensor([], 64).shape == (0, 1, 64, 64)
