"""Physics-based drivetrain vibration simulator: the embedded default dataset of deepshrink.

The paper (Zhao et al., 2020) trained on a private drivetrain rig: a motor, a gearbox train and
a magnetic brake, one accelerometer sampled at 12,800 Hz, 8 health states, 3 shaft speeds
(20/30/40 Hz) x 3 loads, 400 observations of 2,048 points per state and condition. This module
builds a stand-in from textbook vibration models (McFadden 1986 for gears; Randall & Antoni 2011
for rolling bearings) so that the whole study can run without the private data.

Quick use::

    from deepshrink.data.simulate import simulate_drivetrain
    ds = simulate_drivetrain(seed=0)           # 28,800 windows of 2,048 points, 8 classes

Everything is deterministic from ``seed``. Each (state, speed, load, recording index) is one long
recording (16 s by default) with its own random machine (severity, modes, transfer path,
background ...), drawn from a generator seeded by ``SeedSequence([seed, state_index,
round(1000 * speed), round(1000 * load), recording_index])`` (:func:`recording_rng`), so a
recording does not change when other states, conditions or recordings are added to or removed
from a request, nor with the number of worker threads. Recordings are cut into windows
(``stride = window`` by default: no overlap); all windows of a recording carry one
``recording_id`` (ids run over state, speed, load, index in that order), so splits by
recording are leak-free. The paper-sized set (59 M samples) takes 9-12 s to generate with
the default 2 threads on a 2-core machine (14-22 s on one thread).

What is simulated
=================

Units: acceleration in g; time in s; fs the sampling rate (12,800 Hz); U(a, b) a uniform draw,
made once per recording unless said otherwise; L the load (0 = no load, 1 = rated torque;
default levels 0, 0.5, 1); v = f_r / 30 Hz; s ~ U(0, 1) the recording's fault severity.

Machine (a fixed-axis stage; the paper's rig has a planetary input stage, whose carrier
modulation we do not model):

* input shaft at the nominal motor speed f_r (20/30/40 Hz by default);
* first gear stage: a pinion of ``PINION_TEETH = 32`` teeth on the input shaft (it carries the
  gear faults) meshing with ``GEAR_TEETH = 83`` teeth (hunting ratio); mesh frequency
  f_m = 32 f_r (640/960/1280 Hz). The accelerometer sits on the housing of this stage;
* second gear stage, always healthy: ``STAGE2_PINION_TEETH = 25`` teeth on the intermediate
  shaft (f_r 32/83), mesh at 25 * 32/83 f_r = 9.64 f_r;
* the input-shaft bearing (it carries the bearing faults): ``BEARING`` = ER-16K deep-groove
  ball bearing (SpectraQuest rigs): n = 9 balls, d = 7.9375 mm, D = 38.506 mm, contact angle
  phi = 0; inner race turning at f_r, outer race fixed. With r = d/D cos phi:
  FTF = f_r/2 (1 - r) = 0.397 f_r, BPFO = n/2 f_r (1 - r) = 3.572 f_r,
  BPFI = n/2 f_r (1 + r) = 5.428 f_r, BSF = D/(2d) f_r (1 - r^2) = 2.323 f_r (a ball defect
  strikes at 2 BSF = 4.645 f_r).

Per recording:

1. Speed and angle. f(t) = f_r (1 + w(t)), w a smooth random wander (Gaussian knots every
   50 ms, Gaussian smoothing with sigma 0.25 s, standard deviation U(0.1 %, 0.3 %): peaks
   about +-0.5 %). Shaft angle theta(t) = theta_0 + 2 pi sum f / fs, theta_0 ~ U(0, 2 pi).
   Every periodic component and every impact time follows theta.
2. Shaft: sum_{h=1..3} S_h cos(h theta + phi_h); S_1 = U(0.03, 0.12) v^2,
   S_2 = U(0.01, 0.06) v^2, S_3 = U(0.005, 0.03) v^2 (unbalance, misalignment).
3. Gear mesh (McFadden): env(theta) sum_{m=1..3} X_m cos(32 m theta + phi_m + m b(theta)),
   X_1 = U(0.3, 0.45) (0.3 + 0.7 L) v, X_2 = U(0.3, 0.7) X_1, X_3 = U(0.1, 0.4) X_1 (harmonics
   at or above 0.45 fs are left out); env = (1 + a(theta)) (1 + e_1 cos(theta + .))
   (1 + e_2 cos(32/83 theta + .)), e_1, e_2 ~ U(0.02, 0.1): every machine, healthy included,
   has run-out sidebands. Stage-2 mesh: harmonics 1 and 2, amplitudes U(0.1, 0.3) X_1 and
   half that.
4. Local gear faults on one pinion tooth at theta_f ~ U(0, 2 pi). With psi = theta - theta_f
   wrapped to [-pi, pi), tooth angle Delta = 2 pi / 32, g(x) = exp(-x^2 / 2) and box(x) a
   raised-cosine box (1 for |x| <= 0.35, 0 beyond 0.65), and the levels of
   ``FAULT_RANGES`` at severity s (lo + (hi - lo) s; dip c, phase beta, impact I):

   ==============  ==========================================================  =============
   state           once-per-revolution modulation a(theta), b(theta)           impact I
   ==============  ==========================================================  =============
   root crack      a = -c g(psi / 0.4 Delta), b = -beta g(.);                   0.5 .. 0.9
                   c 0.2 .. 0.45, beta 0.1 .. 0.35 rad
   pitting         3..6 consecutive teeth j, weights w_j ~ U(0.3, 1), random     0.4 .. 0.8
                   signs s_j: a = -c sum w_j g((psi - j Delta) / 0.35 Delta),    at each
                   b = beta sum s_j w_j g(.); c 0.05 .. 0.2, beta 0.04 .. 0.15   pitted tooth
   broken tooth    a = -c box(psi / k Delta), k ~ U(0.5, 1), b = -beta box(.);   1.1 .. 1.7
                   c 0.3 .. 0.8, beta 0.1 .. 0.4 rad
   missing tooth   a = -box(psi / Delta) + 0.25 box((psi +- Delta) / Delta)      2.0 .. 3.0
                   (the mesh vanishes for one tooth, the neighbours carry more),
                   b = -beta box(.), beta 0.3 .. 0.7 rad
   ==============  ==========================================================  =============

   The impacts happen when the faulty (pitting: each pitted) tooth enters the mesh, with
   amplitude I w_j A_g U(0.8, 1.2), A_g = ``GEAR_IMPACT_LEVEL`` (3.5) (0.3 + 0.7 L) v^1.5.
5. Bearing faults (Randall & Antoni): impact k happens when the defect phase
   order (1 - slip) theta / 2 pi reaches k + phi_0 + eps_k; order = BPFO, BPFI (with the
   slipped cage: n (1 - FTF (1 - slip))) or 2 BSF; cage slip ~ U(0, 1 %), phi_0 ~ U(0, 1),
   eps_k ~ N(0, sigma_j) independent per impact, sigma_j ~ U(1 %, 2 %) of the period (random
   slip of the rolling elements: cyclostationary, not periodic). Amplitude
   A_k = I A_b m_k U(0.85, 1.15), I = 0.5 .. 1.0 (``FAULT_RANGES["bearing"]``),
   A_b = ``BEARING_IMPACT_LEVEL`` (4.0) (0.5 + 0.5 L) v^1.5; m_k = 1 for the outer race
   (fixed in the load zone); inner race m_k = 1 - mu + mu (1 + cos(theta_k + .)) / 2 (the
   defect passes the load zone once per revolution: sidebands at BPFI +- f_r); ball: the same
   with the cage angle FTF theta_k, mu ~ U(0.5, 1). A ball strikes the outer and the inner
   race in turn: odd impacts take the inner-race path, weakened by U(0.5, 0.8).
6. Structural modes and transfer paths: three modes per recording, natural frequencies from
   ``RESONANCE_BANDS_HZ`` (housing_1 U(2.6, 3.4) kHz, housing_2 U(3.9, 5.0) kHz, gear_body
   U(1.2, 2.0) kHz; capped at 0.4 fs), damping zeta ~ U(0.04, 0.08) each, impulse response
   h(t) = exp(-zeta 2 pi f t) sin(2 pi f sqrt(1 - zeta^2) t) (unit peak; applied exactly as
   the 2-pole recursive filter with that sampled impulse response). Each source excites the
   modes with weights (housing_1, housing_2, gear_body):
   outer race (U(0.3, 0.6), 1, 0) - it sits in the housing; inner race (1, U(0.05, 0.2),
   U(0.2, 0.4)) - through the rolling elements and the shaft, more interfaces, high
   frequencies lost; tooth impacts (U(0.1, 0.3), 0, 1); sporadic impacts and random
   excitation (1, U(0.3, 1), U(0.3, 1)).
7. Non-fault vibration, in every class: sporadic impacts at Poisson times (rate U(5, 30) /s,
   exponential amplitudes with mean U(0.1, 0.3) (0.5 + 0.5 L) v^1.5); white random excitation
   of the modes (RMS U(0.02, 0.06) (0.5 + 0.5 v)); coloured background noise of RMS
   U(0.08, 0.2) (0.5 + 0.5 v) with amplitude spectrum (f_0 / (f + f_0))^(alpha / 2),
   f_0 ~ U(20, 200) Hz, alpha ~ U(0.5, 1.5), plus two Lorentzian bumps (centre U(200, 5000) Hz,
   half-width U(100, 800) Hz, height U(0.2, 1) times the spectrum there). No DC.
8. Sensor: all mechanical vibration passes a short random transfer path, the FIR
   [1, r_1 .. r_31] with r_k = gamma N(0, 1) exp(-k / kappa), gamma ~ U(0.1, 0.4),
   kappa ~ U(2, 8) samples, normalised to unit energy; then a sensitivity gain
   exp(N(0, 0.15)); plus a white sensor floor of RMS 0.002 g and electrical pick-up of the
   supply (50 or 60 Hz, 1st/2nd/3rd harmonics with amplitudes U(0.003, 0.02) g and U(0, 0.5),
   U(0, 0.3) times that).

Implementation: the angle is integrated in float64 and each periodic component is reduced to
its phase in cycles before a float32 cosine; impacts are placed at the nearest sample of their
time (found by interpolating the monotone defect phase), gathered into one sparse train per
mode and filtered by that mode's 2-pole recursive filter; the Gaussian parts (whose power
spectra add) are drawn as one complex spectrum, and the transfer path and gain are applied in
the frequency domain; 4,096 leading samples are generated and dropped, which absorbs the
filters' start-up and the circular wrap-around of the FFT filtering.

Difficulty
==========

Every class vibrates at the shaft, mesh and mode frequencies at comparable levels (class
median RMS within a factor 3); faults differ in impulsiveness, impact rate and modulation,
and in which modes their impacts ring; the severity is drawn per recording, so some faults
are subtle; the overall level depends on load, speed and sensor gain. RMS alone is near
chance, a linear model on the spectrum is well below the CNN under noise. Measured with
``benchmarks/calibrate_simulator.py`` (reduced set split by recording; see its docstring):

    =========  =======================  ======  ======
    SNR        paper ResNet, 50 epochs  RMS-LR  FFT-LR
    =========  =======================  ======  ======
    no noise   -                        0.22    0.67
    0 dB       0.80  (paper: ~0.89)     0.23    0.60
    -5 dB      0.58  (paper: ~0.70)     0.23    0.50
    =========  =======================  ======  ======

(5,760 windows, 4 training and 1 test recording per state and condition, Gaussian noise at
the given per-observation SNR; chance is 0.125.) The levels that set this difficulty are
``BEARING_IMPACT_LEVEL``, ``GEAR_IMPACT_LEVEL`` and ``FAULT_RANGES`` (raise them for an easier
set) and the background levels in step 7.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft as sfft
import scipy.signal as sps

from deepshrink.errors import ConfigError

__all__ = [
    "BEARING",
    "BEARING_IMPACT_LEVEL",
    "FAULT_RANGES",
    "GEAR_IMPACT_LEVEL",
    "GEAR_TEETH",
    "HEALTH_STATES",
    "PINION_TEETH",
    "RESONANCE_BANDS_HZ",
    "STAGE2_PINION_TEETH",
    "BearingGeometry",
    "recording_rng",
    "simulate_drivetrain",
    "simulate_recording",
]

HEALTH_STATES: tuple[str, ...] = (
    "healthy",
    "bearing_inner_race",
    "bearing_outer_race",
    "bearing_ball",
    "gear_root_crack",
    "gear_pitting",
    "gear_broken_tooth",
    "gear_missing_tooth",
)
"""The 8 health states, in the paper's order (the label index is the position here)."""

