"""The simulated drivetrain's parameters, as frozen dataclasses whose defaults are the machine.

Geometry, fault levels and the range of every per-recording random draw are declared here and
nowhere else; docs/simulator.md says what each one means physically. To simulate another
machine, change fields with :func:`dataclasses.replace` and pass the result as ``machine=``::

    from dataclasses import replace
    easier = replace(DRIVETRAIN, gear_faults=replace(DRIVETRAIN.gear_faults, impact_level=5.0))
    ds = simulate_drivetrain(machine=easier)

Amplitudes are in g at the reference speed (30 Hz) and, where a load factor applies, at rated
load; the simulator scales them with speed and load (docs/simulator.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from deepshrink.errors import ConfigError

Range = tuple[float, float]
"""``(lo, hi)``: a uniform draw U(lo, hi) made once per recording, or for a fault level the
level at severity 0 and at severity 1 (:func:`level`)."""

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

REFERENCE_SPEED_HZ = 30.0
"""Shaft speed at which the amplitudes below are given (v = f_r / 30 Hz in docs/simulator.md)."""


def state_index(state: str | int) -> int:
    """Index into :data:`HEALTH_STATES` of a state name or index (bool is not an index)."""
    if isinstance(state, (int, np.integer)) and not isinstance(state, bool):
        if 0 <= int(state) < len(HEALTH_STATES):
            return int(state)
        raise ConfigError(f"state index {state} out of range 0..{len(HEALTH_STATES) - 1}")
    if isinstance(state, str) and state in HEALTH_STATES:
        return HEALTH_STATES.index(state)
    raise ConfigError(f"unknown health state {state!r}; expected one of {HEALTH_STATES}")


def level(lo_hi: Range, severity: float) -> float:
    """A fault level at ``severity`` in [0, 1]: ``lo + (hi - lo) * severity``."""
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * severity


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


@dataclass(frozen=True)
class Gearbox:
    """The fixed-axis gear train and its healthy periodic vibration (steps 1-3 of the docs).

    Attributes:
        pinion_teeth: teeth of the input-shaft pinion (it carries the local gear faults).
        gear_teeth: teeth of the gear it meshes with (intermediate shaft at f_r * 32 / 83).
        stage2_pinion_teeth: teeth of the healthy second-stage pinion on the intermediate shaft.
        speed_wander_std: standard deviation of the relative speed wander w(t).
        shaft_amps: shaft orders 1, 2, 3 (unbalance, misalignment), scaled by v^2.
        mesh_amp: mesh fundamental X_1, scaled by (0.3 + 0.7 L) v.
        mesh_harmonics: X_2 / X_1, X_3 / X_1.
        runout: depth of each run-out sideband family (pinion and gear shaft).
        stage2_amp: second-stage mesh fundamental / X_1 (its 2nd harmonic is half of it).
    """

    pinion_teeth: int = 32
    gear_teeth: int = 83
    stage2_pinion_teeth: int = 25
    speed_wander_std: Range = (0.001, 0.003)
    shaft_amps: tuple[Range, ...] = ((0.03, 0.12), (0.01, 0.06), (0.005, 0.03))
    mesh_amp: Range = (0.3, 0.45)
    mesh_harmonics: tuple[Range, ...] = ((0.3, 0.7), (0.1, 0.4))
    runout: Range = (0.02, 0.1)
    stage2_amp: Range = (0.1, 0.3)


@dataclass(frozen=True)
class ModeBand:
    """A structural mode: its name and the range its natural frequency is drawn from."""

    name: str
    freq_hz: Range


@dataclass(frozen=True)
class Paths:
    """How strongly each source excites each structural mode (one entry per mode, in order).

    An entry is a fixed weight or a :data:`Range` drawn per recording; the drawn
    :class:`~deepshrink.data.simulate.structure.StructureParams` holds numbers only. ``random``
    weights the white random excitation of the modes, the other fields the impacts.
    """

    outer_race: tuple[float | Range, ...] = ((0.3, 0.6), 1.0, 0.0)
    inner_race: tuple[float | Range, ...] = (1.0, (0.05, 0.2), (0.2, 0.4))
    gear: tuple[float | Range, ...] = ((0.1, 0.3), 0.0, 1.0)
    sporadic: tuple[float | Range, ...] = (1.0, (0.3, 1.0), (0.3, 1.0))
    random: tuple[float | Range, ...] = (1.0, (0.3, 1.0), (0.3, 1.0))


@dataclass(frozen=True)
class Structure:
    """Structural modes of the rig and the transfer paths into them (step 6 of the docs).

    Attributes:
        modes: the modes, shifted per recording (mounting, temperature, bolts).
        damping: damping ratio zeta of each mode.
        max_mode_frequency: cap of a natural frequency, as a fraction of the sampling rate.
        paths: source-to-mode weights.
    """

    modes: tuple[ModeBand, ...] = (
        ModeBand("housing_1", (2600.0, 3400.0)),
        ModeBand("housing_2", (3900.0, 5000.0)),
        ModeBand("gear_body", (1200.0, 2000.0)),
    )
    damping: Range = (0.04, 0.08)
    max_mode_frequency: float = 0.4
    paths: Paths = Paths()

    def __post_init__(self) -> None:
        for f in fields(Paths):
            if len(getattr(self.paths, f.name)) != len(self.modes):
                raise ConfigError(
                    f"paths.{f.name}: needs one weight per mode ({len(self.modes)}), "
                    f"got {getattr(self.paths, f.name)!r}"
                )


@dataclass(frozen=True)
class BearingFaults:
    """Bearing-fault impacts (step 5 of the docs).

    Attributes:
        impact_level: peak acceleration (g) of an impact at severity 1, rated load, 30 Hz;
            it sets, with ``impact``, how easy bearing faults are.
        impact: impact strength at severity 0 and 1 (x ``impact_level``).
        impact_spread: independent amplitude factor of each impact.
        cage_slip: slip of the cage against pure rolling.
        jitter: standard deviation of each impact's timing, as a fraction of the period.
        load_zone_depth: depth mu of the inner-race (shaft) or ball (cage) modulation.
        ball_inner_contact: weakening of a ball's inner-race strikes.
    """

    impact_level: float = 4.0
    impact: Range = (0.5, 1.0)
    impact_spread: Range = (0.85, 1.15)
    cage_slip: Range = (0.0, 0.01)
    jitter: Range = (0.01, 0.02)
    load_zone_depth: Range = (0.5, 1.0)
    ball_inner_contact: Range = (0.5, 0.8)


@dataclass(frozen=True)
class ToothFault:
    """Levels of one local gear fault at severity 0 and 1.

    Attributes:
        dip: mesh amplitude loss at the faulty tooth (fraction).
        phase: mesh phase shift (rad of the mesh fundamental).
        impact: strength of the tooth impact (x :attr:`GearFaults.impact_level`).
    """

    dip: Range
    phase: Range
    impact: Range


@dataclass(frozen=True)
class GearFaults:
    """Local gear faults on one pinion tooth (step 4 of the docs).

    Attributes:
        impact_level: peak acceleration (g) of a tooth impact of strength 1 at rated load,
            30 Hz; it sets, with the ``impact`` levels, how easy gear faults are.
        root_crack, pitting, broken_tooth, missing_tooth: the levels of each fault.
        impact_spread: independent amplitude factor of each impact.
        impact_jitter: standard deviation of each impact's angle, in revolutions.
        pitted_teeth: smallest and largest number of consecutive pitted teeth.
        pit_weight: relative depth of each pitted tooth.
        broken_width: width of the lost part of a broken tooth, in tooth angles.
        missing_neighbour: extra load carried by each neighbour of a missing tooth.
    """

    impact_level: float = 3.5
    root_crack: ToothFault = ToothFault(dip=(0.2, 0.45), phase=(0.1, 0.35), impact=(0.5, 0.9))
    pitting: ToothFault = ToothFault(dip=(0.05, 0.2), phase=(0.04, 0.15), impact=(0.4, 0.8))
    broken_tooth: ToothFault = ToothFault(dip=(0.3, 0.8), phase=(0.1, 0.4), impact=(1.1, 1.7))
    missing_tooth: ToothFault = ToothFault(dip=(1.0, 1.0), phase=(0.3, 0.7), impact=(2.0, 3.0))
    impact_spread: Range = (0.8, 1.2)
    impact_jitter: float = 0.001
    pitted_teeth: tuple[int, int] = (3, 6)
    pit_weight: Range = (0.3, 1.0)
    broken_width: Range = (0.5, 1.0)
    missing_neighbour: float = 0.25

    def levels(self, state: str) -> ToothFault:
        """The :class:`ToothFault` of a gear state (``"gear_pitting"`` -> ``pitting``)."""
        return getattr(self, state.removeprefix("gear_"))


@dataclass(frozen=True)
class Background:
    """Non-fault vibration, in every class (step 7 of the docs).

    Attributes:
        sporadic_rate_hz: rate of sporadic impacts at Poisson times.
        sporadic_amp: mean of their exponential amplitudes, scaled by (0.5 + 0.5 L) v^1.5.
        random_excitation_rms: RMS of the white random excitation of the modes, scaled by
            (0.5 + 0.5 v).
        rms: RMS of the coloured background noise, scaled by (0.5 + 0.5 v).
        corner_hz: corner f_0 of its spectrum (f_0 / (f + f_0))^(slope / 2).
        slope: its slope alpha.
        bumps: number of Lorentzian bumps on that spectrum.
        bump_centre_hz: a bump's centre (the upper end is capped at 0.45 fs).
        bump_half_width_hz: a bump's half-width.
        bump_height: a bump's height, relative to the spectrum at its centre.
    """

    sporadic_rate_hz: Range = (5.0, 30.0)
    sporadic_amp: Range = (0.1, 0.3)
    random_excitation_rms: Range = (0.02, 0.06)
    rms: Range = (0.08, 0.2)
    corner_hz: Range = (20.0, 200.0)
    slope: Range = (0.5, 1.5)
    bumps: int = 2
    bump_centre_hz: Range = (200.0, 5000.0)
    bump_half_width_hz: Range = (100.0, 800.0)
    bump_height: Range = (0.2, 1.0)


@dataclass(frozen=True)
class Sensor:
    """The accelerometer: transfer path, gain, noise floor and mains pick-up (step 8).

    Attributes:
        path_taps: taps r_1 .. r_K of the random FIR transfer path after its leading 1.
        path_gamma: level gamma of the taps.
        path_kappa: decay kappa of the taps, in samples.
        gain_log_std: standard deviation of the log of the sensitivity gain.
        noise_rms: RMS of the white sensor floor (g).
        mains_hz: the supply frequencies, drawn with equal probability.
        mains_amp: amplitude of the supply's 1st harmonic (g).
        mains_harmonics: amplitudes of the 2nd, 3rd ... harmonic relative to the 1st.
    """

    path_taps: int = 31
    path_gamma: Range = (0.1, 0.4)
    path_kappa: Range = (2.0, 8.0)
    gain_log_std: float = 0.15
    noise_rms: float = 0.002
    mains_hz: tuple[float, float] = (50.0, 60.0)
    mains_amp: Range = (0.003, 0.02)
    mains_harmonics: tuple[Range, ...] = ((0.0, 0.5), (0.0, 0.3))


@dataclass(frozen=True)
class Drivetrain:
    """Everything the simulator draws a recording from; the defaults are the calibrated rig.

    Attributes:
        gearbox: gear train and its healthy vibration.
        bearing: geometry of the input-shaft bearing (it carries the bearing faults); the
            default is the ER-16K deep-groove ball bearing of SpectraQuest rigs.
        structure: structural modes and transfer paths.
        bearing_faults: bearing-fault impacts.
        gear_faults: local gear faults.
        background: non-fault vibration.
        sensor: the accelerometer.
    """

    gearbox: Gearbox = Gearbox()
    bearing: BearingGeometry = BearingGeometry(
        n_elements=9, element_diameter_mm=7.9375, pitch_diameter_mm=38.506
    )
    structure: Structure = Structure()
    bearing_faults: BearingFaults = BearingFaults()
    gear_faults: GearFaults = GearFaults()
    background: Background = Background()
    sensor: Sensor = Sensor()


DRIVETRAIN = Drivetrain()
"""The default machine (what ``simulate_drivetrain()`` simulates)."""
