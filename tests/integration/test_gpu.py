"""What only a GPU can check: the shipped ensembles on CUDA agree with the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from drowsy.inference.ensemble import Ensemble
from drowsy.inference.factory import SHIPPED_MODELS


@pytest.mark.gpu
@pytest.mark.parametrize("task", ["eyes", "yawn"])
def test_the_shipped_ensembles_agree_on_cuda_and_cpu(task):
    rng = np.random.default_rng(0)
    crops = list(rng.integers(0, 256, (8, 64, 64), dtype=np.uint8))
    cpu = Ensemble(SHIPPED_MODELS / task, providers=["CPUExecutionProvider"])
    gpu = Ensemble(
        SHIPPED_MODELS / task, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    np.testing.assert_allclose(gpu.predict(crops).probs, cpu.predict(crops).probs, atol=1e-4)