PINION_TEETH = 32
"""Teeth of the pinion on the input shaft (the gear that carries the local faults)."""
GEAR_TEETH = 83
"""Teeth of the gear meshing with the pinion (intermediate shaft at f_r * 32 / 83)."""
STAGE2_PINION_TEETH = 25
"""Teeth of the second-stage pinion on the intermediate shaft (healthy mesh)."""

_LEAD_IN = 4096  # samples generated and dropped before each recording

# Levels (calibrated with benchmarks/calibrate_simulator.py; see the module docstring).
BEARING_IMPACT_LEVEL = 4.0
"""Peak acceleration (g) of a bearing-fault impact at severity 1, rated load, 30 Hz."""
GEAR_IMPACT_LEVEL = 3.5
"""Peak acceleration (g) of a tooth impact of strength 1 at rated load, 30 Hz."""

RESONANCE_BANDS_HZ: dict[str, tuple[float, float]] = {
    "housing_1": (2600.0, 3400.0),
    "housing_2": (3900.0, 5000.0),
    "gear_body": (1200.0, 2000.0),
}
"""Ranges of the structural modes' natural frequencies (drawn per recording)."""

FAULT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "bearing": {"impact": (0.5, 1.0)},
    "gear_root_crack": {"dip": (0.2, 0.45), "phase": (0.1, 0.35), "impact": (0.5, 0.9)},
    "gear_pitting": {"dip": (0.05, 0.2), "phase": (0.04, 0.15), "impact": (0.4, 0.8)},
    "gear_broken_tooth": {"dip": (0.3, 0.8), "phase": (0.1, 0.4), "impact": (1.1, 1.7)},
    "gear_missing_tooth": {"dip": (1.0, 1.0), "phase": (0.3, 0.7), "impact": (2.0, 3.0)},
}
"""Fault parameter at severity s: lo + (hi - lo) * s. ``dip``: mesh amplitude loss at the
tooth (fraction); ``phase``: mesh phase shift (rad of the mesh fundamental); ``impact``:
strength of the once-per-revolution impact (x GEAR_IMPACT_LEVEL) or of the bearing impacts
(x BEARING_IMPACT_LEVEL)."""


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry (inner race turning, outer race fixed).

    Attributes:
        n_elements: number of rolling elements n.
        element_diameter_mm: rolling-element diameter d.
        pitch_diameter_mm: pitch diameter D.
        contact_angle_deg: contact angle phi.
    """

    n_elements: int
    element_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float = 0.0

    def orders(self) -> dict[str, float]:
        """Characteristic frequencies as multiples of the shaft speed f_r.

        Returns:
            ``{"ftf", "bpfo", "bpfi", "bsf"}``: cage, outer-race pass, inner-race pass and
            element-spin orders (a ball defect impacts at ``2 * bsf``).
        """
        r = self.element_diameter_mm / self.pitch_diameter_mm * math.cos(
            math.radians(self.contact_angle_deg)
        )
        n = self.n_elements
        return {
            "ftf": 0.5 * (1.0 - r),
            "bpfo": 0.5 * n * (1.0 - r),
            "bpfi": 0.5 * n * (1.0 + r),
            "bsf": self.pitch_diameter_mm / (2.0 * self.element_diameter_mm) * (1.0 - r * r),
        }


BEARING = BearingGeometry(n_elements=9, element_diameter_mm=7.9375, pitch_diameter_mm=38.506)
"""ER-16K deep-groove ball bearing on the input shaft (SpectraQuest rigs)."""


def recording_rng(
    seed: int, state: str | int, speed_hz: float, load: float, index: int
) -> np.random.Generator:
    """The random generator of one recording of :func:`simulate_drivetrain`.

    Args:
        seed: the dataset seed.
        state: health state name or index into :data:`HEALTH_STATES`.
        speed_hz: nominal shaft speed.
        load: load level.
        index: recording index within its (state, speed, load) condition.

    Returns:
        ``np.random.default_rng(SeedSequence([seed, state_index, round(1000 * speed_hz),
        round(1000 * load), index]))``.
    """
    s = _state_index(state)
    entropy = [int(seed), s, int(round(1000 * speed_hz)), int(round(1000 * load)), int(index)]
    if min(entropy) < 0:
        raise ConfigError(f"seed, speed, load and index must be non-negative, got {entropy}")
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _state_index(state: str | int) -> int:
    if isinstance(state, (int, np.integer)) and not isinstance(state, bool):
        if 0 <= int(state) < len(HEALTH_STATES):
            return int(state)
        raise ConfigError(f"state index {state} out of range 0..{len(HEALTH_STATES) - 1}")
    if isinstance(state, str) and state in HEALTH_STATES:
        return HEALTH_STATES.index(state)
    raise ConfigError(f"unknown health state {state!r}; expected one of {HEALTH_STATES}")


# --------------------------------------------------------------------------------------------
# building blocks


def _speed_wander(n: int, fs: float, rng: np.random.Generator, std: float) -> np.ndarray:
    """Smooth zero-mean relative speed deviation w(t), standard deviation ``std``.

    Gaussian random knots every 50 ms, smoothed by a Gaussian of sigma 0.25 s, linearly
    interpolated to the samples.
    """
    knot_rate = 20.0
    sig = 0.25 * knot_rate
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


def _impact_positions(
    cycles: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Sample indices where the monotone ``cycles`` curve reaches each target value."""
    idx = np.interp(targets, cycles, np.arange(cycles.size, dtype=np.float64))
    return np.rint(idx).astype(np.int64)


