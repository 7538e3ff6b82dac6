"""GRU with attention pooling over the steps of a window.

The attention weights say *when* in the window the evidence was (the strip beside Grad-CAM's
*where*); the two heads give a drowsiness and a distraction score. Steps without a face carry
face_present = 0 in their features and get no attention (masked)."""

from __future__ import annotations

import torch
from torch import nn

from drowsy.temporal.features import FEATURES

PRESENT = FEATURES.index("face_present")


class TemporalNet(nn.Module):
    def __init__(self, features: int = len(FEATURES), hidden: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(features, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.att = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.heads = nn.Linear(hidden, 2)  # drowsiness, distraction
        self.recon = nn.Linear(hidden, features)  # masked-step pretraining head

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(torch.relu(self.inp(x)))
        return h  # (N, T, H)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores (N, 2) in 0..1, attention (N, T))."""
        h = self.encode(x)
        logits = self.att(h).squeeze(-1)
        present = x[..., PRESENT] > 0.5
        # steps without a face get (almost) no attention; a window with no face at all
        # falls back to uniform attention
        logits = logits.masked_fill(~present, -1e4)
        att = torch.softmax(logits, dim=1)
        ctx = torch.einsum("nt,nth->nh", att, h)
        return torch.sigmoid(self.heads(ctx)), att
