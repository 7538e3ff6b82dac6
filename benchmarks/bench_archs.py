"""Cost of each candidate network in ONNX Runtime, one thread, before any training.

Usage: python benchmarks/bench_archs.py [--archs cnn_t32,cnn_w32,...] [--runs N]

The eye rule of docs/PROTOCOL.md breaks ties by cost. Pixels a crop stand for cost across
input sizes, but not across widths: ``ArchSpec.width_cost`` is this script's ratio of a
network's ms to the 16/32/64 network's at the same input size. Each network is exported with
random weights through the product's own export (``training.export.export_onnx``: the graph
with Grad-CAM outputs the runtime loads) and timed on two crops (both eyes), median of
``--runs`` calls. Needs the training extra (torch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.export import export_onnx  # noqa: E402
from training.models import ARCHS, CropNet  # noqa: E402


def ms_two_crops(path: Path, size: int, runs: int) -> float:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).random((2, 1, size, size), dtype=np.float32)
    for _ in range(100):
        session.run(None, {name: x})
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, {name: x})
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="cnn_t32,cnn_w32,cnn_t48")
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    archs = args.archs.split(",")
    unknown = sorted(set(archs) - set(ARCHS))
    if unknown:
        ap.error(f"unknown architectures {unknown}; known: {sorted(ARCHS)}")
    ms: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            spec = ARCHS[arch]
            model = CropNet(arch)
            path = Path(tmp) / f"{arch}.onnx"
            export_onnx(
                model, path, task="eyes", classes=("open", "closed"), regions=("left_eye",),
                member=arch, version="bench", training={}, metrics={}, input_size=spec.input_size,
            )  # fmt: skip
            ms[arch] = ms_two_crops(path, spec.input_size, args.runs)
            params = sum(p.numel() for p in model.parameters())
            print(
                f"{arch:10s} {spec.input_size:3d} px  widths {'/'.join(map(str, spec.widths)):12s}"
                f" {params:7d} params  {ms[arch]:.3f} ms for two crops"
                f"  width_cost {spec.width_cost:g}"
            )
    for arch in archs:
        base = next((a for a in ms if ARCHS[a].input_size == ARCHS[arch].input_size), None)
        if base and base != arch and ARCHS[base].widths == (16, 32, 64):
            print(f"{arch}: {ms[arch] / ms[base]:.2f}x {base} at the same input size")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