def _targets(cycles: np.ndarray, offset: float, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Integer cycle counts (+ offset + jitter) inside the range of ``cycles``."""
    k0 = math.ceil(cycles[0] - offset) + 1
    k1 = math.floor(cycles[-1] - offset) - 1
    if k1 < k0:
        return np.empty(0)
    k = np.arange(k0, k1 + 1, dtype=np.float64) + offset
    if jitter > 0:
        k = k + rng.normal(0.0, jitter, size=k.size)
    return k


def _gauss(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x)


def _box(x: np.ndarray) -> np.ndarray:
    """Raised-cosine box: 1 for |x| <= 0.35, falling to 0 at |x| = 0.65 (unit width)."""
    ax = np.abs(x)
    out = np.zeros_like(ax)
    out[ax <= 0.35] = 1.0
    edge = (ax > 0.35) & (ax < 0.65)
    out[edge] = 0.5 * (1.0 + np.cos(np.pi * (ax[edge] - 0.35) / 0.3))
    return out


def _resonance_filter(res: dict[str, Any], fs: float) -> tuple[list[float], list[float]]:
    """(b, a) of the 2-pole filter whose impulse response is r^k sin(k w_d), k >= 0."""
    wn = 2 * np.pi * res["freq_hz"]
    zeta = res["damping"]
    r = math.exp(-zeta * wn / fs)
    wd = wn * math.sqrt(1 - zeta * zeta) / fs
    return [0.0, r * math.sin(wd)], [1.0, -2 * r * math.cos(wd), r * r]


def _resonance_power(cos1: np.ndarray, cos2: np.ndarray, res: dict[str, Any], fs: float) -> np.ndarray:
    """|H|^2 of :func:`_resonance_filter` at the frequencies whose cos(w), cos(2 w) are given.

    H(z) = b1 z^-1 / (1 + a1 z^-1 + a2 z^-2), so |H|^2 = b1^2 / (1 + a1^2 + a2^2
    + 2 a1 (1 + a2) cos w + 2 a2 cos 2w).
    """
    (_, b1), (_, a1, a2) = _resonance_filter(res, fs)
    den = (1 + a1 * a1 + a2 * a2) + (2 * a1 * (1 + a2)) * cos1 + (2 * a2) * cos2
    return (b1 * b1) / den


# --------------------------------------------------------------------------------------------
# parameters


def _level(lo_hi: tuple[float, float], s: float) -> float:
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * s


def _draw_params(
    state: int, speed_hz: float, load: float, fs: float, rng: np.random.Generator,
    severity: float | None,
) -> dict[str, Any]:
    u = rng.uniform
    v = speed_hz / 30.0
    s = float(u(0.0, 1.0)) if severity is None else float(severity)
    p: dict[str, Any] = {
        "state": HEALTH_STATES[state],
        "speed_hz": float(speed_hz),
        "load": float(load),
        "severity": s if state != 0 else 0.0,
        "speed_wander_std": u(0.001, 0.003),
        "theta0": u(0.0, 2 * np.pi),
        "shaft_amps": [u(0.03, 0.12) * v**2, u(0.01, 0.06) * v**2, u(0.005, 0.03) * v**2],
        "shaft_phases": u(0, 2 * np.pi, 3).tolist(),
    }
    x1 = u(0.3, 0.45) * (0.3 + 0.7 * load) * v
    p["mesh_amps"] = [x1, u(0.3, 0.7) * x1, u(0.1, 0.4) * x1]
    p["mesh_phases"] = u(0, 2 * np.pi, 3).tolist()
    p["runout"] = [u(0.02, 0.1), u(0.02, 0.1)]
    p["runout_phases"] = u(0, 2 * np.pi, 2).tolist()
    x2 = u(0.1, 0.3) * x1
    p["stage2_amps"] = [x2, 0.5 * x2]
    p["stage2_phases"] = u(0, 2 * np.pi, 2).tolist()

    # structural modes of the rig, shifted per recording (mounting, temperature, bolts)
    cap = 0.4 * fs
    p["resonances"] = [
        {"name": name, "freq_hz": min(u(*RESONANCE_BANDS_HZ[name]), cap), "damping": u(0.04, 0.08)}
        for name in ("housing_1", "housing_2", "gear_body")
    ]
    # how strongly each source excites each mode (transfer paths). The outer race sits in the
    # housing: its impacts reach the stiff, high housing mode directly; inner-race impacts
    # cross the rolling elements and the shaft (more interfaces, high frequencies lost); tooth
    # impacts ring the gear body first.
    p["paths"] = {
        "outer_race": {"housing_1": u(0.3, 0.6), "housing_2": 1.0, "gear_body": 0.0},
        "inner_race": {"housing_1": 1.0, "housing_2": u(0.05, 0.2), "gear_body": u(0.2, 0.4)},
        "gear": {"housing_1": u(0.1, 0.3), "housing_2": 0.0, "gear_body": 1.0},
        "sporadic": {"housing_1": 1.0, "housing_2": u(0.3, 1.0), "gear_body": u(0.3, 1.0)},
        "random": {"housing_1": 1.0, "housing_2": u(0.3, 1.0), "gear_body": u(0.3, 1.0)},
    }
    a_b_ref = BEARING_IMPACT_LEVEL * (0.5 + 0.5 * load) * v**1.5
    a_g = GEAR_IMPACT_LEVEL * (0.3 + 0.7 * load) * v**1.5
    vb = 0.5 + 0.5 * v  # machine noise grows with speed
    p["bearing_ref_amp"] = a_b_ref
    p["gear_ref_amp"] = a_g
    p["sporadic_rate"] = u(5.0, 30.0)
    p["sporadic_mean_amp"] = u(0.1, 0.3) * (0.5 + 0.5 * load) * v**1.5
    p["resonance_noise_rms"] = u(0.02, 0.06) * vb
    p["background"] = {
        "rms": u(0.08, 0.2) * vb,
        "f0": u(20.0, 200.0),
        "alpha": u(0.5, 1.5),
        "bumps": [(u(200.0, min(5000.0, 0.45 * fs)), u(100.0, 800.0), u(0.2, 1.0)) for _ in range(2)],
    }
    p["path"] = {"gamma": u(0.1, 0.4), "kappa": u(2.0, 8.0), "taps": rng.standard_normal(31).tolist()}
    p["gain"] = float(np.exp(rng.normal(0.0, 0.15)))
    mains = 50.0 if u() < 0.5 else 60.0
    m1 = u(0.003, 0.02)
    p["mains"] = {"freq_hz": mains, "amps": [m1, u(0, 0.5) * m1, u(0, 0.3) * m1],
                  "phases": u(0, 2 * np.pi, 3).tolist()}
    p["sensor_noise_rms"] = 0.002

    name = HEALTH_STATES[state]
    if name.startswith("bearing_"):
        orders = BEARING.orders()
        slip = u(0.0, 0.01)
        ftf = orders["ftf"] * (1 - slip)
        order = {
            "bearing_outer_race": BEARING.n_elements * ftf,
            "bearing_inner_race": BEARING.n_elements * (1 - ftf),
            "bearing_ball": 2 * orders["bsf"] * (1 - slip),
        }[name]
        p["bearing"] = {
            "order": order,
            "cage_order": ftf,
            "slip": slip,
            "jitter": u(0.01, 0.02),
            "amp": _level(FAULT_RANGES["bearing"]["impact"], s) * a_b_ref,
            "mod_depth": u(0.5, 1.0),
            "mod_phase": u(0, 2 * np.pi),
            "phase0": u(0.0, 1.0),
            "inner_contact_amp": u(0.5, 0.8),  # ball: the inner-race strike is transmitted weaker
        }
    elif name.startswith("gear_"):
        g: dict[str, Any] = {"theta_f": u(0, 2 * np.pi)}

        def lv(key: str) -> float:
            return _level(FAULT_RANGES[name][key], s)

        if name == "gear_root_crack":
            g.update(c=lv("dip"), beta=lv("phase"), impact=lv("impact") * a_g)
        elif name == "gear_pitting":
            n_t = int(rng.integers(3, 7))
            g.update(c=lv("dip"), beta=lv("phase"), n_teeth=n_t,
                     weights=u(0.3, 1.0, n_t).tolist(),
                     signs=rng.choice([-1.0, 1.0], n_t).tolist(),
                     impact=lv("impact") * a_g)
        elif name == "gear_broken_tooth":
            g.update(c=lv("dip"), width=u(0.5, 1.0), beta=lv("phase"), impact=lv("impact") * a_g)
        else:  # missing tooth
            g.update(c=lv("dip"), neighbour=0.25, beta=lv("phase"), impact=lv("impact") * a_g)
        p["gear"] = g
    return p


# --------------------------------------------------------------------------------------------
# synthesis


@functools.lru_cache(maxsize=4)
def _grid(n: int, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rfft frequencies, cos(w) and cos(2 w) at w = 2 pi f / fs (cached per length)."""
    freqs = sfft.rfftfreq(n, 1.0 / fs)
    w = 2 * np.pi * freqs / fs
    out = (freqs, np.cos(w), np.cos(2 * w))
    for a in out:
        a.setflags(write=False)
    return out


def _cos_cycles(cycles: np.ndarray) -> np.ndarray:
    """cos(2 pi c) for a float64 phase in cycles: reduced exactly in float64, cos in float32."""
    frac = cycles - np.floor(cycles)
    return np.cos((frac * (2 * np.pi)).astype(np.float32))


def _cos_harmonic(frac: np.ndarray, k: float, phase: float) -> np.ndarray:
    """cos(2 pi (k frac) + phase) with ``frac`` float32 in [0, 1) and k a small integer.

    For integer k, k * frac is the harmonic's phase modulo whole cycles, exact to float32
    precision (k <= 100: error < 1e-5 cycle), so no float64 reduction is needed.
    """
    arg = frac * np.float32(2 * np.pi * k)
    arg += np.float32(phase)
    return np.cos(arg, out=arg)


def _synthesize(
    p: dict[str, Any], n_out: int, fs: float, rng: np.random.Generator, keep_angle: bool = False
) -> np.ndarray:
    n = sfft.next_fast_len(n_out + _LEAD_IN, real=True)
    f_r = p["speed_hz"]
    wander = _speed_wander(n, fs, rng, p["speed_wander_std"])
    wander += 1.0
    wander *= f_r / fs
    rev = np.cumsum(wander)  # shaft revolutions (float64, monotone)
    rev += p["theta0"] / (2 * np.pi)
    if keep_angle:  # a perfect once-per-revolution tachometer, for order tracking
        p["shaft_revolutions"] = rev[n - n_out:].copy()
    tau = 2 * np.pi

    # ---- periodic components (time domain, float32 after exact phase reduction) --------
    rev_frac = (rev - np.floor(rev)).astype(np.float32)  # shaft angle / 2 pi, in [0, 1)
    x = np.zeros(n, dtype=np.float32)
    for h, (a, ph) in enumerate(zip(p["shaft_amps"], p["shaft_phases"]), start=1):
        x += np.float32(a) * _cos_harmonic(rev_frac, h, ph)

    z = PINION_TEETH
    ratio = PINION_TEETH / GEAR_TEETH
    env = 1 + np.float32(p["runout"][0]) * _cos_harmonic(rev_frac, 1, p["runout_phases"][0])
    env *= 1 + np.float32(p["runout"][1]) * _cos_cycles(ratio * rev + p["runout_phases"][1] / tau)
    b_mod = None  # phase modulation in radians of the mesh fundamental
    impacts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in p["paths"]}
    g = p.get("gear")
    if g is not None:
        tooth = tau / z
        fr = rev_frac - np.float32(g["theta_f"] / tau)
        fr -= np.floor(fr + np.float32(0.5))
        psi = fr * np.float32(tau)  # angle from the faulty tooth, in [-pi, pi)
        state = p["state"]
        if state == "gear_root_crack":
            w = _gauss(psi / np.float32(0.4 * tooth))
            a_mod, b_mod = -g["c"] * w, -g["beta"] * w
        elif state == "gear_pitting":
            a_mod = np.zeros(n, dtype=np.float32)
            b_mod = np.zeros(n, dtype=np.float32)
            for j, (wj, sj) in enumerate(zip(g["weights"], g["signs"])):
                w = _gauss((psi - np.float32(j * tooth)) / np.float32(0.35 * tooth))
                a_mod -= np.float32(g["c"] * wj) * w
                b_mod += np.float32(g["beta"] * wj * sj) * w
        elif state == "gear_broken_tooth":
            w = _box(psi / np.float32(g["width"] * tooth))
            a_mod, b_mod = -g["c"] * w, -g["beta"] * w
        else:
            w = _box(psi / np.float32(tooth))
            nb = _box((psi - np.float32(tooth)) / np.float32(tooth))
            nb += _box((psi + np.float32(tooth)) / np.float32(tooth))
            a_mod = np.float32(-g["c"]) * w + np.float32(g["neighbour"]) * nb
            b_mod = np.float32(-g["beta"]) * w
        env *= 1 + a_mod.astype(np.float32)
        # impacts once per revolution (pitting: at each pitted tooth)
        if g["impact"] > 0:
            pitting = state == "gear_pitting"
            offsets = [j / z for j in range(g["n_teeth"])] if pitting else [0.0]
            weights = g["weights"] if pitting else [1.0]
            for off, wj in zip(offsets, weights):
                tg = _targets(rev, g["theta_f"] / tau + off, 0.001, rng)
                impacts["gear"].append(
                    (_impact_positions(rev, tg), g["impact"] * wj * rng.uniform(0.8, 1.2, tg.size))
                )

    mesh = np.zeros(n, dtype=np.float32)
    for m, (a, ph) in enumerate(zip(p["mesh_amps"], p["mesh_phases"]), start=1):
        if m * z * f_r >= 0.45 * fs:
            break
        arg = rev_frac * np.float32(tau * m * z)
        arg += np.float32(ph)
        if b_mod is not None:
            arg += np.float32(m) * b_mod
        mesh += np.float32(a) * np.cos(arg, out=arg)
    mesh *= env
    x += mesh
    z2 = STAGE2_PINION_TEETH * ratio
    for m, (a, ph) in enumerate(zip(p["stage2_amps"], p["stage2_phases"]), start=1):
        if m * z2 * f_r < 0.45 * fs:
            x += np.float32(a) * _cos_cycles((m * z2) * rev + ph / tau)

    # ---- impacts (sparse trains per source, filtered by the structural modes below) --------
    b = p.get("bearing")
    if b is not None:
        cyc = rev * b["order"]
        tg = _targets(cyc, b["phase0"], b["jitter"], rng)
        idx = _impact_positions(cyc, tg)
        amp = b["amp"] * rng.uniform(0.85, 1.15, tg.size)
        if p["state"] != "bearing_outer_race":
            ang = tau * rev[idx]
            if p["state"] == "bearing_ball":
                ang = ang * b["cage_order"]
            mu = b["mod_depth"]
            amp = amp * (1 - mu + mu * 0.5 * (1 + np.cos(ang + b["mod_phase"])))
        if p["state"] == "bearing_outer_race":
            impacts["outer_race"].append((idx, amp))
        elif p["state"] == "bearing_inner_race":
            impacts["inner_race"].append((idx, amp))
        else:  # a ball defect strikes the outer and the inner race in turn
            impacts["outer_race"].append((idx[0::2], amp[0::2]))
            impacts["inner_race"].append((idx[1::2], amp[1::2] * b["inner_contact_amp"]))
    n_spor = rng.poisson(p["sporadic_rate"] * n / fs)
    impacts["sporadic"].append((rng.integers(0, n, n_spor), rng.exponential(p["sporadic_mean_amp"], n_spor)))

    # ---- random parts and assembly in the frequency domain -------------------------------
    freqs, cos1, cos2 = _grid(n, fs)
    wgt = np.full(freqs.size, 2.0)
    wgt[0] = 1.0
    if n % 2 == 0:
        wgt[-1] = 1.0
    random_psd = np.zeros(freqs.size)
    for res in p["resonances"]:
        trains = [
            (idx, amp * w)
            for source, items in impacts.items()
            if (w := p["paths"][source][res["name"]]) > 0
            for idx, amp in items
        ]
        if trains:
            idx = np.concatenate([t[0] for t in trains])
            amp = np.concatenate([t[1] for t in trains])
            keep = (idx >= 0) & (idx < n)
            e = np.bincount(idx[keep], weights=amp[keep], minlength=n)
            # the mode's exact sampled impulse response, as its 2-pole recursive filter
            x += sps.lfilter(*_resonance_filter(res, fs), e).astype(np.float32)
        random_psd += p["paths"]["random"][res["name"]] ** 2 * _resonance_power(cos1, cos2, res, fs)
    spec = sfft.rfft(x)
    res_scale2 = p["resonance_noise_rms"] ** 2 * n / float(np.sum(wgt * random_psd))

    bg = p["background"]
    shape = (bg["f0"] / (freqs + bg["f0"])) ** (bg["alpha"] / 2)
    for fc, width, height in bg["bumps"]:
        shape = shape + height * shape[np.searchsorted(freqs, fc)] / (1 + ((freqs - fc) / width) ** 2)
    shape[0] = 0.0
    shape *= bg["rms"] / math.sqrt(float(np.sum(wgt * shape**2)) / n)
    # background + white excitation of the modes + the sensor's white floor (referred to before
    # gain and the unit-energy path): independent Gaussian processes, so one complex Gaussian
    # spectrum with the summed power spectral density
    noise_amp = np.sqrt(shape**2 + res_scale2 * random_psd + (p["sensor_noise_rms"] / p["gain"]) ** 2)

    path = p["path"]
    k = np.arange(1, 32)
    taps = np.concatenate([[1.0], path["gamma"] * np.asarray(path["taps"]) * np.exp(-k / path["kappa"])])
    taps /= np.linalg.norm(taps)
    h_path = sfft.rfft(taps.astype(np.float32), n)

    white = rng.standard_normal(2 * freqs.size, dtype=np.float32).view(np.complex64)
    white *= np.float32(math.sqrt(n / 2))
    spec += white * noise_amp.astype(np.float32)
    spec *= h_path
    spec *= np.float32(p["gain"])
    spec[0] = 0.0
    y = sfft.irfft(spec, n)[n - n_out:]

    mains = p["mains"]
    m_cyc = (n - n_out + np.arange(n_out, dtype=np.float64)) * (mains["freq_hz"] / fs)
    m_frac = (m_cyc - np.floor(m_cyc)).astype(np.float32)
    for h, (a, ph) in enumerate(zip(mains["amps"], mains["phases"]), start=1):
        y += np.float32(a) * _cos_harmonic(m_frac, h, ph)
    return np.ascontiguousarray(y, dtype=np.float32)


