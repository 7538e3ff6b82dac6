"""``drowsy demo`` without a window: render a scenario (the default one, cached), analyse it
and print the alerts; ``--check`` scores them against the script. (With a display, the command
shows the rendered video in the monitor instead: ``drowsy.cli`` decides, so this module, like
everything below the apps, never imports the GUI.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from drowsy.analyze import AnalyzeOptions, analyze_video
from drowsy.sample import sample_video
from drowsy.scenario.check import check
from drowsy.scenario.render import render, truth_path
from drowsy.scenario.script import Script, expected_alerts
from drowsy.settings import Settings, default_log_path


def scenario_video(
    script_path: Path | None, portrait: str | None, out: Path
) -> tuple[Path, Script]:
    from drowsy.scenario.script import DEFAULT

    if script_path is None and portrait is None:
        return sample_video(), DEFAULT
    script = Script.load(script_path) if script_path else DEFAULT
    if portrait is not None:
        from dataclasses import replace

        script = replace(script, portrait=portrait)
    video = out / "scenario.avi"
    print(f"drowsy: rendering the scenario into {video}", file=sys.stderr, flush=True)
    render(script, video, progress=sys.stderr.isatty())
    return video, script


def run_demo(
    settings: Settings,
    script_path: Path | None,
    portrait: str | None,
    out: Path,
    want_check: bool,
) -> int:
    video, script = scenario_video(script_path, portrait, out)
    opts = AnalyzeOptions(out, default_log_path(settings), settings, progress=False)
    analyze_video(video, out / video.stem, opts)
    events = json.loads((out / video.stem / "events.json").read_text())
    for a in events["alerts"]:
        print(f"{a['start_s']:7.2f}s  {a['level']:<8} {a['kind']}")
    if not want_check:
        return 0
    truth = expected_alerts(script, settings.alerts)
    report = check(events["alerts"], truth.expected_alerts)
    real = realism(script, out / video.stem / "frames.csv", settings.signals.closed_threshold)
    (out / "check.json").write_text(json.dumps(report.to_dict() | {"realism": real}, indent=2))
    print(
        f"realism: face found in {real['face_found_in_view']:.1%} of in-view frames; eye state "
        f"agrees with the script in {real['eye_agreement']:.1%} of frontal frames "
        f"(closed {real['closed_agreement']:.1%}, open {real['open_agreement']:.1%}; "
        f"{real['probability_source']})"
    )
    for miss in report.missed:
        print(
            f"MISSED      {miss['kind']} expected {miss['earliest_s']:.2f}-{miss['latest_s']:.2f}s"
            f" ({miss['because']})"
        )
    for fa in report.false_alarms:
        print(f"FALSE ALARM {fa['kind']} at {fa['start_s']:.2f}s")
    required = sum(e.required for e in truth.expected_alerts)
    found = sum(m["expected"]["required"] for m in report.matched)
    allowed = len(report.matched) - found
    print(
        f"precision {report.precision:.3f} recall {report.recall:.3f} ({found} of {required} "
        f"scripted alerts; {allowed} allowed temporal-model alerts; truth: {truth_path(video)})"
    )
    return 0 if report.perfect else 1


def realism(script: Script, frames_csv: Path, threshold: float) -> dict:
    """How the pipeline sees the rendered driver: face found in frames where the face is in
    view, and per-frame agreement of the eye state with the script (frontal frames)."""
    import csv

    from drowsy.scenario.render import pose_at

    in_view = found = 0
    agree = {True: [0, 0], False: [0, 0]}  # scripted closed? -> [agreeing, total]
    source = ""
    with frames_csv.open(newline="") as fh:
        for row in csv.DictReader(fh):
            p = pose_at(script, float(row["timestamp_s"]))
            if p.away > 0:
                continue
            in_view += 1
            if row["face_present"] != "1":
                continue
            found += 1
            source = row["probability_source"]
            if p.yaw or p.pitch or p.mouth or row["eye_closed"] == "":
                continue
            predicted = float(row["eye_closed"]) >= threshold
            agree[p.closed][0] += predicted == p.closed
            agree[p.closed][1] += 1

    def share(a: list[int]) -> float:
        return a[0] / a[1] if a[1] else 1.0

    both = [agree[True][0] + agree[False][0], agree[True][1] + agree[False][1]]
    return {
        "in_view_frames": in_view,
        "face_found_in_view": found / in_view if in_view else 0.0,
        "eye_agreement": share(both),
        "closed_agreement": share(agree[True]),
        "open_agreement": share(agree[False]),
        "closed_frames": agree[True][1],
        "probability_source": source,
    }
