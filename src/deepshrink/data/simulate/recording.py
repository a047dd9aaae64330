"""One recording: draw its machine from the :class:`Drivetrain`, then assemble its signal.

The periodic parts and the ringing of impacts are built in the time domain; the Gaussian
parts (background, random excitation of the modes, sensor floor), whose power spectra add,
are drawn as one complex spectrum; the transfer path and gain are applied in the frequency
domain. ``_LEAD_IN`` leading samples are generated and dropped: they absorb the filters'
start-up and the circular wrap-around of the FFT filtering.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.fft as sfft

from deepshrink.data.simulate.background import (
    BackgroundParams,
    background_spectrum,
    draw_background,
    sporadic_impacts,
)
from deepshrink.data.simulate.bearing import BearingFaultParams, bearing_impacts, draw_bearing_fault
from deepshrink.data.simulate.config import DRIVETRAIN, HEALTH_STATES, Drivetrain, state_index
from deepshrink.data.simulate.gear import (
    GearFaultParams,
    GearTrainParams,
    draw_gear_fault,
    draw_gear_train,
    gear_impacts,
    gear_train_vibration,
)
from deepshrink.data.simulate.kinematics import RotationParams, draw_rotation, shaft_revolutions
from deepshrink.data.simulate.sensor import SensorParams, add_mains_hum, draw_sensor, path_response
from deepshrink.data.simulate.structure import (
    Impacts,
    StructureParams,
    add_ringing,
    draw_structure,
    random_excitation_psd,
)
from deepshrink.errors import ConfigError

_LEAD_IN = 4096  # samples generated and dropped before each recording


@dataclass(frozen=True)
class RecordingParams:
    """Everything drawn for one recording (what ``simulate_recording(return_params=True)`` gives).

    Attributes:
        state, speed_hz, load: the health state and the operating condition.
        severity: the fault severity in [0, 1] (0 for a healthy machine).
        rotation, gear_train, structure, background, sensor: the drawn machine, by concern.
        fault: the drawn bearing or gear fault, ``None`` when healthy.
        shaft_revolutions: the input-shaft angle / 2 pi at every sample (float64; a perfect
            tachometer, for order tracking), set by :func:`simulate_recording`.
    """

    state: str
    speed_hz: float
    load: float
    severity: float
    rotation: RotationParams
    gear_train: GearTrainParams
    structure: StructureParams
    background: BackgroundParams
    sensor: SensorParams
    fault: BearingFaultParams | GearFaultParams | None
    shaft_revolutions: np.ndarray | None = field(default=None, repr=False, compare=False)


def draw_recording(
    machine: Drivetrain, state: int, speed_hz: float, load: float, fs: float,
    rng: np.random.Generator, severity: float | None,
) -> RecordingParams:
    """Draw one recording's machine (the draws happen in this order, each from ``rng``)."""
    name = HEALTH_STATES[state]
    s = float(rng.uniform(0.0, 1.0)) if severity is None else float(severity)
    rotation = draw_rotation(machine.gearbox, rng)
    gear_train = draw_gear_train(machine.gearbox, speed_hz, load, rng)
    structure = draw_structure(machine.structure, fs, rng)
    background = draw_background(machine.background, speed_hz, load, fs, rng)
    sensor = draw_sensor(machine.sensor, rng)
    fault: BearingFaultParams | GearFaultParams | None = None
    if name.startswith("bearing_"):
        fault = draw_bearing_fault(machine.bearing_faults, machine.bearing, name, s, speed_hz, load, rng)
    elif name.startswith("gear_"):
        fault = draw_gear_fault(machine.gear_faults, name, s, speed_hz, load, rng)
    return RecordingParams(
        state=name, speed_hz=float(speed_hz), load=float(load), severity=s if state != 0 else 0.0,
        rotation=rotation, gear_train=gear_train, structure=structure, background=background,
        sensor=sensor, fault=fault,
    )


