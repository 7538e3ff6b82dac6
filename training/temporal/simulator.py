"""Driver-behaviour simulator: labelled per-step feature sequences for the temporal model.

Behaviour parameters come from published measurements:
- Blink rate: about 17/min at rest, fewer when the eyes are busy (Bentivoglio et al., Movement
  Disorders 12(6), 1997: 17 at rest, 4.5 reading, 26 talking); we draw 8-20/min for alert
  drivers, 15-28/min for drowsy ones (blink frequency rises with sleepiness: Schleicher et al.,
  Ergonomics 51(7), 2008).
- Blink duration: ~0.1-0.2 s alert, lengthening to 0.3-0.5 s and beyond with drowsiness
  (Caffier, Erdmann & Ullsperger, Eur J Appl Physiol 89, 2003; Schleicher et al. 2008):
  log-normal with medians 0.15 s (alert) and 0.28-0.45 s (drowsy).
- Long closures and microsleeps of 0.5-3 s appear with drowsiness; PERCLOS above ~0.15 marks
  it (Wierwille et al. 1994, NHTSA DOT HS 808 247; Dinges & Grace 1998, PERCLOS TechBrief).
- Yawns last ~6 s on average (Provine, Ethology 72, 1986); drowsy drivers yawn every 1-4 min,
  alert ones rarely.
- Head nods: the head drops 10-30 degrees in under a second as neck tone fails.
- Glances: routine mirror/instrument glances last ~0.5-1.6 s (Wierwille, 1993, Ergonomics
  in Design); distraction means glances over 2 s, which double crash risk (Klauer et al.
  2006, NHTSA DOT HS 810 594), repeated within seconds.
- Face loss: short tracking gaps (hands, sun glare).

Measurement noise is not invented: ``NoiseModel`` samples the per-frame models' real outputs
(eye-closed probability, relative EAR, yawn probability) measured on real open/closed eye crops
and yawn/no-yawn mouth crops (see training.temporal.noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drowsy.temporal.features import FEATURES, STEP_S

F = {name: i for i, name in enumerate(FEATURES)}


@dataclass
class NoiseModel:
    """Empirical samples of what the per-frame models output for each true state."""

    p_closed_open: np.ndarray = field(
        default_factory=lambda: np.clip(np.random.default_rng(0).beta(0.6, 12, 500), 0, 1)
    )
    p_closed_closed: np.ndarray = field(
        default_factory=lambda: np.clip(np.random.default_rng(1).beta(8, 1.5, 500), 0, 1)
    )
    ear_rel_open: np.ndarray = field(
        default_factory=lambda: np.random.default_rng(2).normal(1.0, 0.08, 500)
    )
    ear_rel_closed: np.ndarray = field(
        default_factory=lambda: np.random.default_rng(3).normal(0.45, 0.1, 500)
    )
    p_yawn_no: np.ndarray = field(
        default_factory=lambda: np.clip(np.random.default_rng(4).beta(0.5, 15, 500), 0, 1)
    )
    p_yawn_yes: np.ndarray = field(
        default_factory=lambda: np.clip(np.random.default_rng(5).beta(10, 1.5, 500), 0, 1)
    )
    source: str = "synthetic beta/normal stand-ins (tests only)"

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Regime:
    blink_rate_per_min: tuple[float, float]
    blink_median_s: tuple[float, float]
    blink_sigma: float
    long_closure_per_min: tuple[float, float]  # 0.5-3 s closures
    yawn_per_min: tuple[float, float]
    nod_per_min: tuple[float, float]
    glance_per_min: tuple[float, float]
    glance_s: tuple[float, float]


ALERT = Regime(
    (8, 20), (0.12, 0.18), 0.35, (0.0, 0.15), (0.0, 0.08), (0.0, 0.0), (4, 10), (0.5, 1.6)
)
DROWSY = Regime((15, 28), (0.28, 0.45), 0.5, (1.0, 4.0), (0.3, 1.0), (0.3, 1.5), (2, 6), (0.5, 1.6))
DISTRACTED = Regime(
    (8, 20), (0.12, 0.18), 0.35, (0.0, 0.15), (0.0, 0.08), (0.0, 0.0), (6, 12), (2.0, 5.0)
)


def _events(rng: np.random.Generator, rate_per_min: float, seconds: float) -> np.ndarray:
    n = rng.poisson(rate_per_min * seconds / 60.0)
    return np.sort(rng.uniform(0, seconds, n))


def simulate(
    seconds: float,
    regime: Regime,
    rng: np.random.Generator,
    noise: NoiseModel,
    face_loss_per_min: float = 0.5,
    onset_s: float = 0.0,
    before: Regime = ALERT,
) -> np.ndarray:
    """(steps, F) features. With ``onset_s`` > 0 the driver follows ``before`` until then."""
    n = round(seconds / STEP_S)
    closed = np.zeros(n, bool)
    yawn = np.zeros(n, bool)
    yaw = rng.normal(0, 1.5, n).cumsum() * 0.02  # small head drift (degrees)
    pitch = rng.normal(0, 1.5, n).cumsum() * 0.02
    off = np.zeros(n, bool)
    gaps = np.zeros(n, bool)

    def mark(arr: np.ndarray, start: float, dur: float) -> slice:
        a, b = int(start / STEP_S), int(np.ceil((start + dur) / STEP_S))
        sl = slice(max(0, a), min(n, b))
        arr[sl] = True
        return sl

    for seg_start, seg_end, reg in ((0.0, onset_s, before), (onset_s, seconds, regime)):
        span = seg_end - seg_start
        if span <= 0:
            continue
        rate = rng.uniform(*reg.blink_rate_per_min)
        median = rng.uniform(*reg.blink_median_s)
        for s in seg_start + _events(rng, rate, span):
            mark(closed, s, float(np.exp(rng.normal(np.log(median), reg.blink_sigma))))
        for s in seg_start + _events(rng, rng.uniform(*reg.long_closure_per_min), span):
            mark(closed, s, rng.uniform(0.5, 3.0))
        for s in seg_start + _events(rng, rng.uniform(*reg.yawn_per_min), span):
            mark(yawn, s, float(np.clip(rng.normal(6.0, 1.5), 3.0, 10.0)))
        for s in seg_start + _events(rng, rng.uniform(*reg.nod_per_min), span):
            sl = mark(np.zeros(n, bool), s, rng.uniform(0.5, 1.5))
            pitch[sl] -= rng.uniform(10, 30)
            closed[sl] = True
        for s in seg_start + _events(rng, rng.uniform(*reg.glance_per_min), span):
            sl = mark(off, s, rng.uniform(*reg.glance_s))
            yaw[sl] += rng.choice([-1, 1]) * rng.uniform(30, 60)
    for s in _events(rng, face_loss_per_min, seconds):
        mark(gaps, s, rng.uniform(0.3, 2.0))
    present = ~gaps
    x = np.zeros((n, len(FEATURES)), np.float32)

    def draw(samples: np.ndarray, k: int) -> np.ndarray:
        return rng.choice(samples, k)

    x[:, F["eye_closed"]] = np.where(
        closed, draw(noise.p_closed_closed, n), draw(noise.p_closed_open, n)
    )
    x[:, F["ear_rel"]] = np.where(
        closed, draw(noise.ear_rel_closed, n), draw(noise.ear_rel_open, n)
    )
    x[:, F["yawn"]] = np.where(yawn, draw(noise.p_yawn_yes, n), draw(noise.p_yawn_no, n))
    x[:, F["mar"]] = np.where(yawn, rng.normal(0.7, 0.12, n), np.abs(rng.normal(0.08, 0.05, n)))
    x[:, F["yaw_rel"]] = (yaw + rng.normal(0, 2.0, n)) / 45.0
    x[:, F["pitch_rel"]] = (pitch + rng.normal(0, 2.0, n)) / 45.0
    x[:, F["roll"]] = rng.normal(0, 2.0, n) / 45.0
    x[:, F["off_road"]] = off.astype(np.float32)
    x[:, F["face_present"]] = present
    x[:, F["usable"]] = present
    x[~present] = 0.0
    return x


@dataclass(frozen=True)
class Sample:
    x: np.ndarray  # (steps, F)
    drowsy: int
    distracted: int


def dataset(n: int, seconds: float, rng: np.random.Generator, noise: NoiseModel) -> list[Sample]:
    """Balanced windows: alert, drowsy, distracted, and mildly drowsy (harder) drivers."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(Sample(simulate(seconds, ALERT, rng, noise), 0, 0))
        elif kind == 1:
            out.append(Sample(simulate(seconds, DROWSY, rng, noise), 1, 0))
        elif kind == 2:
            out.append(Sample(simulate(seconds, DISTRACTED, rng, noise), 0, 1))
        else:  # mild drowsiness: longer blinks, few long closures; the rules' blind spot
            mild = Regime(
                (14, 24), (0.25, 0.35), 0.45, (0.3, 1.0), (0.1, 0.5), (0.0, 0.5), (3, 8), (0.5, 1.6)
            )
            out.append(Sample(simulate(seconds, mild, rng, noise), 1, 0))
    return out
