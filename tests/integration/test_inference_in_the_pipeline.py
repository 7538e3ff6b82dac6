"""ONNX Runtime model wrapper, voting, and the CNN estimator in the pipeline (no torch)."""

from __future__ import annotations

from drowsy.inference.ensemble import CnnEstimator
from drowsy.settings import Settings, apply_override
from tests.onnx_fixtures import write_models_dir


def test_cnn_estimator_drives_the_pipeline(tmp_path, face_video):
    from drowsy.pipeline import Pipeline
    from drowsy.sources import VideoFileSource

    root = write_models_dir(tmp_path)
    settings = apply_override(Settings(), f'runtime.models_dir="{root}"')
    settings = apply_override(settings, "runtime.estimator=cnn")
    with Pipeline(settings) as pipe, VideoFileSource(face_video) as src:
        assert isinstance(pipe.estimator, CnnEstimator)
        results = [pipe.process(f) for _, f in zip(range(5), src, strict=False)]
    s = results[-1].signals
    assert s.probability_source == "cnn"
    assert 0.0 <= s.eye_closed_left <= 1.0 and 0.0 <= s.yawn <= 1.0
    assert pipe.model_versions["eyes"] == "test"


def test_explainer_draws_every_member_and_the_face(tmp_path):
    from drowsy.contracts import AlertKind, Frame
    from drowsy.inference.explain import Explainer
    from drowsy.vision.tracker import FaceTracker, TrackerOptions
    from tests.helpers import face_images

    root = write_models_dir(tmp_path)
    est = CnnEstimator(root)
    image = face_images()[1]
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as tr:
        obs = tr.process(Frame(image, 0.0, 0))
    exp = Explainer(est).explain(AlertKind.MICROSLEEP, image, obs, "raise")
    assert set(exp.images) == {
        "raise_gradcam_left_eye",
        "raise_gradcam_right_eye",
        "raise_gradcam_face",
    }
    assert exp.images["raise_gradcam_left_eye"].shape == (128, 128 * 5, 3)  # crop, ens, 3 members
    assert set(exp.member_probs["left_eye"]) == {"m0", "m1", "m2"}
    assert Explainer(est).explain(AlertKind.LONG_DISTRACTION, image, obs, "raise") is None
    yawn = Explainer(est).explain(AlertKind.DROWSY_YAWNS, image, obs, "peak")
    assert set(yawn.images) == {"peak_gradcam_mouth", "peak_gradcam_face"}
