"""Screenshots of the monitor for the README, taken from a real window (run under Xvfb).

    xvfb-run -a -s "-screen 0 1366x800x24" .venv/bin/python docs/make_screenshots.py docs/

Plays the built-in demo at 4x with the shipped models and saves, while the sleep alert of the
demo's long closure is in force (banner, Grad-CAM of the frame that raised it, shaded plots),
``monitor.png``; then, once that alert has ended and its clip is written, the alert log tab
with it selected, its clip playing and a review made, ``monitor-log.png``.

    xvfb-run -a -s "-screen 0 1024x768x24" .venv/bin/python docs/make_screenshots.py docs/ --small

The window at 1024x740 (a 1024x768 screen less a panel) during the first critical alert, with
the log-fault bar shown too: ``monitor-1024x768-critical.png`` (the banner's level word whole,
the plots on screen); ``--large`` under a 1920x1080 screen: ``monitor-1920x1080-critical.png``.

    .venv/bin/python docs/make_screenshots.py docs/ --report

The demo analysed, and its sleep alert's section of ``report.html`` (clip and Grad-CAM) as
headless Chromium shows it: ``report-clip.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.alertlog import AlertLog  # noqa: E402
from drowsy.gui.window import MonitorWindow  # noqa: E402
from drowsy.settings import Settings  # noqa: E402

SIZES = {"--small": (1024, 740, "1024x768"), "--large": (1920, 1050, "1920x1080")}


def sized(out: Path, flag: str) -> int:
    """A screen-size check: the first critical alert, with a log fault on top, in a window
    the size of that screen less a panel."""
    width, height, screen = SIZES[flag]
    app = QApplication(sys.argv[:1])
    target = out / f"monitor-{screen}-critical.png"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.log.path = str(Path(tmp) / "alerts.sqlite")
        window = MonitorWindow(settings, "demo")
        window.resize(width, height)
        window.move(0, 0)
        window.show()
        window.worker.speed = 4.0
        state = {"shot": False}

        def poll() -> None:
            top = window.top_alert
            if not state["shot"] and top is not None and top.level == "critical":
                state["shot"] = True
                window._on_fault(
                    "alert log: disk full (No space left on device); 3 changes kept in memory,"
                    " retrying every 5 s; monitoring continues"
                )
                QTimer.singleShot(300, shoot)

        def shoot() -> None:
            window._repaint()
            window.grab().save(str(target))
            window.close()
            app.quit()

        timer = QTimer()
        timer.timeout.connect(poll)
        timer.start(50)
        QTimer.singleShot(120_000, app.quit)
        app.exec()
    if not target.is_file():
        print(f"error: not written: {target}", file=sys.stderr)
        return 1
    print(f"saved {target}")
    return 0


# shows only the sleep alert's section of the real report, its clip at 5.6 s
SECTION = """<script>
const keep = [...document.querySelectorAll('.alert')].find(a => / sleep /.test(a.textContent));
const h = document.createElement('h2'); h.textContent = 'Alerts';
document.body.replaceChildren(h, keep);
const v = keep.querySelector('video'); v.preload = 'auto'; v.src = v.getAttribute('src') + '#t=5.6';
</script>"""


def report_shot(out: Path) -> int:
    import shutil
    import subprocess

    from drowsy.analyze import AnalyzeOptions, analyze_video
    from drowsy.sample import sample_video

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("error: needs headless Chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        opts = AnalyzeOptions(Path(tmp), None, Settings(), progress=False)
        analyze_video(sample_video(), folder, opts)
        out.mkdir(parents=True, exist_ok=True)
        page = folder / "shot.html"
        html = (folder / "report.html").read_text(encoding="utf-8")
        page.write_text(html.replace("</body>", SECTION + "</body>"), encoding="utf-8")
        target = (out / "report-clip.png").resolve()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        flags += ["--window-size=1280,640", "--virtual-time-budget=20000"]
        subprocess.run(
            [browser, *flags, f"--screenshot={target}", page.as_uri()],
            capture_output=True,
            timeout=180,
            check=False,
        )
    if not target.is_file():
        print(f"error: not written: {target}", file=sys.stderr)
        return 1
    print(f"saved {target}")
    return 0


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    if "--report" in sys.argv[2:]:
        return report_shot(out)
    flags = [f for f in sys.argv[2:] if f in SIZES]
    if flags:
        out.mkdir(parents=True, exist_ok=True)
        return sized(out, flags[0])
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.log.path = str(Path(tmp) / "alerts.sqlite")
        window = MonitorWindow(settings, "demo")
        window.show()
        window.worker.speed = 4.0
        state = {"shot": False}

        def poll() -> None:
            top = window.top_alert
            sleeping = top is not None and top.kind == "sleep"
            if not state["shot"] and sleeping and window.latest_alert_images:
                QTimer.singleShot(150, shoot)
                state["shot"] = True

        def shoot() -> None:
            window._repaint()
            window.grab().save(str(out / "monitor.png"))
            wait_for_clip.start(500)

        def clip_written() -> None:
            """Once the sleep alert has ended and its clip is in the log: the log tab."""
            with AlertLog(settings.log.path, readonly=True) as db:
                done = [a for a in db.alerts() if a.kind == "sleep" and a.clip]
            if not done:
                return
            wait_for_clip.stop()
            window.tabs.setCurrentIndex(1)
            window.log_view.refresh()
            table = window.log_view.table
            ids = [int(table.item(i, 0).text()) for i in range(table.rowCount())]
            table.selectRow(ids.index(done[0].id))
            review = window.log_view.review
            review.note.setText("eyes shut 4 s, head dropping")
            review.mark("confirmed")
            review.player.show_frame(len(review.player.frames) // 2)
            review.player.play.setChecked(True)
            QTimer.singleShot(1200, finish)

        def finish() -> None:
            window.grab().save(str(out / "monitor-log.png"))
            window.close()
            app.quit()

        wait_for_clip = QTimer()
        wait_for_clip.timeout.connect(clip_written)

        timer = QTimer()
        timer.timeout.connect(poll)
        timer.start(50)
        QTimer.singleShot(120_000, app.quit)  # never hang
        app.exec()
    missing = [p for p in (out / "monitor.png", out / "monitor-log.png") if not p.is_file()]
    if missing:  # Qt's save() fails quietly; the 120 s guard may also have fired first
        print(f"error: not written: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    print(f"saved {out / 'monitor.png'} and {out / 'monitor-log.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
