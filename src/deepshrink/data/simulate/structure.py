"""Structural modes and transfer paths: impacts ring the rig's resonances on their way out.

Each mode's impulse response h(t) = exp(-zeta 2 pi f t) sin(2 pi f sqrt(1 - zeta^2) t) is
applied exactly, as the 2-pole recursive filter with that sampled impulse response; its
power response shapes the white random excitation of the modes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import scipy.signal as sps

from deepshrink.data.simulate.config import Paths, Structure

IMPACT_SOURCES: tuple[str, ...] = ("outer_race", "inner_race", "gear", "sporadic")
"""Sources of impacts, in the order their trains are summed (the :class:`Paths` fields)."""


class Impacts(NamedTuple):
    """A train of impacts from one source: sample positions and peak amplitudes (g)."""

    source: str
    positions: np.ndarray
    amplitudes: np.ndarray


@dataclass(frozen=True)
class ModeParams:
    """One structural mode of one recording."""

    name: str
    freq_hz: float
    damping: float


@dataclass(frozen=True)
class StructureParams:
    """One recording's modes and source-to-mode weights (numbers, one per mode)."""

    modes: tuple[ModeParams, ...]
    paths: Paths


def draw_structure(spec: Structure, fs: float, rng: np.random.Generator) -> StructureParams:
    u = rng.uniform
    cap = spec.max_mode_frequency * fs
    modes = tuple(
        ModeParams(name=band.name, freq_hz=min(u(*band.freq_hz), cap), damping=u(*spec.damping))
        for band in spec.modes
    )

    def draw(weights: tuple[float | tuple[float, float], ...]) -> tuple[float, ...]:
        return tuple(u(*w) if isinstance(w, tuple) else w for w in weights)

    paths = Paths(**{f.name: draw(getattr(spec.paths, f.name)) for f in fields(Paths)})
    return StructureParams(modes=modes, paths=paths)


def resonance_filter(mode: ModeParams, fs: float) -> tuple[list[float], list[float]]:
    """(b, a) of the 2-pole filter whose impulse response is r^k sin(k w_d), k >= 0."""
    wn = 2 * np.pi * mode.freq_hz
    zeta = mode.damping
    r = math.exp(-zeta * wn / fs)
    wd = wn * math.sqrt(1 - zeta * zeta) / fs
    return [0.0, r * math.sin(wd)], [1.0, -2 * r * math.cos(wd), r * r]


def resonance_power(cos1: np.ndarray, cos2: np.ndarray, mode: ModeParams, fs: float) -> np.ndarray:
    """|H|^2 of :func:`resonance_filter` at the frequencies whose cos(w), cos(2 w) are given.

    H(z) = b1 z^-1 / (1 + a1 z^-1 + a2 z^-2), so |H|^2 = b1^2 / (1 + a1^2 + a2^2
    + 2 a1 (1 + a2) cos w + 2 a2 cos 2w).
    """
    (_, b1), (_, a1, a2) = resonance_filter(mode, fs)
    den = (1 + a1 * a1 + a2 * a2) + (2 * a1 * (1 + a2)) * cos1 + (2 * a2) * cos2
    return (b1 * b1) / den


def add_ringing(x: np.ndarray, impacts: Sequence[Impacts], structure: StructureParams, fs: float) -> None:
    """Add to ``x`` (in place) each mode's response to the impacts that reach it.

    The trains are weighted by their path to the mode, gathered into one sparse train per
    mode (impacts outside ``x`` are dropped) and filtered by that mode.
    """
    n = x.size
    for k, mode in enumerate(structure.modes):
        trains = [
            (t.positions, t.amplitudes * w)
            for source in IMPACT_SOURCES
            if (w := getattr(structure.paths, source)[k]) > 0
            for t in impacts
            if t.source == source
        ]
        if trains:
            idx = np.concatenate([t[0] for t in trains])
            amp = np.concatenate([t[1] for t in trains])
            keep = (idx >= 0) & (idx < n)
            e = np.bincount(idx[keep], weights=amp[keep], minlength=n)
            x += sps.lfilter(*resonance_filter(mode, fs), e).astype(np.float32)


def random_excitation_psd(
    structure: StructureParams, cos1: np.ndarray, cos2: np.ndarray, fs: float
) -> np.ndarray:
    """Power spectrum (unscaled) of white noise driving every mode through its ``random`` path."""
    psd = np.zeros(cos1.size)
    for k, mode in enumerate(structure.modes):
        psd += structure.paths.random[k] ** 2 * resonance_power(cos1, cos2, mode, fs)
    return psd