def simulate_recording(
    state: str | int,
    speed_hz: float,
    load: float,
    duration_s: float | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    n_samples: int | None = None,
    sampling_rate: float = 12800.0,
    severity: float | None = None,
    return_params: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Simulate one continuous accelerometer recording of the drivetrain.

    Args:
        state: health state name (one of :data:`HEALTH_STATES`) or its index.
        speed_hz: nominal input-shaft speed f_r in Hz.
        load: load level (0 = no load, 1 = rated torque).
        duration_s: length in seconds (or give ``n_samples``).
        rng: a ``numpy.random.Generator`` or an int seed; all randomness is drawn from it.
        n_samples: length in samples (overrides ``duration_s``).
        sampling_rate: samples per second.
        severity: fault severity in [0, 1]; ``None`` draws it uniformly (as the datasets do).
        return_params: also return the dict of drawn parameters (resonances, defect order,
            gains, ...), with ``"shaft_revolutions"``: the input-shaft angle / 2 pi at every
            sample (float64; a perfect tachometer, for order tracking).

    Returns:
        float32 array of shape (n_samples,), and the parameter dict if ``return_params``.
    """
    si = _state_index(state)
    if sampling_rate <= 0:
        raise ConfigError(f"sampling_rate must be positive, got {sampling_rate}")
    if not speed_hz > 0 or speed_hz > 0.05 * sampling_rate:
        raise ConfigError(
            f"speed_hz must be in (0, {0.05 * sampling_rate:g}] for sampling_rate "
            f"{sampling_rate:g}, got {speed_hz}"
        )
    if not 0 <= load <= 2:
        raise ConfigError(f"load must be in [0, 2] (1 = rated torque), got {load}")
    if severity is not None and not 0 <= severity <= 1:
        raise ConfigError(f"severity must be in [0, 1] or None, got {severity}")
    if n_samples is None:
        if duration_s is None:
            raise ConfigError("give duration_s or n_samples")
        n_samples = int(round(duration_s * sampling_rate))
    if n_samples < 1:
        raise ConfigError(f"recording length must be at least 1 sample, got {n_samples}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    params = _draw_params(si, speed_hz, load, sampling_rate, rng, severity)
    y = _synthesize(params, int(n_samples), float(sampling_rate), rng, keep_angle=return_params)
    return (y, params) if return_params else y


def _simulate_arrays(
    *, recordings_per_condition: int, windows_per_recording: int, window: int, stride: int,
    speeds_hz: Sequence[float], loads: Sequence[float], states: Sequence[int],
    sampling_rate: float, seed: int, workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rec_len = window + (windows_per_recording - 1) * stride
    jobs = [
        (label, si, sp, lo, i)
        for label, si in enumerate(states)
        for sp in speeds_hz
        for lo in loads
        for i in range(recordings_per_condition)
    ]
    n_obs = len(jobs) * windows_per_recording
    x = np.empty((n_obs, 1, window), dtype=np.float32)
    y = np.empty(n_obs, dtype=np.int64)
    rid = np.empty(n_obs, dtype=np.int64)
    spd = np.empty(n_obs, dtype=np.float64)
    ld = np.empty(n_obs, dtype=np.float64)

    def one(r: int) -> None:
        label, si, sp, lo, i = jobs[r]
        rng = recording_rng(seed, si, sp, lo, i)
        rec = simulate_recording(si, sp, lo, rng=rng, n_samples=rec_len, sampling_rate=sampling_rate)
        sl = slice(r * windows_per_recording, (r + 1) * windows_per_recording)
        if stride == window:
            x[sl, 0] = rec.reshape(windows_per_recording, window)
        else:
            x[sl, 0] = np.lib.stride_tricks.sliding_window_view(rec, window)[::stride]
        y[sl] = label
        rid[sl] = r
        spd[sl] = sp
        ld[sl] = lo

    if workers > 1 and len(jobs) > 1:
        # numpy and scipy.fft release the GIL: threads give a near-linear speed-up, and each
        # recording has its own generator, so the result does not depend on scheduling
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(len(jobs))))
    else:
        for r in range(len(jobs)):
            one(r)
    return x, y, rid, spd, ld


def _workers(workers: int | None) -> int:
    if workers is None:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            n = os.cpu_count() or 1
        return max(1, min(8, n))
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers must be a positive integer or None, got {workers!r}")
    return int(workers)


def simulate_drivetrain(
    *,
    recordings_per_condition: int = 4,
    windows_per_recording: int = 100,
    window: int = 2048,
    stride: int | None = None,
    speeds_hz: Sequence[float] = (20.0, 30.0, 40.0),
    loads: Sequence[float] = (0.0, 0.5, 1.0),
    states: Sequence[str | int] | None = None,
    sampling_rate: float = 12800.0,
    seed: int = 0,
    workers: int | None = None,
):
    """Simulate the drivetrain dataset: windows cut from long recordings, labelled by health state.

    The defaults give the paper-sized set: 8 states x 3 speeds x 3 loads x 4 recordings x
    100 windows of 2,048 points = 28,800 observations (3,600 per state, 400 per state and
    condition), 16 s per recording at 12.8 kHz.

    Args:
        recordings_per_condition: independent recordings (machines) per (state, speed, load).
        windows_per_recording: windows cut from each recording.
        window: window length in samples.
        stride: samples between window starts inside a recording (default ``window``: no
            overlap); windows never cross recordings.
        speeds_hz: nominal input-shaft speeds.
        loads: load levels (0 = no load, 1 = rated torque).
        states: health states to include (names or indices), default all of
            :data:`HEALTH_STATES`; labels index this list in the order given.
        sampling_rate: samples per second.
        seed: non-negative seed; recording i of (state, speed, load) uses
            :func:`recording_rng` ``(seed, state, speed, load, i)``.
        workers: threads generating recordings in parallel (default: the CPUs available,
            at most 8); the result does not depend on it.

    Returns:
        ``deepshrink.data.dataset.SignalDataset`` with ``x`` of shape (N, 1, window) float32,
        ``y`` (N,), ``label_names`` the state names, ``recording_ids`` (N,) unique per
        recording (numbered over state, speed, load, index in that order, so
        ``recording_id % recordings_per_condition`` is the index within the condition),
        ``conditions = {"speed_hz": (N,), "load": (N,)}``, ``name="drivetrain_sim"``.

    Raises:
        ConfigError: a size is not a positive integer, the seed is negative, a state is
            unknown or repeated, speeds or loads are empty, repeated or out of range.
    """
    for name, val in (("recordings_per_condition", recordings_per_condition),
                      ("windows_per_recording", windows_per_recording), ("window", window)):
        if not isinstance(val, (int, np.integer)) or val < 1:
            raise ConfigError(f"{name} must be a positive integer, got {val!r}")
    stride = window if stride is None else stride
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ConfigError(f"stride must be a positive integer, got {stride!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    speeds = [float(s) for s in speeds_hz]
    load_list = [float(v) for v in loads]
    if not speeds or not load_list:
        raise ConfigError("speeds_hz and loads must not be empty")
    if len(set(speeds)) != len(speeds) or len(set(load_list)) != len(load_list):
        raise ConfigError(f"speeds_hz and loads must not repeat, got {speeds}, {load_list}")
    idx = list(range(len(HEALTH_STATES))) if states is None else [_state_index(s) for s in states]
    if not idx or len(set(idx)) != len(idx):
        raise ConfigError(f"states must be a non-empty list without repeats, got {states!r}")
    x, y, rid, spd, ld = _simulate_arrays(
        recordings_per_condition=int(recordings_per_condition),
        windows_per_recording=int(windows_per_recording), window=int(window), stride=int(stride),
        speeds_hz=speeds, loads=load_list, states=idx, sampling_rate=float(sampling_rate),
        seed=int(seed), workers=_workers(workers),
    )
    from deepshrink.data.dataset import SignalDataset  # lazy: avoids a cycle with data/__init__

    return SignalDataset(
        x, y,
        label_names=[HEALTH_STATES[i] for i in idx],
        sampling_rate=float(sampling_rate),
        recording_ids=rid,
        conditions={"speed_hz": spd, "load": ld},
        name="drivetrain_sim",
    )
