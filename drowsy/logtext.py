"""The alert log as the front ends (``drowsy log``, the monitor's log tab) speak it: user text
for times, kinds and levels turned into an :class:`~drowsy.alertlog.AlertFilter`, and alert
rows exported as CSV or JSON. The store itself never parses user text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from drowsy.alertlog import AlertFilter, AlertRow
from drowsy.contracts import AlertKind, AlertLevel
from drowsy.errors import UserError

TIME_FORMAT_HELP = (
    "YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DD HH:MM[:SS] (UTC unless an offset is given)"
)


def parse_time_bound(text: str, *, end: bool) -> str:
    """A ``--since``/``--until`` value as the ISO UTC text ``raised_at`` is stored in.

    A bare date means the whole day: as an end bound it includes that day (< next midnight).
    Naive times are UTC. Raises UserError naming the accepted formats."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end:
                moment += timedelta(days=1) - timedelta(microseconds=1)
        else:
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
            if end and moment.second == 0 and len(raw) <= 16:
                moment += timedelta(minutes=1) - timedelta(microseconds=1)
    except ValueError as exc:
        raise UserError(f"time {text!r} not understood: use {TIME_FORMAT_HELP}") from exc
    return moment.isoformat(timespec="microseconds" if end else "seconds")


def alert_filter(
    session: int | None = None,
    kind: str | None = None,
    level: str | None = None,
    since: str | None = None,
    until: str | None = None,
    reviewed: bool | None = None,
) -> AlertFilter:
    """The filter the user typed; UserError naming what is accepted when it cannot be."""
    kinds = [k.value for k in AlertKind]
    if kind is not None and kind not in kinds:
        raise UserError(f"unknown alert kind {kind!r}; kinds: {', '.join(kinds)}")
    levels = [v.value for v in AlertLevel]
    if level is not None and level not in levels:
        raise UserError(f"unknown alert level {level!r}; levels: {', '.join(levels)}")
    return AlertFilter(
        session,
        kind,
        level,
        None if since is None else parse_time_bound(since, end=False),
        None if until is None else parse_time_bound(until, end=True),
        reviewed,
    )


EXPORT_COLUMNS = (
    "id",
    "session_id",
    "source",
    "kind",
    "level",
    "start_s",
    "end_s",
    "duration_s",
    "start_frame",
    "raised_at",
    "peak",
    "evidence",
    "levels",
    "clip",
    "clip_error",
    "review",
    "review_note",
    "reviewed_at",
)
_JSON_COLUMNS = ("peak", "evidence", "levels")


def export_alerts(rows: Iterable[AlertRow], fmt: str) -> str:
    """Alerts as CSV (peak/evidence/levels as JSON text) or as a JSON array."""
    table = [{k: r.to_dict()[k] for k in EXPORT_COLUMNS} for r in rows]
    if fmt == "json":
        return json.dumps(table, indent=2)
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in table:
        writer.writerow({**r, **{k: json.dumps(r[k]) for k in _JSON_COLUMNS}})
    return buf.getvalue()


@dataclass(frozen=True, slots=True)
class KindStats:
    """What the reviews say about one alert kind: how many alerts, how many reviewed, and the
    share of the reviewed ones a reviewer confirmed (precision; None before any review)."""

    kind: str
    alerts: int
    reviewed: int
    confirmed: int

    @property
    def reviewed_share(self) -> float:
        return self.reviewed / self.alerts if self.alerts else 0.0

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None


def review_stats(rows: Iterable[AlertRow]) -> list[KindStats]:
    """Per alert kind (in AlertKind order), and a last row ``all``."""
    rows = list(rows)
    out = []
    for kind in [k.value for k in AlertKind] + ["all"]:
        mine = [r for r in rows if kind in ("all", r.kind)]
        if not mine and kind != "all":
            continue
        reviewed = [r for r in mine if r.review is not None]
        confirmed = sum(r.review == "confirmed" for r in reviewed)
        out.append(KindStats(kind, len(mine), len(reviewed), confirmed))
    return out


def format_stats(stats: list[KindStats]) -> str:
    lines = [f"{'kind':<22}{'alerts':>7}{'reviewed':>10}{'share':>8}{'precision':>11}"]
    for s in stats:
        precision = "-" if s.precision is None else f"{s.precision:.2f}"
        lines.append(
            f"{s.kind:<22}{s.alerts:>7}{s.reviewed:>10}{s.reviewed_share:>8.0%}{precision:>11}"
        )
    return "\n".join(lines) + "\n"
