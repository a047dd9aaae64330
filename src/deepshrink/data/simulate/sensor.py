"""The accelerometer: a short random transfer path, a sensitivity gain, a white floor, mains hum.

The path is the FIR [1, r_1 .. r_K], r_k = gamma N(0, 1) exp(-k / kappa), normalised to unit
energy, so a recording's sensor changes its colour, not its level; the gain changes the level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from deepshrink.data.simulate.config import Sensor
from deepshrink.data.simulate.kinematics import cos_harmonic


@dataclass(frozen=True)
class SensorParams:
    """One recording's sensor (``path_taps``: the N(0, 1) draws before gamma and the decay)."""

    path_gamma: float
    path_kappa: float
    path_taps: tuple[float, ...]
    gain: float
    mains_hz: float
    mains_amps: tuple[float, ...]
    mains_phases: tuple[float, ...]
    noise_rms: float


def draw_sensor(spec: Sensor, rng: np.random.Generator) -> SensorParams:
    u = rng.uniform
    gamma, kappa = u(*spec.path_gamma), u(*spec.path_kappa)
    taps = tuple(rng.standard_normal(spec.path_taps).tolist())
    gain = float(np.exp(rng.normal(0.0, spec.gain_log_std)))
    mains_hz = spec.mains_hz[0] if u() < 0.5 else spec.mains_hz[1]
    m1 = u(*spec.mains_amp)
    amps = (m1, *(u(*r) * m1 for r in spec.mains_harmonics))
    return SensorParams(
        path_gamma=gamma, path_kappa=kappa, path_taps=taps, gain=gain, mains_hz=mains_hz,
        mains_amps=amps, mains_phases=tuple(u(0, 2 * np.pi, len(amps)).tolist()),
        noise_rms=spec.noise_rms,
    )


def path_response(sensor: SensorParams, n: int) -> np.ndarray:
    """rfft (length ``n``) of the unit-energy transfer path."""
    k = np.arange(1, len(sensor.path_taps) + 1)
    taps = np.concatenate(
        [[1.0], sensor.path_gamma * np.asarray(sensor.path_taps) * np.exp(-k / sensor.path_kappa)]
    )
    taps /= np.linalg.norm(taps)
    return sfft.rfft(taps.astype(np.float32), n)


def add_mains_hum(y: np.ndarray, sensor: SensorParams, start: int, fs: float) -> None:
    """Add (in place) the supply's harmonics to ``y``, whose first sample is sample ``start``."""
    cyc = (start + np.arange(y.size, dtype=np.float64)) * (sensor.mains_hz / fs)
    frac = (cyc - np.floor(cyc)).astype(np.float32)
    for h, (a, ph) in enumerate(zip(sensor.mains_amps, sensor.mains_phases), start=1):
        y += np.float32(a) * cos_harmonic(frac, h, ph)
