"""The gear train: shaft orders, two meshes and local tooth faults (McFadden 1986).

Every machine, healthy included, vibrates at the shaft orders and the meshes with run-out
sidebands; a local fault on one pinion tooth adds a once-per-revolution amplitude and phase
modulation of the first mesh and an impact when that tooth enters the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepshrink.data.simulate.config import REFERENCE_SPEED_HZ, Gearbox, GearFaults, level
from deepshrink.data.simulate.kinematics import cos_cycles, cos_harmonic, impact_positions, impact_targets
from deepshrink.data.simulate.structure import Impacts

_TAU = 2 * np.pi


@dataclass(frozen=True)
class GearTrainParams:
    """One recording's periodic vibration: amplitudes (g) and phases (rad) per harmonic."""

    shaft_amps: tuple[float, ...]
    shaft_phases: tuple[float, ...]
    mesh_amps: tuple[float, ...]
    mesh_phases: tuple[float, ...]
    runout: tuple[float, float]
    runout_phases: tuple[float, float]
    stage2_amps: tuple[float, ...]
    stage2_phases: tuple[float, ...]


@dataclass(frozen=True)
class GearFaultParams:
    """One recording's local gear fault: the faulty tooth at ``theta_f`` (rad), its levels
    (``impact`` the peak in g), and ``n_teeth`` faulty teeth from there on with their relative
    ``weights`` and phase ``signs`` (more than one only for pitting)."""

    state: str
    theta_f: float
    dip: float
    phase: float
    impact: float
    n_teeth: int = 1
    weights: tuple[float, ...] = (1.0,)
    signs: tuple[float, ...] = (1.0,)
    width: float = 1.0
    neighbour: float = 0.0


def draw_gear_train(
    gearbox: Gearbox, speed_hz: float, load: float, rng: np.random.Generator
) -> GearTrainParams:
    u = rng.uniform
    v = speed_hz / REFERENCE_SPEED_HZ
    shaft_amps = tuple(u(*r) * v**2 for r in gearbox.shaft_amps)
    shaft_phases = tuple(u(0, _TAU, len(shaft_amps)).tolist())
    x1 = u(*gearbox.mesh_amp) * (0.3 + 0.7 * load) * v
    mesh_amps = (x1, *(u(*r) * x1 for r in gearbox.mesh_harmonics))
    mesh_phases = tuple(u(0, _TAU, len(mesh_amps)).tolist())
    runout = (u(*gearbox.runout), u(*gearbox.runout))
    runout_phases = tuple(u(0, _TAU, 2).tolist())
    x2 = u(*gearbox.stage2_amp) * x1
    return GearTrainParams(
        shaft_amps=shaft_amps, shaft_phases=shaft_phases, mesh_amps=mesh_amps, mesh_phases=mesh_phases,
        runout=runout, runout_phases=runout_phases,
        stage2_amps=(x2, 0.5 * x2), stage2_phases=tuple(u(0, _TAU, 2).tolist()),
    )


def draw_gear_fault(
    faults: GearFaults, state: str, severity: float, speed_hz: float, load: float, rng: np.random.Generator
) -> GearFaultParams:
    u = rng.uniform
    v = speed_hz / REFERENCE_SPEED_HZ
    a_g = faults.impact_level * (0.3 + 0.7 * load) * v**1.5  # peak of an impact of strength 1
    levels = faults.levels(state)
    theta_f = u(0, _TAU)
    dip, phase = level(levels.dip, severity), level(levels.phase, severity)
    impact = level(levels.impact, severity) * a_g
    if state == "gear_pitting":
        lo, hi = faults.pitted_teeth
        n_t = int(rng.integers(lo, hi + 1))
        return GearFaultParams(
            state, theta_f, dip, phase, impact, n_teeth=n_t,
            weights=tuple(u(*faults.pit_weight, n_t).tolist()),
            signs=tuple(rng.choice([-1.0, 1.0], n_t).tolist()),
        )
    if state == "gear_broken_tooth":
        return GearFaultParams(state, theta_f, dip, phase, impact, width=u(*faults.broken_width))
    if state == "gear_missing_tooth":
        return GearFaultParams(state, theta_f, dip, phase, impact, neighbour=faults.missing_neighbour)
    return GearFaultParams(state, theta_f, dip, phase, impact)


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


