"""HTML reports: every section, nothing fetched from the network, rendered by a real browser."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess

import pytest

from drowsy.cli import main

SECTIONS = ("summary", "timeline", "alerts", "calibration", "models")
NETWORK = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?https?:""", re.I)
SCRIPT = re.compile(r"<script([^>]*)>.*?</script>", re.S | re.I)


def fetches_from_network(html: str) -> list[str]:
    """Markup that would load something from the network: a script with a ``src``, or any
    remote ``src``/``href``/CSS import outside the inline scripts (plotly.js itself contains
    URLs in strings, such as its logo's link, that nothing loads)."""
    remote_scripts = [a for a in SCRIPT.findall(html) if "src" in a.lower()]
    return remote_scripts + [m.group(0) for m in NETWORK.finditer(SCRIPT.sub("", html))]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, face_video, no_face_video):
    """Two videos analysed with the shipped models: one with a microsleep, one empty cabin."""
    out = tmp_path_factory.mktemp("report")
    log = out / "log.sqlite"
    args = ["--out", str(out / "out"), "--log", str(log), "-q", "--set", "runtime.estimator=auto"]
    assert main(["analyze", str(face_video), str(no_face_video), *args]) == 0
    return out / "out", log, face_video.stem, no_face_video.stem


def test_report_has_every_section_and_no_network_reference(analysed):
    out, _, stem, _ = analysed
    html = (out / stem / "report.html").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<h2 id="{section}">' in html
    assert "Plotly.newPlot" in html and 'id="timeline-plot"' in html  # the timeline is drawn
    for signal in ("left eye closed", "PERCLOS", "yawn", "head yaw", "on road", "temporal"):
        assert signal in html
    assert "microsleep" in html and 'id="alert-1"' in html
    assert html.count("data:image/png;base64,") >= 3  # Grad-CAM images inline
    assert "open-eye EAR" in html and "CPUExecutionProvider" in html
    assert not fetches_from_network(html), fetches_from_network(html)


def test_index_links_every_video_with_its_figures(analysed):
    out, _, stem, empty = analysed
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{stem}/report.html"' in index and f'href="{empty}/report.html"' in index
    rows = re.findall(r"<tr>\s*<td data-v=\"([^\"]+)\">", index)
    assert sorted(rows) == sorted([f"{stem}.avi", f"{empty}.avi"])
    assert "microsleep" in index


def test_report_rebuilds_from_outputs_and_refuses_other_folders(analysed, tmp_path, capsys):
    out, _, stem, _ = analysed
    copy = tmp_path / stem
    shutil.copytree(out / stem, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").stat().st_size > 100_000
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a folder of `drowsy analyze` results" in capsys.readouterr().err
    (copy / "summary.json").write_text("{not json")
    assert main(["report", str(copy)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_one_logged_alert_as_a_page(analysed, tmp_path):
    _, log, _, _ = analysed
    alert_id = sqlite3.connect(log).execute("SELECT id FROM alerts WHERE kind='microsleep'")
    (alert_id,) = alert_id.fetchone()
    page = tmp_path / "alert.html"
    assert main(["log", "show", str(alert_id), "--log", str(log), "--html", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "microsleep" in html and "data:image/png;base64," in html
    assert "when raised: left eye" in html
    assert not fetches_from_network(html)


def test_a_browser_renders_the_report_without_errors(analysed, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install chromium)")
    out, _, stem, _ = analysed
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            (out / stem / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if "Uncaught" in line or "Error" in line]
    assert not errors, errors
    assert json.loads((out / stem / "summary.json").read_text())["thresholds"]["closed"] == 0.5


def test_reports_of_a_run_can_share_one_plotly(tmp_path, no_face_video):
    """Before: each report.html inlined ~4.6 MB of plotly (6 reports: 52 MB)."""
    import shutil

    from drowsy.cli import main

    videos = [shutil.copy(no_face_video, tmp_path / f"v{k}.avi") for k in range(2)]
    out, log = tmp_path / "out", str(tmp_path / "l.db")
    assert (
        main(["analyze", *map(str, videos), "--out", str(out), "--shared-assets", "--log", log])
        == 0
    )
    assets = list((out / "assets").glob("plotly-*.min.js"))
    assert len(assets) == 1 and assets[0].stat().st_size > 1_000_000
    for k in range(2):
        page = (out / f"v{k}" / "report.html").read_text()
        assert f'<script src="../assets/{assets[0].name}"></script>' in page
        assert len(page) < 500_000
    inline = tmp_path / "inline"
    assert main(["analyze", str(videos[0]), "--out", str(inline), "--log", log]) == 0
    assert (inline / "v0" / "report.html").stat().st_size > 1_000_000  # self-contained
    assert not (inline / "assets").exists()
