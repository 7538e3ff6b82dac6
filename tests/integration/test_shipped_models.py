"""The models shipped in models/: they load, verify, are small, and drive explained alerts."""

from __future__ import annotations

import json
import sqlite3

import pytest

from drowsy.cli import main
from drowsy.inference.ensemble import CnnEstimator
from drowsy.inference.factory import SHIPPED_MODELS
from drowsy.vision.crops import CROP_SPEC_VERSION

pytestmark = pytest.mark.skipif(
    not (SHIPPED_MODELS / "eyes" / "ensemble.json").exists(), reason="no shipped models"
)


def test_shipped_ensembles_load_and_are_small():
    est = CnnEstimator(SHIPPED_MODELS)
    for ens, classes in ((est.eyes, ("open", "closed")), (est.yawn, ("no_yawn", "yawn"))):
        assert ens.classes == classes
        assert len(ens.members) >= 1  # as many as the out-of-fold choice kept
        assert len({m.meta.extra["arch"] + m.member for m in ens.members}) == len(ens.members)
        for m in ens.members:
            assert m.path.stat().st_size < 5 * 1024 * 1024
            assert m.meta.crop_spec_version == str(CROP_SPEC_VERSION)
            assert {"features", "grad_features"} <= set(m.meta.outputs) & set(m.graph_outputs)
        assert ens.explainable
        assert (ens.members[0].path.parent / "MODEL_CARD.md").exists()


def test_microsleep_alert_is_explained_in_events_and_log(tmp_path, face_video):
    log = tmp_path / "log.sqlite"
    args = ["--out", str(tmp_path), "--log", str(log), "-q", "--set", "runtime.estimator=auto"]
    assert main(["analyze", str(face_video), *args]) == 0
    folder = tmp_path / face_video.stem
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["probability_source"].startswith("fused(cnn")
    assert summary["execution_provider"] == "CPUExecutionProvider"
    events = json.loads((folder / "events.json").read_text())
    micro = [a for a in events["alerts"] if a["kind"] == "microsleep"]
    assert len(micro) == 1
    images = micro[0]["images"]
    assert any("raise_gradcam_left_eye" in i for i in images)
    assert any("peak_gradcam_face" in i for i in images)
    assert all((folder / i).exists() for i in images)
    db = sqlite3.connect(log)
    roles = {r[0] for r in db.execute("SELECT role FROM alert_images")}
    assert {"raise_gradcam_left_eye", "raise_gradcam_right_eye", "raise_gradcam_face"} <= roles
    from drowsy.cli import main as cli

    alert_id = db.execute("SELECT id FROM alerts WHERE kind='microsleep'").fetchone()[0]
    assert (
        cli(["log", "show", str(alert_id), "--log", str(log), "--images", str(tmp_path / "imgs")])
        == 0
    )
    assert (tmp_path / "imgs" / f"alert{alert_id}_raise_gradcam_face.png").stat().st_size > 0