def tooth_modulation(
    fault: GearFaultParams, rev_frac: np.ndarray, teeth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude a(theta) and phase b(theta) modulation (rad of the mesh fundamental) of a fault.

    Args:
        fault: the drawn fault.
        rev_frac: shaft angle / 2 pi in [0, 1), float32.
        teeth: pinion teeth (a tooth spans 2 pi / teeth).
    """
    tooth = _TAU / teeth
    fr = rev_frac - np.float32(fault.theta_f / _TAU)
    fr -= np.floor(fr + np.float32(0.5))
    psi = fr * np.float32(_TAU)  # angle from the faulty tooth, in [-pi, pi)
    if fault.state == "gear_root_crack":
        w = _gauss(psi / np.float32(0.4 * tooth))
        return -fault.dip * w, -fault.phase * w
    if fault.state == "gear_pitting":
        a_mod = np.zeros(rev_frac.size, dtype=np.float32)
        b_mod = np.zeros(rev_frac.size, dtype=np.float32)
        for j, (wj, sj) in enumerate(zip(fault.weights, fault.signs)):
            w = _gauss((psi - np.float32(j * tooth)) / np.float32(0.35 * tooth))
            a_mod -= np.float32(fault.dip * wj) * w
            b_mod += np.float32(fault.phase * wj * sj) * w
        return a_mod, b_mod
    if fault.state == "gear_broken_tooth":
        w = _box(psi / np.float32(fault.width * tooth))
        return -fault.dip * w, -fault.phase * w
    # missing tooth: the mesh vanishes for one tooth, the neighbours carry more
    w = _box(psi / np.float32(tooth))
    nb = _box((psi - np.float32(tooth)) / np.float32(tooth))
    nb += _box((psi + np.float32(tooth)) / np.float32(tooth))
    return np.float32(-fault.dip) * w + np.float32(fault.neighbour) * nb, np.float32(-fault.phase) * w


def gear_train_vibration(
    train: GearTrainParams,
    fault: GearFaultParams | None,
    gearbox: Gearbox,
    rev: np.ndarray,
    speed_hz: float,
    fs: float,
) -> np.ndarray:
    """Shaft orders + first mesh (with run-out and the fault's modulation) + second mesh.

    Mesh harmonics at or above 0.45 fs are left out.

    Args:
        rev: shaft revolutions at each sample (float64).
    """
    rev_frac = (rev - np.floor(rev)).astype(np.float32)  # shaft angle / 2 pi, in [0, 1)
    x = np.zeros(rev.size, dtype=np.float32)
    for h, (a, ph) in enumerate(zip(train.shaft_amps, train.shaft_phases), start=1):
        x += np.float32(a) * cos_harmonic(rev_frac, h, ph)

    z = gearbox.pinion_teeth
    ratio = gearbox.pinion_teeth / gearbox.gear_teeth
    env = 1 + np.float32(train.runout[0]) * cos_harmonic(rev_frac, 1, train.runout_phases[0])
    env *= 1 + np.float32(train.runout[1]) * cos_cycles(ratio * rev + train.runout_phases[1] / _TAU)
    b_mod = None
    if fault is not None:
        a_mod, b_mod = tooth_modulation(fault, rev_frac, z)
        env *= 1 + a_mod.astype(np.float32)
    mesh = np.zeros(rev.size, dtype=np.float32)
    for m, (a, ph) in enumerate(zip(train.mesh_amps, train.mesh_phases), start=1):
        if m * z * speed_hz >= 0.45 * fs:
            break
        arg = rev_frac * np.float32(_TAU * m * z)
        arg += np.float32(ph)
        if b_mod is not None:
            arg += np.float32(m) * b_mod
        mesh += np.float32(a) * np.cos(arg, out=arg)
    mesh *= env
    x += mesh
    z2 = gearbox.stage2_pinion_teeth * ratio
    for m, (a, ph) in enumerate(zip(train.stage2_amps, train.stage2_phases), start=1):
        if m * z2 * speed_hz < 0.45 * fs:
            x += np.float32(a) * cos_cycles((m * z2) * rev + ph / _TAU)
    return x


def gear_impacts(
    fault: GearFaultParams, faults: GearFaults, teeth: int, rev: np.ndarray, rng: np.random.Generator
) -> list[Impacts]:
    """One impact per revolution when each faulty tooth enters the mesh."""
    trains = []
    for j, wj in enumerate(fault.weights):
        tg = impact_targets(rev, fault.theta_f / _TAU + j / teeth, faults.impact_jitter, rng)
        amp = fault.impact * wj * rng.uniform(*faults.impact_spread, tg.size)
        trains.append(Impacts("gear", impact_positions(rev, tg), amp))
    return trains
