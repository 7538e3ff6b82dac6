"""``drowsy evaluate`` on generated labelled data (and on real data when it is present)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from drowsy.cli import main
from drowsy.errors import UserError
from drowsy.evaluate import evaluate_blinks, evaluate_eyes, evaluate_yawn
from drowsy.settings import Settings
from tests.helpers import face_images

GEOMETRIC = Settings(runtime={"estimator": "geometric"})


@pytest.fixture(scope="module")
def eyes_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("eyes")
    open_img, closed_img = face_images()
    for label, img in (("open", open_img), ("closed", closed_img)):
        (root / label).mkdir()
        cv2.imwrite(str(root / label / "full.png"), img)
        tight = img[60:190, 170:280]
        for side in (96, 128):
            cv2.imwrite(str(root / label / f"tight{side}.png"), cv2.resize(tight, (side, side)))
    cv2.imwrite(str(root / "closed" / "noface.png"), np.full((100, 100, 3), 127, np.uint8))
    (root / "open" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def test_eyes_report_keys_and_rules(eyes_dir):
    r = evaluate_eyes(eyes_dir, GEOMETRIC)
    assert {
        "n",
        "face_found_rate",
        "balanced_accuracy",
        "f1_closed",
        "confusion",
        "baseline",
    } <= set(r)
    assert r["n"] == 7 and r["skipped_unreadable"] == 1
    assert r["face_found_rate"] == pytest.approx(6 / 7, abs=1e-3)
    # the faceless "closed" image counts as predicted open: one false negative
    assert r["confusion"] == {"tp": 3, "fp": 0, "tn": 3, "fn": 1}
    assert r["baseline"]["n"] == 7 and "rule" in r["baseline"]


def test_yawn_report_keys(tmp_path):
    open_img, _ = face_images()
    (tmp_path / "yawn").mkdir()
    (tmp_path / "no_yawn").mkdir()
    cv2.imwrite(str(tmp_path / "no_yawn" / "a.png"), open_img)
    cv2.imwrite(str(tmp_path / "yawn" / "blank.png"), np.zeros((80, 80, 3), np.uint8))
    r = evaluate_yawn(tmp_path, GEOMETRIC)
    assert {
        "n",
        "face_found_rate",
        "balanced_accuracy",
        "recall_yawn",
        "false_positive_rate",
        "baseline",
    } <= set(r)
    assert r["recall_yawn"] == 0.0 and r["false_positive_rate"] == 0.0


def test_missing_class_folder_is_a_clear_error(tmp_path):
    (tmp_path / "open").mkdir()
    with pytest.raises(UserError, match="closed/"):
        evaluate_eyes(tmp_path, GEOMETRIC)


def test_blinks_against_frame_labels(tmp_path, face_video, capsys):
    (tmp_path / face_video.name).symlink_to(face_video)
    closed = {i for i in range(140) if 30 <= i < 32 or 60 <= i < 62 or 110 <= i < 126}
    lines = ["frame,closed"] + [f"{i},{int(i in closed)}" for i in range(140)]
    (tmp_path / f"{face_video.stem}.csv").write_text("\n".join(lines) + "\n")
    assert main(["evaluate", "blinks", str(tmp_path), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {
        "frames",
        "frame_f1_closed",
        "frame_balanced_accuracy",
        "blinks_true",
        "blinks_detected",
        "blink_f1",
        "alerts",
        "baseline",
    } <= set(r)
    assert r["frames"] == 140 and r["blinks_true"] == 3
    assert r["blink_f1"] == 1.0 and r["frame_f1_closed"] > 0.9
    assert r["alerts"] == {"microsleep": 1}


def test_blinks_without_labels_is_an_error(tmp_path, face_video):
    (tmp_path / face_video.name).symlink_to(face_video)
    with pytest.raises(UserError, match="missing labels"):
        evaluate_blinks(tmp_path, GEOMETRIC)


def test_a_folder_where_almost_no_face_is_found_fails_loudly(tmp_path, capsys, caplog):
    """Before: `evaluate eyes` on eye close-ups found a face in 5 % and exited 0 silently."""
    for label in ("open", "closed"):
        (tmp_path / label).mkdir()
        for k in range(3):
            cv2.imwrite(str(tmp_path / label / f"{k}.png"), np.full((40, 60, 3), 90, np.uint8))
    (tmp_path / "open" / "notes.txt").write_text("junk")
    code = main(["evaluate", "eyes", str(tmp_path), "--set", 'runtime.estimator="geometric"'])
    err = capsys.readouterr().err
    assert code != 0
    assert "face was found in only 0%" in err and "whole faces" in err
    assert "1 file not an image (e.g. notes.txt), skipped" in caplog.text


def test_evaluate_help_says_what_each_task_expects(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "whole faces" in text and "NAME.csv" in text
