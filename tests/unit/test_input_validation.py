"""Numbers a user types are finite and in range, with an error that names what was wrong."""

from __future__ import annotations

import pytest

from drowsy.cli import build_parser
from drowsy.errors import UserError
from drowsy.settings import Settings, apply_override


@pytest.mark.parametrize(
    "override",
    [
        "alerts.cooldown_s.sleep=nan",
        "alerts.microsleep_s=inf",
        "alerts.perclos_window_s=1e-9",
        "alerts.yawn_window_s=0.5",
        "signals.closed_threshold=nan",
    ],
)
def test_settings_refuse_nan_inf_and_windows_below_a_second(override):
    with pytest.raises(UserError, match=override.split("=")[0].replace(".", r"\.")):
        apply_override(Settings(), override)


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "x.mp4", "--out", "o", "--start", "nan"],
        ["analyze", "x.mp4", "--out", "o", "--end", "inf"],
        ["run", "--seconds", "nan"],
        ["monitor", "--exit-after", "-5"],
    ],
)
def test_seconds_options_refuse_nan_inf_and_negatives_naming_the_option(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert f"argument {argv[-2]}" in capsys.readouterr().err


def test_seconds_options_take_plain_numbers():
    args = build_parser().parse_args(["analyze", "x.mp4", "--out", "o", "--start", "2.5"])
    assert args.start == 2.5


@pytest.mark.parametrize(
    "error", [PermissionError(13, "Permission denied"), OSError(30, "Read-only file system")]
)
def test_settings_that_cannot_be_written_give_one_error_line(tmp_path, monkeypatch, error):
    from pathlib import Path

    from drowsy.settings import save_settings

    def refuse(self, data):
        raise error

    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(UserError, match="settings not saved") as exc:
        save_settings(Settings(), tmp_path / "s.toml")
    if isinstance(error, PermissionError):
        assert "permission denied" in str(exc.value)
    else:
        assert "Read-only file system" in str(exc.value)
    assert not (tmp_path / "s.toml").exists()
