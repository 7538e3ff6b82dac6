from __future__ import annotations

import pytest

from drowsy.errors import UserError
from drowsy.settings import (
    Settings,
    apply_override,
    default_log_path,
    default_settings_path,
    load_settings,
    save_settings,
)


def test_defaults_are_the_regulatory_numbers():
    a = Settings().alerts
    assert (a.microsleep_s, a.sleep_s, a.unresponsive_s) == (1.0, 3.0, 6.0)
    assert (a.perclos_window_s, a.perclos_threshold) == (60.0, 0.15)
    assert (a.distraction_s, a.vats_off_road_s, a.vats_window_s) == (3.0, 10.0, 30.0)
    assert a.degraded_s == 10.0
    assert (a.yawn_count, a.yawn_window_s, a.yawn_min_s) == (3, 300.0, 2.0)


def test_override_parses_values_and_validates():
    s = apply_override(Settings(), "alerts.sleep_s=2.5")
    assert s.alerts.sleep_s == 2.5
    s = apply_override(s, "log.snapshots=true")
    assert s.log.snapshots is True
    with pytest.raises(UserError, match="greater than 0"):
        apply_override(s, "alerts.microsleep_s=-1")
    with pytest.raises(UserError, match="unknown setting"):
        apply_override(s, "alerts.nonsense=1")
    with pytest.raises(UserError, match=r"section\.key=value"):
        apply_override(s, "sleep_s=2")
    with pytest.raises(UserError, match="microsleep_s < sleep_s"):
        apply_override(s, "alerts.sleep_s=0.5")


def test_settings_file_round_trip(tmp_path):
    path = tmp_path / "settings.toml"
    s = apply_override(Settings(), "gaze.yaw_limit_deg=30")
    save_settings(s, path)
    assert load_settings(path) == s
    assert load_settings(path, ["alerts.distraction_s=4"]).alerts.distraction_s == 4


def test_default_paths_live_in_user_dirs(isolated_user_dirs):
    assert str(default_settings_path()).startswith(str(isolated_user_dirs))
    assert str(default_log_path(Settings())).startswith(str(isolated_user_dirs))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[alerts\nsleep_s = 1", "not readable TOML"),
        ("[alerts]\nsleep_s = 'soon'", "alerts.sleep_s"),
        ("[nonsense]\nx = 1", "nonsense"),
    ],
)
def test_bad_settings_file_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_settings(path)


def test_overrides_are_validated_together_in_any_order():
    """Before: each override was validated alone, so raising three ordered durations failed
    or passed depending on the order they were given in."""
    items = ["alerts.microsleep_s=5", "alerts.sleep_s=6", "alerts.unresponsive_s=8"]
    for order in (items, items[::-1]):
        s = load_settings(None, order)
        assert (s.alerts.microsleep_s, s.alerts.sleep_s, s.alerts.unresponsive_s) == (5, 6, 8)
    with pytest.raises(UserError, match="microsleep_s < sleep_s"):
        load_settings(None, ["alerts.microsleep_s=7", "alerts.sleep_s=6"])


def test_nested_override_and_partial_tables_keep_the_other_defaults(tmp_path):
    s = load_settings(None, ["alerts.cooldown_s.sleep=3"])
    assert s.alerts.cooldown_s["sleep"] == 3
    assert s.alerts.cooldown_s["drowsy_perclos"] == 60.0  # untouched default
    path = tmp_path / "s.toml"
    path.write_text("[alerts.cooldown_s]\nsleep = 5\n")
    s = load_settings(path)
    assert s.alerts.cooldown_s["sleep"] == 5 and s.alerts.cooldown_s["unresponsive"] == 5.0
    assert s.alerts.cooldown_s["visual_time_sharing"] == 30.0  # not silently 0
    with pytest.raises(UserError, match="unknown alert kinds"):
        load_settings(None, ["alerts.cooldown_s.nap=3"])
    with pytest.raises(UserError, match="unknown setting"):
        load_settings(None, ["alerts.nonsense.deeper=3"])


def test_a_named_settings_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_settings(tmp_path / "typo.toml")
    assert load_settings(tmp_path / "new.toml", must_exist=False) == Settings()


def test_a_file_saved_with_the_retired_fusion_weight_loads_with_the_new_fusion(tmp_path, caplog):
    """Files saved before the log-odds eye fusion hold runtime.fusion_cnn_weight = 0.3; read as
    the new CNN weight it would all but switch the eye ensemble off. It is dropped, loudly."""
    path = tmp_path / "settings.toml"
    path.write_text('[runtime]\nfusion_cnn_weight = 0.3\nestimator = "fused"\n')
    with caplog.at_level("WARNING"):
        s = load_settings(path)
    assert s.runtime.eye_fusion_cnn_weight == Settings().runtime.eye_fusion_cnn_weight
    assert s.runtime.estimator == "fused"
    assert "fusion_cnn_weight is retired" in caplog.text
    with pytest.raises(UserError, match="unknown setting"):
        load_settings(path, ["runtime.fusion_cnn_weight=0.3"])  # asked for explicitly: refused
