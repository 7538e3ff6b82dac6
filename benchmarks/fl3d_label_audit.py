"""How often FL3D's frame labels disagree with what the eye in the crop shows: a blind audit.

FL3D labels a frame by the driver's state (``alert`` / ``microsleep``), and the person protocol
reads that as the eye state (alert = open, microsleep = closed). A microsleep stretch holds
frames where the eyes open again, and an alert stretch holds blinks. Where the label and the
eye disagree, an eye model that is right is scored wrong, so this bounds what any per-crop
balanced accuracy on FL3D can say.

``sheets`` draws a fixed random sample of eye crops per development driver and label (never
the final-test driver), shuffles both labels together and writes numbered contact sheets with
neither the label nor any prediction on them, plus ``sample.csv`` (tile -> crop). A reviewer
writes one verdict a tile into a judged CSV (``tile,judged``) without opening ``sample.csv``:
``o`` only where a pupil or iris shows, ``c`` only where a lid line or lashes show and no iris,
``?`` for everything else (a bright streak under a dark band is either a wet open eye or a lit
lid: ``?``). ``score`` joins the two and prints, per driver and label, how many crops show the
other state, and, given an OOF prediction file of ``python -m training reproduce``'s work
folder, the model's balanced accuracy against the frame labels and against the verdicts on the
same crops.

``benchmarks/fl3d_label_audit.csv`` is the audit we did (``sheets --seed 2027 --per-cell 24``,
192 crops, judged blind), the sample's columns and the verdict in one file:

    python benchmarks/fl3d_label_audit.py sheets --out build/audit --seed 2027
    python benchmarks/fl3d_label_audit.py score --judged benchmarks/fl3d_label_audit.csv \
        [--oof build/people/oof-eyes-....npy]
    python benchmarks/fl3d_label_audit.py score --sample build/audit/sample.csv \
        --judged my_verdicts.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.metrics_people import balanced_accuracy  # noqa: E402
from training.people import load_people  # noqa: E402
from training.protocol import TEST_FL3D, task_split  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VERDICTS = {"o": 0, "c": 1, "?": -1}
TILE, PER_ROW, PER_SHEET = 128, 8, 48


@dataclass(frozen=True)
class Crop:
    """One FL3D eye crop, named so that it can be found again in any build of the cache."""

    driver: str
    frame: int
    eye: int  # 0: the face's first eye crop, 1: its second
    label: int  # the frame label read as an eye state: 1 microsleep (closed), 0 alert (open)


def eye_split(cache: Path):
    """The eye split of every source (the OOF files are indexed by it) and each FL3D row's
    :class:`Crop`."""
    people = load_people(DATA, cache)
    split = task_split(people, "eyes")
    p = split.people
    crops: dict[int, Crop] = {}
    for face in np.unique(p.face[p.source == "fl3d"]):
        rows = np.flatnonzero(p.face == face)
        for eye, r in enumerate(rows):
            crops[int(r)] = Crop(
                p.person[r].removeprefix("fl3d:"), int(p.frame[r]), eye, int(split.labels[r])
            )
    return split, crops


def draw(crops: dict[int, Crop], per_cell: int, seed: int) -> list[int]:
    """``per_cell`` random rows of each development driver and label, shuffled together."""
    rng = np.random.default_rng(seed)
    cells: dict[tuple[str, int], list[int]] = {}
    for r, c in sorted(crops.items()):
        if f"fl3d:{c.driver}" not in TEST_FL3D:
            cells.setdefault((c.driver, c.label), []).append(r)
    picked = [
        int(r)
        for key in sorted(cells)
        for r in rng.choice(cells[key], size=min(per_cell, len(cells[key])), replace=False)
    ]
    rng.shuffle(picked)
    return picked


def tile(image: np.ndarray, number: int) -> np.ndarray:
    """The crop stretched to full contrast (night crops are dim), enlarged and numbered."""
    x = image.astype(np.float32)
    x = (x - x.min()) / max(1.0, float(np.ptp(x))) * 255
    out = cv2.cvtColor(cv2.resize(x.astype(np.uint8), (TILE, TILE)), cv2.COLOR_GRAY2BGR)
    cv2.putText(out, str(number), (3, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1)
    return out


def write_sheets(split, crops: dict[int, Crop], rows: list[int], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "sample.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tile", "driver", "frame", "eye", "label"])
        for n, r in enumerate(rows):
            c = crops[r]
            w.writerow([n, c.driver, c.frame, c.eye, c.label])
    blank = np.zeros((TILE, TILE, 3), np.uint8)
    for s in range(0, len(rows), PER_SHEET):
        tiles = [tile(split.people.images[r], s + k) for k, r in enumerate(rows[s : s + PER_SHEET])]
        tiles += [blank] * (-len(tiles) % PER_ROW)
        grid = [np.hstack(tiles[i : i + PER_ROW]) for i in range(0, len(tiles), PER_ROW)]
        cv2.imwrite(str(out / f"sheet{s // PER_SHEET:02d}.png"), np.vstack(grid))
    print(f"{len(rows)} crops on {-(-len(rows) // PER_SHEET)} sheets in {out}")


def read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV that has at least ``columns``; a clear error when it is not one."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            lacking = [c for c in columns if c not in (reader.fieldnames or [])]
            if lacking:
                raise SystemExit(f"{path}: no column {', '.join(lacking)}")
            return list(reader)
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"{path}: cannot read: {e}") from e


def read_judged(path: Path) -> dict[int, int]:
    """Tile -> verdict (0 open, 1 closed, -1 cannot tell); anything else in the file stops it."""
    got = {}
    for row in read_csv(path, ("tile", "judged")):
        v = (row["judged"] or "").strip()
        if v not in VERDICTS:
            raise SystemExit(f"{path}: tile {row['tile']}: verdict {v!r} is not o, c or ?")
        try:
            got[int(row["tile"])] = VERDICTS[v]
        except ValueError:
            raise SystemExit(f"{path}: tile {row['tile']!r} is not a number") from None
    return got


SAMPLE_COLUMNS = ("tile", "driver", "frame", "eye", "label")


def score(sample: Path | None, judged: Path, oof: Path | None, cache: Path) -> None:
    rows = read_csv(sample or judged, SAMPLE_COLUMNS)
    verdict = read_judged(judged)
    missing = [int(r["tile"]) for r in rows if int(r["tile"]) not in verdict]
    if missing:
        raise SystemExit(f"{judged}: no verdict for tiles {missing[:10]}")
    print("driver     label  crops  shows other state  cannot tell")
    for d in sorted({r["driver"] for r in rows}):
        for lab in (1, 0):
            cell = [r for r in rows if r["driver"] == d and int(r["label"]) == lab]
            v = np.array([verdict[int(r["tile"])] for r in cell])
            sure = v[v >= 0]
            print(
                f"{d}  {'closed' if lab else 'open  '}  {len(cell):5d}  "
                f"{(sure != lab).sum():3d} ({(sure != lab).mean():.0%})  {(v < 0).sum():10d}"
            )
    if oof is None:
        return
    split, crops = eye_split(cache)
    by_key = {(c.driver, c.frame, c.eye): r for r, c in crops.items()}
    p = np.load(oof)
    if len(p) != len(split.labels):
        raise SystemExit(f"{oof}: {len(p)} predictions, the eye split has {len(split.labels)}")
    idx = np.array([by_key[(r["driver"], int(r["frame"]), int(r["eye"]))] for r in rows])
    v = np.array([verdict[int(r["tile"])] for r in rows])
    label = np.array([int(r["label"]) for r in rows])
    pred = (p[idx] >= 0.5).astype(int)
    sure = v >= 0
    print(
        f"\nmodel on the {sure.sum()} crops with a verdict: balanced accuracy "
        f"{balanced_accuracy(label[sure], pred[sure]):.3f} against the frame labels, "
        f"{balanced_accuracy(v[sure], pred[sure]):.3f} against the verdicts"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sheets")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--per-cell", type=int, default=24)
    s.add_argument("--seed", type=int, default=2026)
    c = sub.add_parser("score")
    c.add_argument(
        "--sample",
        type=Path,
        help="sample.csv of sheets (default: the judged file holds the sample's columns too)",
    )
    c.add_argument("--judged", type=Path, required=True)
    c.add_argument("--oof", type=Path)
    for x in (s, c):
        x.add_argument("--cache", type=Path, default=ROOT / "build" / "people" / "crops")
    a = ap.parse_args()
    if a.cmd == "sheets":
        if a.per_cell < 1:
            raise SystemExit("--per-cell must be at least 1")
        split, crops = eye_split(a.cache)
        write_sheets(split, crops, draw(crops, a.per_cell, a.seed), a.out)
    else:
        score(a.sample, a.judged, a.oof, a.cache)


if __name__ == "__main__":
    main()