@functools.lru_cache(maxsize=4)
def _grid(n: int, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """rfft frequencies, cos(w), cos(2 w) at w = 2 pi f / fs, and each bin's weight in a
    one-sided power sum (cached per length)."""
    freqs = sfft.rfftfreq(n, 1.0 / fs)
    w = 2 * np.pi * freqs / fs
    wgt = np.full(freqs.size, 2.0)
    wgt[0] = 1.0
    if n % 2 == 0:
        wgt[-1] = 1.0
    out = (freqs, np.cos(w), np.cos(2 * w), wgt)
    for a in out:
        a.setflags(write=False)
    return out


def synthesize(
    p: RecordingParams, machine: Drivetrain, n_out: int, fs: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The recording's ``n_out`` samples (float32) and the shaft revolutions at each (float64)."""
    n = sfft.next_fast_len(n_out + _LEAD_IN, real=True)
    rev = shaft_revolutions(p.speed_hz, p.rotation, n, fs, rng)
    gear_fault = p.fault if isinstance(p.fault, GearFaultParams) else None
    x = gear_train_vibration(p.gear_train, gear_fault, machine.gearbox, rev, p.speed_hz, fs)

    impacts: list[Impacts] = []
    if gear_fault is not None and gear_fault.impact > 0:
        impacts += gear_impacts(gear_fault, machine.gear_faults, machine.gearbox.pinion_teeth, rev, rng)
    if isinstance(p.fault, BearingFaultParams):
        impacts += bearing_impacts(p.fault, machine.bearing_faults, rev, rng)
    impacts.append(sporadic_impacts(p.background, n, fs, rng))
    add_ringing(x, impacts, p.structure, fs)
    spec = sfft.rfft(x)

    # background + white excitation of the modes + the sensor's white floor (referred to before
    # gain and the unit-energy path): independent Gaussian processes, so one complex Gaussian
    # spectrum with the summed power spectral density
    freqs, cos1, cos2, wgt = _grid(n, fs)
    random_psd = random_excitation_psd(p.structure, cos1, cos2, fs)
    res_scale2 = p.background.random_excitation_rms**2 * n / float(np.sum(wgt * random_psd))
    shape = background_spectrum(p.background, freqs, wgt, n)
    noise_amp = np.sqrt(shape**2 + res_scale2 * random_psd + (p.sensor.noise_rms / p.sensor.gain) ** 2)
    white = rng.standard_normal(2 * freqs.size, dtype=np.float32).view(np.complex64)
    white *= np.float32(math.sqrt(n / 2))
    spec += white * noise_amp.astype(np.float32)
    spec *= path_response(p.sensor, n)
    spec *= np.float32(p.sensor.gain)
    spec[0] = 0.0
    y = sfft.irfft(spec, n)[n - n_out:]
    add_mains_hum(y, p.sensor, n - n_out, fs)
    return np.ascontiguousarray(y, dtype=np.float32), rev[n - n_out:]


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
    machine: Drivetrain | None = None,
) -> np.ndarray | tuple[np.ndarray, RecordingParams]:
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
        return_params: also return the drawn :class:`RecordingParams` (modes, defect order,
            gains, ..., and ``shaft_revolutions``).
        machine: the simulated machine (default :data:`DRIVETRAIN`).

    Returns:
        float32 array of shape (n_samples,), and the parameters if ``return_params``.
    """
    si = state_index(state)
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
    machine = check_machine(machine)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    params = draw_recording(machine, si, speed_hz, load, sampling_rate, rng, severity)
    y, rev = synthesize(params, machine, int(n_samples), float(sampling_rate), rng)
    return (y, replace(params, shaft_revolutions=rev.copy())) if return_params else y


def check_machine(machine: Drivetrain | None) -> Drivetrain:
    """``machine``, or :data:`DRIVETRAIN` for ``None``; anything else is a ConfigError."""
    if machine is None:
        return DRIVETRAIN
    if not isinstance(machine, Drivetrain):
        raise ConfigError(
            f"machine: expected a deepshrink.data.simulate.Drivetrain, got {type(machine).__name__}"
        )
    return machine
