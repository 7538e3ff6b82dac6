"""The FL3D label audit: a fair, blind, repeatable sample and verdict files read strictly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from training.protocol import TEST_FL3D

ROOT = Path(__file__).resolve().parents[2]
_PATH = ROOT / "benchmarks" / "fl3d_label_audit.py"
_spec = importlib.util.spec_from_file_location("fl3d_label_audit", _PATH)
audit = importlib.util.module_from_spec(_spec)
sys.modules["fl3d_label_audit"] = audit  # its dataclasses look their module up there
_spec.loader.exec_module(audit)


def _crops():
    """Three drivers (one of them the final-test driver) with 30 open and 10 closed crops each."""
    test = next(iter(TEST_FL3D)).removeprefix("fl3d:")
    crops, r = {}, 0
    for driver in ("P1", "P2", test):
        for k in range(40):
            crops[r] = audit.Crop(driver, k, k % 2, int(k < 10))
            r += 1
    return crops, test


def test_draw_is_seeded_per_cell_and_never_takes_the_final_test_driver():
    crops, test = _crops()
    picked = audit.draw(crops, per_cell=12, seed=5)
    assert picked == audit.draw(crops, per_cell=12, seed=5)
    assert picked != audit.draw(crops, per_cell=12, seed=6)
    assert len(set(picked)) == len(picked)
    assert all(crops[r].driver != test for r in picked)
    cells = {}
    for r in picked:
        cells[(crops[r].driver, crops[r].label)] = (
            cells.get((crops[r].driver, crops[r].label), 0) + 1
        )
    # 12 open per driver; closed has only 10 crops, so all of them
    assert cells == {("P1", 0): 12, ("P1", 1): 10, ("P2", 0): 12, ("P2", 1): 10}
    # shuffled: the labels are not in blocks, so a reviewer cannot tell them by position
    labels = [crops[r].label for r in picked]
    assert labels != sorted(labels) and labels != sorted(labels, reverse=True)


def test_read_judged_maps_verdicts_and_rejects_anything_else(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("tile,judged\n0,o\n1,c\n2,?\n3, c \n")
    assert audit.read_judged(good) == {0: 0, 1: 1, 2: -1, 3: 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("tile,judged\n0,o\n1,open\n")
    with pytest.raises(SystemExit, match="tile 1: verdict 'open'"):
        audit.read_judged(bad)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("tile,verdict\n0,o\n")
    with pytest.raises(SystemExit, match="no column judged"):
        audit.read_judged(nocol)
    with pytest.raises(SystemExit, match="cannot read"):
        audit.read_judged(tmp_path / "missing.csv")


def test_the_shipped_audit_has_a_verdict_for_every_development_crop():
    rows = audit.read_csv(ROOT / "benchmarks" / "fl3d_label_audit.csv", audit.SAMPLE_COLUMNS)
    verdicts = audit.read_judged(ROOT / "benchmarks" / "fl3d_label_audit.csv")
    assert len(rows) == len(verdicts) == 192
    assert not {f"fl3d:{r['driver']}" for r in rows} & set(TEST_FL3D)
