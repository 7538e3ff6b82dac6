"""Why an alert fired, in one sentence a driver or analyst can read: the measured value next to
the rule it crossed. The banner, the "why" panel, the log viewer and the console say the same."""

from __future__ import annotations

from drowsy.contracts import Alert, AlertKind
from drowsy.settings import AlertSettings


def reason(alert: Alert, rules: AlertSettings) -> str:
    p = alert.peak
    k = alert.kind
    if k in (AlertKind.MICROSLEEP, AlertKind.SLEEP):
        limit = rules.microsleep_s if k is AlertKind.MICROSLEEP else rules.sleep_s
        closed = alert.evidence.get("closure_s", p.get("closure_s", 0.0))
        return f"eyes closed {closed:.1f} s (rule: >= {limit:g} s)"
    if k is AlertKind.UNRESPONSIVE:
        return (
            f"eyes closed or looking away {p.get('inattentive_s', 0.0):.1f} s "
            f"(rule: >= {rules.unresponsive_s:g} s)"
        )
    if k is AlertKind.DROWSY_PERCLOS:
        return (
            f"eyes closed {p.get('perclos', 0.0):.0%} of the last {rules.perclos_window_s:g} s "
            f"(limit {rules.perclos_threshold:.0%})"
        )
    if k is AlertKind.DROWSY_YAWNS:
        return (
            f"{p.get('yawns_in_window', 0):.0f} yawns in {rules.yawn_window_s / 60:g} min "
            f"(rule: >= {rules.yawn_count})"
        )
    if k is AlertKind.DROWSY_TEMPORAL:
        return (
            f"temporal model drowsiness {p.get('drowsiness', 0.0):.2f} for >= "
            f"{rules.temporal_min_s:g} s (threshold {rules.temporal_threshold:g})"
        )
    if k is AlertKind.LONG_DISTRACTION:
        return f"looking away {p.get('off_road_s', 0.0):.1f} s (rule: >= {rules.distraction_s:g} s)"
    if k is AlertKind.VISUAL_TIME_SHARING:
        return (
            f"{p.get('off_road_in_window_s', 0.0):.1f} s off road in the last "
            f"{rules.vats_window_s:g} s (rule: >= {rules.vats_off_road_s:g} s)"
        )
    if k is AlertKind.MONITORING_DEGRADED:
        return (
            f"no usable face for {p.get('no_usable_face_s', 0.0):.1f} s "
            f"(rule: >= {rules.degraded_s:g} s)"
        )
    return str(k)
