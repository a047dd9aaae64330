"""Non-fault vibration, in every class: sporadic impacts and coloured background noise.

Healthy machines vibrate too, so a fault must be told by its signature, not by whether there
is signal. (The white random excitation of the modes is drawn here and shaped in
:mod:`~deepshrink.data.simulate.structure`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepshrink.data.simulate.config import REFERENCE_SPEED_HZ, Background
from deepshrink.data.simulate.structure import Impacts


@dataclass(frozen=True)
class BackgroundParams:
    """One recording's non-fault vibration (amplitudes in g, scaled to speed and load);
    ``bumps`` as (centre Hz, half-width Hz, relative height)."""

    sporadic_rate: float
    sporadic_mean_amp: float
    random_excitation_rms: float
    rms: float
    corner_hz: float
    slope: float
    bumps: tuple[tuple[float, float, float], ...]


def draw_background(
    spec: Background, speed_hz: float, load: float, fs: float, rng: np.random.Generator
) -> BackgroundParams:
    u = rng.uniform
    v = speed_hz / REFERENCE_SPEED_HZ
    vb = 0.5 + 0.5 * v  # machine noise grows with speed
    centre_lo, centre_hi = spec.bump_centre_hz
    return BackgroundParams(
        sporadic_rate=u(*spec.sporadic_rate_hz),
        sporadic_mean_amp=u(*spec.sporadic_amp) * (0.5 + 0.5 * load) * v**1.5,
        random_excitation_rms=u(*spec.random_excitation_rms) * vb,
        rms=u(*spec.rms) * vb,
        corner_hz=u(*spec.corner_hz),
        slope=u(*spec.slope),
        bumps=tuple(
            (u(centre_lo, min(centre_hi, 0.45 * fs)), u(*spec.bump_half_width_hz), u(*spec.bump_height))
            for _ in range(spec.bumps)
        ),
    )


def sporadic_impacts(bg: BackgroundParams, n: int, fs: float, rng: np.random.Generator) -> Impacts:
    """Impacts at Poisson times with exponential amplitudes."""
    count = rng.poisson(bg.sporadic_rate * n / fs)
    return Impacts("sporadic", rng.integers(0, n, count), rng.exponential(bg.sporadic_mean_amp, count))


def background_spectrum(bg: BackgroundParams, freqs: np.ndarray, wgt: np.ndarray, n: int) -> np.ndarray:
    """Amplitude spectrum of the coloured background on the rfft grid, scaled to its RMS.

    Args:
        freqs: rfft frequencies.
        wgt: each bin's weight in the one-sided power sum (1 at DC and Nyquist, else 2).
        n: signal length.
    """
    shape = (bg.corner_hz / (freqs + bg.corner_hz)) ** (bg.slope / 2)
    for fc, width, height in bg.bumps:
        shape = shape + height * shape[np.searchsorted(freqs, fc)] / (1 + ((freqs - fc) / width) ** 2)
    shape[0] = 0.0  # no DC
    shape *= bg.rms / math.sqrt(float(np.sum(wgt * shape**2)) / n)
    return shape
