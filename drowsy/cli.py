"""The ``drowsy`` command. Heavy imports happen inside commands so ``drowsy --help`` is instant,
and user errors end as one ``error:`` line with a non-zero exit code, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

import platformdirs

from drowsy import __version__
from drowsy.errors import UserError
from drowsy.logcmd import add_log_arguments

# below this share of images (frames) with a face, `evaluate` measures the face finder
MIN_FACE_FOUND_RATE = 0.5


def camera_size(text: str) -> tuple[int, int]:
    """argparse type for --camera-size WIDTHxHEIGHT."""
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    return int(w), int(h)


def _camera_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--camera-size",
        type=camera_size,
        metavar="WxH",
        help="ask the camera for this resolution, e.g. 1280x720 (what it delivers is printed)",
    )
    p.add_argument(
        "--camera-fps", type=float, metavar="FPS", help="ask the camera for this frame rate"
    )


def _camera_options(args: argparse.Namespace):
    from drowsy.errors import SourceError
    from drowsy.sources import SourceOptions

    try:
        return SourceOptions(camera_size=args.camera_size, camera_fps=args.camera_fps)
    except SourceError as exc:
        raise UserError(str(exc)) from exc


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a setting, e.g. --set alerts.microsleep_s=1.2 (repeatable)",
    )
    p.add_argument("--log", type=Path, help="alert log SQLite file (default: user data dir)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or warnings")


def seconds(text: str) -> float:
    """An argparse type: a finite, non-negative number of seconds (float() alone takes nan,
    inf and -5; argparse names the option in the error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number of seconds >= 0")
    return value


def _source_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", type=seconds, default=0.0, metavar="SECONDS")
    p.add_argument("--end", type=seconds, default=None, metavar="SECONDS")
    p.add_argument("--max-frames", type=int, default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drowsy", description="Driver drowsiness and inattention monitor."
    )
    parser.add_argument("--version", action="version", version=f"drowsy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="monitor a camera live (the built-in sample when none)")
    p.add_argument("--source", default=None, help="camera index, video file or image folder")
    p.add_argument("--seconds", type=seconds, default=None, help="stop after this much video time")
    p.add_argument("--fast", action="store_true", help="process files as fast as possible")
    _camera_args(p)
    _common(p)

    p = sub.add_parser("monitor", help="the desktop monitor (camera, video file or the demo)")
    p.add_argument("--source", default=None, help="camera index, video file, or 'demo'")
    p.add_argument("--exit-after", type=seconds, default=None, metavar="SECONDS")
    p.add_argument("--screenshot", type=Path, default=None, help="save the window on exit")
    _camera_args(p)
    _common(p)

    p = sub.add_parser("demo", help="render the demo scenario and show or check it")
    p.add_argument("--check", action="store_true", help="score alerts against the script")
    p.add_argument("--script", type=Path, help="a scenario JSON (default: the built-in one)")
    p.add_argument("--portrait", help="a face photo to animate (default: the astronaut)")
    p.add_argument(
        "--out", type=Path, help="output folder (default: demo-out in the user cache dir)"
    )
    _common(p)

    p = sub.add_parser("analyze", help="analyse recorded videos into signals, events, summary")
    p.add_argument("videos", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--jobs", type=int, default=1, help="videos analysed in parallel")
    p.add_argument(
        "--input-root",
        type=Path,
        help="name each output folder by the video's path relative to this folder",
    )
    p.add_argument(
        "--skip-done",
        action="store_true",
        help="skip videos whose finished results (same content hash) are already in --out",
    )
    p.add_argument(
        "--shared-assets",
        action="store_true",
        help="reports load one plotly.js from --out/assets/ instead of each inlining 4.6 MB"
        " (smaller; a report then needs that folder beside it)",
    )
    _source_opts(p)
    _common(p)

    p = sub.add_parser("fleet", help="analyse every video under a folder on Ray")
    p.add_argument("in_dir", type=Path, help="folder searched recursively for videos")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=int, help="local Ray: worker processes (default: cores)")
    p.add_argument("--address", help="join this Ray cluster instead of starting one")
    _common(p)

    p = sub.add_parser("report", help="rebuild the HTML report of analysed videos")
    p.add_argument("dirs", nargs="+", type=Path, help="a video's folder in analyze's --out")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    p = sub.add_parser(
        "evaluate",
        help="measure on labelled data (eyes, yawn, blinks)",
        description="Measure the pipeline on labelled data beside a plain EAR/MAR baseline."
        " eyes: DIR/open/ and DIR/closed/ with photos of whole faces (the face mesh cuts the"
        " eye crops itself; eye close-ups find no face). yawn: DIR/no_yawn/ and DIR/yawn/ with"
        " whole faces. blinks: videos (*.avi, *.mp4) each with a NAME.csv of per-frame labels"
        f" (columns frame,closed). Fails when a face is found in fewer than"
        f" {MIN_FACE_FOUND_RATE:.0%} of the images or frames: the numbers would not measure"
        " the models.",
    )
    p.add_argument("task", choices=("eyes", "yawn", "blinks"), help="what DIR holds (see above)")
    p.add_argument("dir", type=Path, help="the labelled folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _common(p)

    p = sub.add_parser("log", help="browse, review and export the alert log")
    add_log_arguments(p)
    _common(p)

    p = sub.add_parser("settings", help="show the effective settings or write the settings file")
    p.add_argument(
        "action",
        choices=("show", "path", "save"),
        help="show: the effective settings as TOML; path: where the settings file is; save:"
        " write the effective settings (with --set changes) to it",
    )
    _common(p)
    return parser


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    logging.addLevelName(logging.WARNING, "warning")
    logging.addLevelName(logging.ERROR, "error")


def _settings(args: argparse.Namespace):
    from drowsy.settings import load_settings

    creating = args.command == "settings" and args.action == "save"
    settings = load_settings(args.config, args.overrides, must_exist=not creating)
    if getattr(args, "log", None):
        settings.log.path = str(args.log)
    return settings


def cmd_analyze(args: argparse.Namespace) -> int:
    from drowsy.analyze import AnalyzeOptions, analyze_many, display_names
    from drowsy.lifecycle import StopFlag, exit_code, stop_on_signals
    from drowsy.settings import default_log_path
    from drowsy.sources import SourceOptions

    if args.jobs < 1:
        raise UserError("--jobs must be >= 1")
    if args.input_root is not None and not args.input_root.is_dir():
        raise UserError(f"--input-root {args.input_root}: no such folder")
    settings = _settings(args)
    opts = AnalyzeOptions(
        out_dir=args.out,
        log_path=default_log_path(settings),
        settings=settings,
        source=SourceOptions(args.start, args.end, args.max_frames),
        progress=not args.quiet and sys.stderr.isatty(),
        input_root=args.input_root,
        skip_done=args.skip_done,
        shared_assets=args.shared_assets,
    )
    names = dict(zip(args.videos, display_names(args.videos, args.input_root), strict=True))
    with stop_on_signals(StopFlag()) as stop:
        results = analyze_many(args.videos, opts, args.jobs, stop)
    failed = 0
    for r in results:
        s, name = r.summary, names[r.path]
        if r.error:
            failed += 1
            print(f"error: {r.error}", file=sys.stderr)
        elif r.skipped:
            if not args.quiet:
                print(f"{name}: already analysed, skipped")
        elif s is not None and s.interrupted:
            print(
                f"{name}: interrupted ({s.stop_reason}) after {s.frames} frames;"
                f" partial results in {args.out}",
                file=sys.stderr,
            )
        elif not args.quiet and s is not None:
            print(
                f"{name}: {s.frames} frames, face {s.face_found_rate:.0%},"
                f" {_count(s.blinks, 'blink')}, alerts {_kinds(s.alerts_by_kind)},"
                f" {s.processing_fps} fps"
            )
    skipped = sum(r.skipped for r in results)
    if skipped or args.quiet:
        done = len(results) - skipped - failed
        print(f"{done} analysed, {skipped} skipped (already done), {failed} failed")
    if stop.is_set():
        return exit_code(stop.reason) or 1
    return 0 if failed == 0 else (2 if failed == len(results) else 1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{k} x{n}" for k, n in by_kind.items()) or "none"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from drowsy import evaluate

    settings = _settings(args)
    report = getattr(evaluate, f"evaluate_{args.task}")(args.dir, settings)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {json.dumps(value)}")
    rate = report.get("face_found_rate")
    if rate is not None and rate < MIN_FACE_FOUND_RATE:
        raise UserError(
            f"a face was found in only {rate:.0%} of {args.dir}: these numbers do not measure"
            f" the models. `evaluate {args.task}` expects whole faces (see --help)"
        )
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from drowsy.logcmd import run_log_command
    from drowsy.settings import default_log_path

    return run_log_command(args, default_log_path(_settings(args)))


def cmd_fleet(args: argparse.Namespace) -> int:
    from drowsy.fleet import print_results, run_fleet
    from drowsy.settings import default_log_path

    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be >= 1")
    settings = _settings(args)
    results = run_fleet(
        args.in_dir,
        args.out,
        settings,
        default_log_path(settings),
        args.workers,
        args.address,
        progress=not args.quiet and sys.stderr.isatty(),
        quiet=args.quiet,
    )
    return print_results(results, args.out)


def cmd_report(args: argparse.Namespace) -> int:
    from drowsy.report.html import write_report

    for folder in args.dirs:
        path = write_report(folder)
        if not args.quiet:
            print(path)
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    import tomli_w

    from drowsy.settings import default_settings_path, save_settings

    path = args.config or default_settings_path()
    if args.action == "path":
        print(path)
        return 0
    settings = _settings(args)
    if args.action == "save":
        print(f"saved {save_settings(settings, path)}")
    else:
        print(tomli_w.dumps(settings.model_dump(exclude_none=True)), end="")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from drowsy.gui.app import run_monitor

    spec = args.source
    if spec not in (None, "demo") and not spec.isdigit() and not Path(spec).exists():
        raise UserError(f"{spec}: no such file")
    offscreen = os.environ.get("QT_QPA_PLATFORM") == "offscreen"
    problem = None if args.screenshot is not None or offscreen else _window_problem()
    if problem:
        from drowsy.live import run_live

        print(f"drowsy: {problem}; running the console monitor instead")
        camera = _camera_options(args)
        return run_live(
            None if spec == "demo" else spec, _settings(args), args.exit_after, camera=camera
        )
    return run_monitor(
        _settings(args), args.source, args.exit_after, args.screenshot, _camera_options(args)
    )


def _window_problem() -> str | None:
    """Why no monitor window can open here (no display, or Qt cannot start), or None."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display found"
    from drowsy.gui.probe import qt_start_problem

    return qt_start_problem()


def cmd_demo(args: argparse.Namespace) -> int:
    from drowsy.analyze import prepare_out_dir
    from drowsy.demo import run_demo, scenario_video

    # not the working directory: a demo run must not leave files in the user's checkout
    out = args.out or Path(platformdirs.user_cache_dir("drowsy")) / "demo-out"
    prepare_out_dir(out)
    settings = _settings(args)
    problem = None if args.check else _window_problem()
    if problem and problem != "no display found":
        print(f"drowsy: {problem}; rendering the demo into {out} instead", file=sys.stderr)
    if not args.check and problem is None:
        from drowsy.gui.app import run_monitor

        video, _ = scenario_video(args.script, args.portrait, out)
        return run_monitor(settings, str(video), None, None)
    return run_demo(settings, args.script, args.portrait, out, args.check)


def cmd_run(args: argparse.Namespace) -> int:
    from drowsy.live import run_live

    camera = _camera_options(args)
    return run_live(args.source, _settings(args), args.seconds, fast=args.fast, camera=camera)


COMMANDS = {
    "analyze": cmd_analyze,
    "report": cmd_report,
    "fleet": cmd_fleet,
    "evaluate": cmd_evaluate,
    "log": cmd_log,
    "settings": cmd_settings,
    "run": cmd_run,
    "monitor": cmd_monitor,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.quiet)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`drowsy log list | head -1`): stop quietly, as Unix tools do;
        # stdout is pointed at /dev/null so the interpreter's final flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
