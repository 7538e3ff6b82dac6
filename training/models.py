"""Small CNNs for square grayscale crops, one ``nn.Module`` per architecture.

Every architecture splits into ``forward_features`` (the backbone: what self-supervised
pretraining learns and fine-tuning starts from) and ``forward_head`` (global average pooling and
one linear layer). Keeping the head linear after the last feature map makes Grad-CAM exact and
cheap: the gradient of a class score with respect to the feature map is that class's weight row
divided by the map's area, which the exported graph computes for the runtime.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ArchSpec:
    widths: tuple[int, ...]
    separable: bool
    input_size: int = 64  # side of the crop the network sees (the 64 px crop is resized to it)
    # the tie rule's cost is pixels a crop x this: compute the pixel count does not see (a
    # wider network), measured against the 16/32/64 network at the same input size
    width_cost: float = 1.0


ARCHS: dict[str, ArchSpec] = {
    # plain 3x3 convolutions, ~0.2 M parameters
    "cnn_s": ArchSpec((16, 32, 64, 96), separable=False),
    # depthwise-separable, wider, ~0.06 M parameters: different inductive bias for the ensemble
    "cnn_dw": ArchSpec((24, 48, 96, 160), separable=True),
    # three plain stages on 32x32 (~23 k parameters, ~1.5 MFLOPs a crop): an eye at 32 px
    # still shows the lid line; 0.05 ms for both eyes in ONNX Runtime against ~0.6 ms at 64
    "cnn_t32": ArchSpec((16, 32, 64), separable=False, input_size=32),
    # the same at 48x48: more detail for small, blurred night crops, ~2.3x the cost
    "cnn_t48": ArchSpec((16, 32, 64), separable=False, input_size=48),
    # sixth amendment of docs/PROTOCOL.md: cnn_t32 at twice the width, 3.5x its ms (measured
    # 2026-12-03 before any training; benchmarks/bench_archs.py prints the ratio)
    "cnn_w32": ArchSpec((32, 64, 128), separable=False, input_size=32, width_cost=3.5),
}


def _conv(cin: int, cout: int, stride: int, separable: bool) -> nn.Sequential:
    if separable and cin > 1:  # depthwise 3x3 then pointwise 1x1
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
        ]
    else:
        layers = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False)]
    return nn.Sequential(*layers, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CropNet(nn.Module):
    """SxSx1 -> feature map (C, S/2^k, S/2^k) -> logits: k stages, each halving the resolution
    (64 px and four stages, or 32/48 px and three: a 4x4 or 6x6 map for Grad-CAM)."""

    def __init__(self, arch: str = "cnn_s", num_classes: int = 2, in_channels: int = 1) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}; known: {sorted(ARCHS)}")
        spec = ARCHS[arch]
        self.arch = arch
        self.input_size = spec.input_size
        layers: list[nn.Module] = [_conv(in_channels, spec.widths[0], 1, False)]
        cin = spec.widths[0]
        for w in spec.widths:
            layers += [_conv(cin, w, 2, spec.separable), _conv(w, w, 1, spec.separable)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.num_features = cin
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(cin, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(feats.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def early_layers(self) -> nn.Module:
        """The first half of the backbone: frozen in 'frozen' fine-tuning."""
        return self.features[: len(self.features) // 2]


class RotationHead(nn.Module):
    """Pretext: which of 0/90/180/270 degrees was the crop rotated by."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(num_features, 4)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.fc(feats.mean(dim=(2, 3)))


class InpaintDecoder(nn.Module):
    """Pretext: rebuild the 64x64 crop from features of a copy with patches masked out."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        chans = [num_features, 64, 32, 16, 8]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(chans[-1], 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net(feats)
