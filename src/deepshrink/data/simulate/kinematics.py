"""Shaft angle and impact timing: every periodic component and impact follows one shaft angle.

The angle is integrated in float64 (in revolutions) and each periodic component is reduced to
its phase in cycles before a float32 cosine, so a long recording keeps its phase exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepshrink.data.simulate.config import Gearbox

_KNOT_RATE_HZ = 20.0  # Gaussian knots of the speed wander every 50 ms ...
_SMOOTHING_S = 0.25  # ... smoothed by a Gaussian of this sigma


@dataclass(frozen=True)
class RotationParams:
    """One recording's shaft rotation: speed wander level and starting angle (rad)."""

    speed_wander_std: float
    theta0: float


def draw_rotation(gearbox: Gearbox, rng: np.random.Generator) -> RotationParams:
    return RotationParams(
        speed_wander_std=rng.uniform(*gearbox.speed_wander_std), theta0=rng.uniform(0.0, 2 * np.pi)
    )


def speed_wander(n: int, fs: float, rng: np.random.Generator, std: float) -> np.ndarray:
    """Smooth zero-mean relative speed deviation w(t), standard deviation ``std``.

    Gaussian random knots, smoothed by a Gaussian, linearly interpolated to the samples.
    """
    knot_rate = _KNOT_RATE_HZ
    sig = _SMOOTHING_S * knot_rate
    half = int(4 * sig)
    k = np.arange(-half, half + 1)
    kern = np.exp(-0.5 * (k / sig) ** 2)
    n_knots = int(n / fs * knot_rate) + 2
    knots = rng.standard_normal(n_knots + 2 * half)
    smooth = np.convolve(knots, kern / kern.sum(), mode="valid")  # n_knots values
    # scale by the process's theoretical standard deviation (not the sample one, which would
    # make short recordings wander as much as long ones)
    smooth *= std / math.sqrt(float(np.sum((kern / kern.sum()) ** 2)))
    t_knots = np.arange(n_knots) / knot_rate
    t = np.arange(n) / fs
    return np.interp(t, t_knots, smooth)


def shaft_revolutions(
    speed_hz: float, rotation: RotationParams, n: int, fs: float, rng: np.random.Generator
) -> np.ndarray:
    """Input-shaft angle / 2 pi at each sample (float64, monotone): the integrated speed."""
    wander = speed_wander(n, fs, rng, rotation.speed_wander_std)
    wander += 1.0
    wander *= speed_hz / fs
    rev = np.cumsum(wander)
    rev += rotation.theta0 / (2 * np.pi)
    return rev


def cos_cycles(cycles: np.ndarray) -> np.ndarray:
    """cos(2 pi c) for a float64 phase in cycles: reduced exactly in float64, cos in float32."""
    frac = cycles - np.floor(cycles)
    return np.cos((frac * (2 * np.pi)).astype(np.float32))


def cos_harmonic(frac: np.ndarray, k: float, phase: float) -> np.ndarray:
    """cos(2 pi (k frac) + phase) with ``frac`` float32 in [0, 1) and k a small integer.

    For integer k, k * frac is the harmonic's phase modulo whole cycles, exact to float32
    precision (k <= 100: error < 1e-5 cycle), so no float64 reduction is needed.
    """
    arg = frac * np.float32(2 * np.pi * k)
    arg += np.float32(phase)
    return np.cos(arg, out=arg)


def impact_targets(
    cycles: np.ndarray, offset: float, jitter: float, rng: np.random.Generator
) -> np.ndarray:
    """Integer cycle counts (+ offset + jitter) inside the range of ``cycles``."""
    k0 = math.ceil(cycles[0] - offset) + 1
    k1 = math.floor(cycles[-1] - offset) - 1
    if k1 < k0:
        return np.empty(0)
    k = np.arange(k0, k1 + 1, dtype=np.float64) + offset
    if jitter > 0:
        k = k + rng.normal(0.0, jitter, size=k.size)
    return k


def impact_positions(cycles: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Sample indices where the monotone ``cycles`` curve reaches each target value."""
    idx = np.interp(targets, cycles, np.arange(cycles.size, dtype=np.float64))
    return np.rint(idx).astype(np.int64)
