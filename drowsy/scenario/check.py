"""Score the alerts a run raised against a scenario's expected alerts.

An alert matches an expected one when the kind is the same and it was raised inside the
expected window; matching is one-to-one. Every other alert is a false alarm (precision), every
unmatched expectation a miss (recall).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from drowsy.scenario.script import Expected


@dataclass
class CheckReport:
    """The demo's alerts matched against the script's expected ones: matched, missed and false
    alarms."""

    precision: float
    recall: float
    matched: list[dict]
    false_alarms: list[dict]
    missed: list[dict]

    @property
    def perfect(self) -> bool:
        return self.precision == 1.0 and self.recall == 1.0

    def to_dict(self) -> dict:
        return asdict(self) | {"perfect": self.perfect}


def check(alerts: list[dict], expected: list[Expected]) -> CheckReport:
    """Required expectations are matched first (recall counts only them); optional ones
    (allowed, not demanded) then absorb alerts that would otherwise be false alarms."""
    free = list(range(len(alerts)))
    matched, missed = [], []
    required = [e for e in expected if e.required]
    for exp in required + [e for e in expected if not e.required]:
        hit = next(
            (
                i
                for i in free
                if alerts[i]["kind"] == exp.kind
                and exp.earliest_s - 1e-6 <= alerts[i]["start_s"] <= exp.latest_s + 1e-6
            ),
            None,
        )
        if hit is None:
            if exp.required:
                missed.append(asdict(exp))
        else:
            free.remove(hit)
            matched.append({"expected": asdict(exp), "alert": _brief(alerts[hit])})
    false_alarms = [_brief(alerts[i]) for i in free]
    n_alerts, n_required = len(alerts), len(required)
    precision = (n_alerts - len(false_alarms)) / n_alerts if n_alerts else 1.0
    found = sum(m["expected"]["required"] for m in matched)
    recall = found / n_required if n_required else 1.0
    return CheckReport(round(precision, 4), round(recall, 4), matched, false_alarms, missed)


def _brief(alert: dict) -> dict:
    return {k: alert.get(k) for k in ("kind", "level", "start_s", "end_s")}
