"""One wrapper over ``onnxruntime.InferenceSession`` for every network the runtime runs.

It reads the model's own metadata (input size, classes, normalisation, crop regions) instead of
hard-coding them, verifies the SHA-256 file shipped beside the model, picks execution providers
quietly (TensorRT, then CUDA, then CPU: asking for CUDA on a machine without a GPU makes
onnxruntime-gpu print errors, so we only ask for what can work), and warms up at load.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drowsy.inference.metadata import ModelError, ModelMetadata
from drowsy.inference.preprocess import NORMALISATION
from drowsy.vision.crops import CROP_SPEC_VERSION

log = logging.getLogger(__name__)

GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})


def _gpu_present() -> bool:
    """CUDA providers are only worth asking for when the driver library can be loaded."""
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def choose_providers(preference: str = "auto") -> list[str]:
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    if preference == "cpu":
        return ["CPUExecutionProvider"]
    wanted = {
        "auto": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
        "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
        "cuda": ["CUDAExecutionProvider"],
    }[preference]
    gpu = [p for p in wanted if p in available] if _gpu_present() else []
    if preference != "auto" and not gpu:
        log.warning("execution provider %s requested but no usable GPU; using CPU", preference)
    return [*gpu, "CPUExecutionProvider"]


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model file: where it is, its checksum, its metadata and its graph outputs."""

    path: Path
    sha256: str
    meta: ModelMetadata
    graph_outputs: tuple[str, ...]

    @property
    def member(self) -> str:
        """The member's name (its file name when the metadata gives none)."""
        return self.meta.member or self.path.stem


def read_verified(path: Path, expected_sha256: str | None = None) -> tuple[bytes, str]:
    """The model file's bytes and SHA-256, after checking them against the expected digest
    (from ``ensemble.json`` or the ``.sha256`` file beside the model)."""
    if not path.is_file():
        raise ModelError(f"model {path}: no such file")
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    expected = expected_sha256 or _checksum_file(path)
    if digest != expected:
        raise ModelError(
            f"model {path}: checksum mismatch (expected {expected}, file has {digest}); "
            "the file is damaged or was replaced"
        )
    return content, digest


def _checksum_file(path: Path) -> str:
    side = path.with_name(path.name + ".sha256")
    if not side.is_file():
        raise ModelError(f"model {path}: checksum file {side.name} is missing")
    text = side.read_text(encoding="utf-8").split()
    if not text or len(text[0]) != 64:
        raise ModelError(f"model {path}: checksum file {side.name} is malformed")
    return text[0]


def model_info(
    path: Path, props: dict[str, str], digest: str, graph_outputs: tuple[str, ...]
) -> ModelInfo:
    """Parse and check a model's metadata; image models must match the runtime's crops."""
    meta = ModelMetadata.from_props(props, path)
    if meta.regions:  # an image model fed crops unlike its training crops fails silently
        if meta.crop_spec_version != str(CROP_SPEC_VERSION):
            raise ModelError(
                f"model {path}: trained on crop spec version {meta.crop_spec_version}, "
                f"but this runtime cuts version {CROP_SPEC_VERSION} crops; retrain or use "
                "matching models"
            )
        if meta.normalisation != NORMALISATION:
            raise ModelError(
                f"model {path}: expects input normalised as {meta.normalisation}, the "
                f"runtime normalises crops as {NORMALISATION}; retrain or use matching models"
            )
    return ModelInfo(path, digest, meta, graph_outputs)


class OnnxModel:
    """A loaded, verified model. ``run(batch)`` returns the named outputs as a dict.

    ``content`` loads a model built in memory (an ensemble's merged graph, whose members were
    verified one by one); ``path`` then only names it in messages."""

    def __init__(
        self,
        path: str | Path,
        providers: list[str] | None = None,
        threads: int = 0,
        expected_sha256: str | None = None,
        content: bytes | None = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(path)
        if content is None:
            content, digest = read_verified(path, expected_sha256)
        else:
            digest = hashlib.sha256(content).hexdigest()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # idle ONNX Runtime threads sleep instead of spinning: the face mesh runs beside them
        # (measured: analyze 85 -> 109 frames/s on 2 cores with one thread and no spinning)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # no memory arena: these graphs' tensors are small and the arena kept 5.7 MB reserved
        # (models resident: 43.3 MB with it, 37.6 MB without; speed the same within noise)
        opts.enable_cpu_mem_arena = False
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                content, opts, providers=providers or choose_providers()
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"model {path}: not a loadable ONNX model ({exc})") from exc
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.info = model_info(path, meta, digest, tuple(self.output_names))
        inp = self.session.get_inputs()[0]
        shape = inp.shape
        if self.info.meta.input_shape is not None:  # sequence models: (steps, features)
            expect = list(self.info.meta.input_shape)
        else:  # image models: (channels, size, size)
            expect = [1, self.info.meta.input_size, self.info.meta.input_size]
        if len(shape) != len(expect) + 1 or list(shape[1:]) != expect:
            raise ModelError(
                f"model {path}: input shape {shape} does not match (batch, "
                f"{', '.join(map(str, expect))}) from its metadata"
            )
        self.input_shape = expect
        self.input_name = inp.name
        self.provider = self.session.get_providers()[0]
        warm = self.run(np.zeros((2, *expect), np.float32), self.output_names[:1])
        del warm

    def run(self, batch: np.ndarray, outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        names = outputs or self.output_names[:1]
        if self.provider in GPU_PROVIDERS:
            return self._run_bound(batch, names)
        values = self.session.run(names, {self.input_name: batch})
        return dict(zip(names, values, strict=True))

    def _run_bound(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """On a GPU: IO binding, so the batch is copied to the device once and the outputs
        stay there until the one copy back, instead of ONNX Runtime staging both through
        host buffers on every call."""
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(batch))
        for name in names:
            binding.bind_output(name, "cuda")
        self.session.run_with_iobinding(binding)
        return dict(zip(names, binding.copy_outputs_to_cpu(), strict=True))
