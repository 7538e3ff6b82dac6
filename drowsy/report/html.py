"""Self-contained HTML pages (plotly.js, images and styles inline; nothing fetched) of one
video (``report.html``), of a run (``index.html``) and of one logged alert."""

from __future__ import annotations

import base64
import os
from functools import cache
from pathlib import Path

import jinja2
import plotly.offline

from drowsy.alertlog import SessionRow
from drowsy.files import write_text_atomic
from drowsy.report import figures
from drowsy.report.outputs import VideoOutputs, load


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drowsy.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "-" if v is None else f"{100 * v:.1f} %"
    env.filters["num"] = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"
    return env


@cache
def _plotly_js() -> str:
    return plotly.offline.get_plotlyjs()


def shared_plotly(assets: Path) -> Path:
    """``assets/plotly-<version>.min.js``, written once: the reports of a run folder load
    this one copy (~4.6 MB) instead of inlining it each."""
    import plotly

    path = assets / f"plotly-{plotly.__version__}.min.js"
    if not path.is_file():
        assets.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, _plotly_js())
    return path


def _fig_html(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def caption(role: str) -> str:
    """``alert001_raise_gradcam_left_eye`` -> ``when raised: left eye``."""
    words = role.split("_")
    if words and words[0].startswith("alert"):
        words = words[1:]
    moment = {"raise": "when raised", "peak": "at its peak"}.get(words[0] if words else "", "")
    rest = " ".join(w for w in words[1:] if w != "gradcam") if moment else " ".join(words)
    return f"{moment}: {rest}" if moment else rest


def _image(folder: Path, rel: str) -> dict | None:
    path = folder / rel
    try:
        return {"name": caption(Path(rel).stem), "src": data_uri(path.read_bytes())}
    except OSError:
        return None  # listed but gone: the page says so instead of failing


def clip_fields(clip: Path | None, page_folder: Path | None) -> dict:
    """How a page plays an alert's clip: a ``<video>`` source relative to the page's folder
    (the clip stays its own file: a report does not grow by the clips' size), or the clip's
    name when the file is gone."""
    if clip is None:
        return {}
    if not clip.is_file():
        return {"clip_missing": clip.name}
    src = os.path.relpath(clip, page_folder) if page_folder is not None else clip.as_uri()
    return {"clip_src": Path(src).as_posix()}


def alert_rows(
    alerts: list[dict], folder: Path | None, page_folder: Path | None = None
) -> list[dict]:
    """Alerts as the template shows them: peak values, images inline, attention figure, the
    clip as a video (``page_folder``: where the page is, default ``folder``)."""
    rows = []
    for a in alerts:
        images = [_image(folder, rel) for rel in a.get("images", [])] if folder else []
        weights = (a.get("evidence") or {}).get("attention")
        clip = a.get("clip")
        clip_path = None if not clip else (folder / clip if folder else Path(clip))
        lo, hi = a.get("clip_span_s") or (0.0, 0.0)
        span = f"{lo:.1f} s to {hi:.1f} s of the video"
        rows.append(
            {
                **a,
                **clip_fields(clip_path, page_folder or folder),
                "clip_span": span,
                "images": [i for i in images if i is not None],
                "missing_images": sum(i is None for i in images),
                "attention_html": (
                    _fig_html(figures.attention(weights), f"attention-{a.get('id')}")
                    if weights
                    else None
                ),
            }
        )
    return rows


def render_report(v: VideoOutputs, plotly_src: str | None = None) -> str:
    """``plotly_src``: a relative URL of a shared plotly.js; None inlines it (one
    self-contained file)."""
    s = v.summary
    thresholds = s.thresholds or {}
    return (
        _templates()
        .get_template("report.html.j2")
        .render(
            v=v,
            s=s,
            plotly_js=None if plotly_src else _plotly_js(),
            plotly_src=plotly_src,
            timeline=_fig_html(figures.timeline(v, thresholds), "timeline-plot"),
            alerts=alert_rows(v.alerts, v.folder),
            thresholds=thresholds,
        )
    )


def write_report(folder: Path, assets: Path | None = None) -> Path:
    """``folder/report.html`` from the analyze outputs in ``folder``; with ``assets`` it
    loads the run's shared plotly.js from there instead of carrying its own copy."""
    src = None
    if assets is not None:
        src = Path(os.path.relpath(shared_plotly(assets), folder)).as_posix()
    return write_text_atomic(folder / "report.html", render_report(load(folder), src))


def write_index(out_dir: Path, folders: list[Path], labels: list[str] | None = None) -> Path:
    """``out_dir/index.html``: every analysed video of the run, sortable by its figures;
    ``labels`` name them (default: the video's file name)."""
    videos = []
    for i, folder in enumerate(folders):
        if not (folder / "summary.json").is_file():
            continue  # failed before writing anything
        v = load(folder)
        has_report = (folder / "report.html").is_file()
        link = os.path.relpath(folder / "report.html", out_dir) if has_report else None
        label = labels[i] if labels else v.name
        videos.append({"v": v, "s": v.summary, "link": link, "label": label})
    page = _templates().get_template("index.html.j2").render(videos=videos)
    return write_text_atomic(out_dir / "index.html", page)


def render_alert_page(
    alert: dict,
    images: list[tuple[str, bytes]],
    session: SessionRow | None,
    page_folder: Path | None = None,
) -> str:
    """One logged alert (``drowsy log show ID --html``): its figures, evidence, images and
    clip (``alert["clip"]`` absolute; played from a path relative to ``page_folder``)."""
    row = alert_rows([alert], None, page_folder)[0]
    row["images"] = [{"name": caption(n), "src": data_uri(b)} for n, b in images]
    return (
        _templates()
        .get_template("alert.html.j2")
        .render(a=row, session=session, plotly_js=_plotly_js())
    )
