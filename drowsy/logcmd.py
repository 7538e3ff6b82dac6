"""``drowsy log``: browse the alert log, review alerts, see what the reviews say, export.

Actions: ``list``, ``sessions``, ``show ID`` (``--images``, ``--html``), ``review ID --verdict
confirmed|false_alarm|none [--note]``, ``stats`` (per kind: alerts, reviewed share, precision
among the reviewed), ``export`` (CSV/JSON; ``--reviewed``, ``--clips DIR``: the reviewed clips
with their labels as a folder ``training`` reads, :mod:`drowsy.clips.dataset`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from drowsy.alertlog import REVIEW_LABELS, AlertLog
from drowsy.errors import UserError

ACTIONS = ("list", "sessions", "show", "review", "stats", "export")


def add_log_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=ACTIONS,
        help="list: one line per alert; sessions: one line per session; show ID: one alert"
        " (with --images, --html); review ID: mark it (--verdict, --note); stats: per kind,"
        " the reviewed share and precision; export: every matching alert as CSV or JSON",
    )
    p.add_argument("id", nargs="?", type=int, help="alert id for 'show' and 'review'")
    p.add_argument("--session", type=int, help="only this session's alerts (id from 'sessions')")
    p.add_argument("--kind", help="only this alert kind, e.g. microsleep, yawn, long_distraction")
    p.add_argument("--level", choices=("info", "warning", "critical"), help="only this level")
    p.add_argument("--since", help="ISO date or time (UTC), e.g. 2026-11-28 or 2026-11-28T10:00")
    p.add_argument("--until", help="ISO date or time (UTC)")
    p.add_argument("--reviewed", action="store_true", help="only alerts a reviewer marked")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--output", type=Path, help="write the export here instead of stdout")
    p.add_argument("--clips", type=Path, help="'export --reviewed': copy their clips here")
    p.add_argument("--images", type=Path, help="'show': also save the alert's images here")
    p.add_argument("--html", type=Path, help="'show': also write the alert's page here")
    p.add_argument(
        "--verdict",
        choices=(*REVIEW_LABELS, "none"),
        help="'review': confirmed, false_alarm, or none (clears it)",
    )
    p.add_argument("--note", default="", help="'review': an optional note")


def run_log_command(args: argparse.Namespace, path: Path) -> int:
    from drowsy.logtext import alert_filter

    flt = alert_filter(
        args.session, args.kind, args.level, args.since, args.until, args.reviewed or None
    )
    if args.html and args.action != "show":
        raise UserError("--html writes one alert's page: use it with `log show ID`")
    if args.images and args.action != "show":
        raise UserError("--images saves one alert's images: use it with `log show ID`")
    if args.verdict and args.action != "review":
        raise UserError("--verdict marks one alert: use it with `log review ID`")
    if args.clips and not (args.action == "export" and args.reviewed):
        raise UserError("--clips writes reviewed clips: use it with `log export --reviewed`")
    # Opened writable when it can be, so sessions whose process died are closed as interrupted
    # (recovery); a read-only file is still shown, such sessions marked "interrupted?".
    writable = path.exists() and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if args.action == "review" and not writable:
        raise UserError(f"cannot review: {path} cannot be written (or does not exist)")
    with AlertLog(path, readonly=not writable) as db:
        if args.action == "sessions":
            _sessions(db)
        elif args.action == "list":
            _list(db, flt)
        elif args.action == "show":
            _show(db, args, path)
        elif args.action == "review":
            _review(db, args)
        elif args.action == "stats":
            from drowsy.logtext import format_stats, review_stats

            sys.stdout.write(format_stats(review_stats(db.alerts(flt))))
        else:
            _export(db, args, flt)
    return 0


def _sessions(db: AlertLog) -> None:
    print(f"{'id':>5}  {'started (UTC)':<25}  {'ended':<25}  {'status':<12} alerts source")
    for s in db.sessions():
        ended = s.ended_at or "-"
        print(
            f"{s.id:>5}  {s.started_at}  {ended:<25}  {s.status:<12}"
            f" alerts={s.alerts:<4} {s.source}"
        )


def _list(db: AlertLog, flt) -> None:
    rows = db.alerts(flt)
    for a in rows:
        dur = "active" if a.duration_s is None else f"{a.duration_s:.2f}s"
        review = {"confirmed": "CONFIRMED", "false_alarm": "FALSE-ALARM"}.get(a.review or "", "-")
        print(
            f"{a.id:>6}  s{a.session_id:<4} {a.raised_at}  {a.level:<8}"
            f" {a.kind:<20} t={a.start_s:.2f}s {dur:>8}  {review:<11}  {a.source}"
        )
    if not rows:
        print("no alerts match", file=sys.stderr)


def _show(db: AlertLog, args: argparse.Namespace, path: Path) -> None:
    """``log show ID``: the alert as JSON, its images saved (--images), its page (--html)."""
    if args.id is None:
        raise UserError("log show needs an alert id")
    alert = db.alert(args.id)
    if alert is None:
        raise UserError(f"no alert with id {args.id} in {path}")
    images = db.images(args.id)
    if args.images:
        try:
            args.images.mkdir(parents=True, exist_ok=True)
            for role, png in images.items():
                (args.images / f"alert{args.id}_{role}.png").write_bytes(png)
        except OSError as exc:
            raise UserError(f"cannot write images to {args.images}: {exc}") from exc
    if args.html:
        from drowsy.files import write_text_atomic
        from drowsy.report.html import render_alert_page

        session = db.session(alert.session_id)
        page_dir = args.html.resolve().parent
        page = render_alert_page(alert.to_dict(), sorted(images.items()), session, page_dir)
        write_text_atomic(args.html, page)
    shown = alert.to_dict() | {"images": {k: f"{len(v)} bytes PNG" for k, v in images.items()}}
    clip = alert.clip_path
    if clip is not None and not clip.is_file():
        shown["clip_missing"] = True
    print(json.dumps(shown, indent=2))


def _review(db: AlertLog, args: argparse.Namespace) -> None:
    if args.id is None or args.verdict is None:
        raise UserError("log review needs an alert id and --verdict confirmed|false_alarm|none")
    if db.alert(args.id) is None:
        raise UserError(f"no alert with id {args.id} in {db.path}")
    verdict = None if args.verdict == "none" else args.verdict
    db.review(args.id, verdict, args.note)
    print(f"alert {args.id}: {verdict or 'review cleared'}")


def _export(db: AlertLog, args: argparse.Namespace, flt) -> None:
    from drowsy.logtext import export_alerts

    rows = db.alerts(flt)
    if args.clips:
        from drowsy.clips.dataset import export_reviewed

        try:
            report = export_reviewed(rows, args.clips)
        except OSError as exc:
            raise UserError(f"cannot write the reviewed clips to {args.clips}: {exc}") from exc
        missing = f"; {len(report.without_clip)} without a clip" if report.without_clip else ""
        print(f"{report.written} reviewed clip(s) in {args.clips}{missing}", file=sys.stderr)
    text = export_alerts(rows, args.format)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from exc
    elif not args.clips:
        sys.stdout.write(text)
