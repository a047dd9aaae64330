"""Tests of the drivetrain simulator against independent references.

The spectral checks recompute the expected frequencies here, from the gear teeth and from the
textbook bearing formulas applied to the published geometry, and look for them with scipy's own
tools (Welch-free periodogram, Butterworth band-pass, Hilbert envelope).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import signal

from deepshrink.data.simulate import (
    BEARING,
    DRIVETRAIN,
    FAULT_RANGES,
    HEALTH_STATES,
    PINION_TEETH,
    RESONANCE_BANDS_HZ,
    Drivetrain,
    Paths,
    RecordingParams,
    Structure,
    recording_rng,
    simulate_drivetrain,
    simulate_recording,
)
from deepshrink.errors import ConfigError

FS = 12800.0


def _spectrum(x: np.ndarray, fs: float = FS) -> tuple[np.ndarray, np.ndarray]:
    x = x - x.mean()
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.fft.rfftfreq(x.size, 1 / fs), mag


def _defect_frequency(state: str, f_r: float) -> float:
    """Defect frequency from the bearing formulas (Randall & Antoni 2011), computed here."""
    n = BEARING.n_elements
    d, big_d = BEARING.element_diameter_mm, BEARING.pitch_diameter_mm
    ratio = d / big_d * math.cos(math.radians(BEARING.contact_angle_deg))
    if state == "bearing_outer_race":
        return n / 2 * f_r * (1 - ratio)
    if state == "bearing_inner_race":
        return n / 2 * f_r * (1 + ratio)
    bsf = big_d / (2 * d) * f_r * (1 - ratio**2)
    return 2 * bsf


def test_health_states_in_paper_order():
    assert HEALTH_STATES == (
        "healthy",
        "bearing_inner_race",
        "bearing_outer_race",
        "bearing_ball",
        "gear_root_crack",
        "gear_pitting",
        "gear_broken_tooth",
        "gear_missing_tooth",
    )


def test_bearing_geometry_matches_published_orders():
    # ER-16K catalogue orders: BPFI 5.43, BPFO 3.57, BSF 2.32, FTF 0.397
    assert _defect_frequency("bearing_inner_race", 1.0) == pytest.approx(5.43, abs=0.01)
    assert _defect_frequency("bearing_outer_race", 1.0) == pytest.approx(3.57, abs=0.01)
    assert _defect_frequency("bearing_ball", 1.0) / 2 == pytest.approx(2.32, abs=0.01)
    orders = BEARING.orders()
    assert orders["ftf"] == pytest.approx(0.397, abs=0.002)


@pytest.mark.parametrize("speed", [20.0, 30.0, 40.0])
@pytest.mark.parametrize("state", ["healthy", "gear_pitting", "gear_missing_tooth", "bearing_outer_race"])
def test_mesh_frequency_is_a_clear_peak(state, speed):
    x = simulate_recording(state, speed, 0.5, n_samples=2**16, rng=int(speed))
    f, mag = _spectrum(x)
    f_mesh = PINION_TEETH * speed
    near = np.abs(f - f_mesh) <= 0.01 * f_mesh  # speed wanders by ~ +-0.5 %
    band = (f > 0.6 * f_mesh) & (f < 1.4 * f_mesh)
    peak = mag[near].max()
    # the mesh line stands far above the median level of the band around it (a missing
    # tooth's strong impacts raise the broadband level)
    assert peak > (15 if state == "gear_missing_tooth" else 30) * np.median(mag[band])
    if state != "gear_missing_tooth":
        # and dominates the band (a missing tooth's strong once-per-revolution impacts ring
        # the gear-body mode at 1.2-2 kHz, whose comb of f_r harmonics can rival it at 40 Hz)
        assert peak == mag[band].max()


def _envelope_spectrum(x: np.ndarray, f_lo: float, f_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch-averaged spectrum (1.56 Hz bins) of the Hilbert envelope of the band-passed signal."""
    sos = signal.butter(4, [f_lo, f_hi], btype="bandpass", fs=FS, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x.astype(np.float64))))
    f, psd = signal.welch(env, fs=FS, nperseg=8192)
    return f, np.sqrt(psd)


def _resonance_band(params: RecordingParams) -> tuple[float, float]:
    f_res = params.structure.modes[0].freq_hz
    return max(f_res - 600.0, 300.0), min(f_res + 600.0, 6000.0)


@pytest.mark.parametrize("speed", [20.0, 30.0, 40.0])
@pytest.mark.parametrize("state", ["bearing_inner_race", "bearing_outer_race", "bearing_ball"])
def test_bearing_envelope_spectrum_peaks_at_defect_frequency(state, speed):
    x, params = simulate_recording(
        state, speed, 1.0, n_samples=2**17, rng=7, severity=1.0, return_params=True
    )
    f_env, mag = _envelope_spectrum(x, *_resonance_band(params))
    f_d = _defect_frequency(state, speed)
    search = (f_env > 1.5 * speed) & (f_env < 1.6 * f_d)  # above the shaft-rate lines
    f_peak = f_env[search][np.argmax(mag[search])]
    assert abs(f_peak - f_d) <= 0.03 * f_d, (f_peak, f_d)
    assert mag[search].max() > 4 * np.median(mag[search])


def test_bearing_envelope_with_random_severity_and_sidebands():
    # inner race: the load zone modulates the impacts at f_r: sidebands at BPFI +- f_r
    speed = 40.0
    f_d = _defect_frequency("bearing_inner_race", speed)
    for seed in (0, 1, 4):  # drawn severities 0.64, 0.51, 0.94
        x, params = simulate_recording(
            "bearing_inner_race", speed, 0.5, n_samples=2**17, rng=seed, return_params=True
        )
        assert params.severity > 0.4
        f_env, mag = _envelope_spectrum(x, *_resonance_band(params))
        search = (f_env > 1.5 * speed) & (f_env < 1.6 * f_d)
        f_peak = f_env[search][np.argmax(mag[search])]
        assert abs(f_peak - f_d) <= 0.03 * f_d, (f_peak, f_d)
        floor = np.median(mag[search])
        for side in (f_d - speed, f_d + speed):
            near = np.abs(f_env - side) <= 0.02 * side
            assert mag[near].max() > 1.8 * floor


def test_healthy_envelope_has_no_defect_peak():
    speed = 30.0
    x, params = simulate_recording("healthy", speed, 1.0, n_samples=2**17, rng=3, return_params=True)
    f_env, mag = _envelope_spectrum(x, *_resonance_band(params))
    floor = np.median(mag[(f_env > 50) & (f_env < 400)])
    for state in ("bearing_inner_race", "bearing_outer_race", "bearing_ball"):
        f_d = _defect_frequency(state, speed)
        near = np.abs(f_env - f_d) <= 0.03 * f_d
        assert mag[near].max() < 2 * floor


def _tsa_residual(x: np.ndarray, rev: np.ndarray, per_rev: int = 1024) -> np.ndarray:
    """Time-synchronous average over whole revolutions (order tracking by the tachometer angle),
    minus the shaft orders 0..3 and the mesh orders k z + {-1, 0, 1}: McFadden's residual."""
    r0, r1 = int(np.ceil(rev[0])), int(np.floor(rev[-1]))
    grid = np.arange(r0 * per_rev, r1 * per_rev) / per_rev
    tsa = np.interp(grid, rev, x.astype(np.float64)).reshape(-1, per_rev).mean(axis=0)
    spec = np.fft.rfft(tsa)
    spec[:4] = 0
    for k in range(1, 5):
        spec[k * PINION_TEETH - 1 : k * PINION_TEETH + 2] = 0
    return np.fft.irfft(spec, per_rev)


def _energy_near(res: np.ndarray, start: float, stop: float) -> float:
    """Share of the residual's energy between angles start..stop (in revolutions)."""
    pos = np.arange(res.size) / res.size
    rel = (pos - start) % 1.0
    near = rel <= (stop - start)
    return float((res[near] ** 2).sum() / (res**2).sum())


@pytest.mark.parametrize("severity", [0.5, 1.0])
@pytest.mark.parametrize("speed", [20.0, 40.0])
def test_local_gear_faults_stand_out_once_per_revolution(speed, severity):
    tooth = 1.0 / PINION_TEETH
    shares = {}
    for state in ("healthy", "gear_root_crack", "gear_pitting", "gear_broken_tooth", "gear_missing_tooth"):
        x, params = simulate_recording(
            state, speed, 0.5, n_samples=2**17, rng=11, severity=severity, return_params=True
        )
        res = _tsa_residual(x, params.shaft_revolutions)
        g = params.fault  # None when healthy: look at tooth 0
        start = (0.0 if g is None else g.theta_f) / (2 * np.pi) - tooth
        span = (1 + (1 if g is None else g.n_teeth)) * tooth  # the faulty tooth (pitting: the pitted teeth) +- 1
        shares[state] = (_energy_near(res, start, start + span), span)
    # healthy: the residual is spread over the whole revolution
    assert shares["healthy"][0] < 2 * shares["healthy"][1]
    for state in ("gear_root_crack", "gear_broken_tooth", "gear_missing_tooth"):
        assert shares[state][0] > 5 * shares[state][1], (state, shares[state])
    assert shares["gear_pitting"][0] > 1.5 * shares["gear_pitting"][1]


def test_every_state_vibrates_at_similar_level():
    # faults change modulation and impulsiveness, not whether there is signal
    rms = {
        s: np.median(
            [np.sqrt(np.mean(simulate_recording(s, 30.0, 0.5, n_samples=8192, rng=i) ** 2)) for i in range(6)]
        )
        for s in HEALTH_STATES
    }
    lo, hi = min(rms.values()), max(rms.values())
    assert lo > 0.05
    assert rms["healthy"] > 0.05
    assert hi / lo < 3.0


SMALL = dict(
    recordings_per_condition=2,
    windows_per_recording=3,
    window=256,
    speeds_hz=(20.0, 40.0),
    loads=(0.0, 1.0),
)


@pytest.fixture(scope="module")
def small():
    return simulate_drivetrain(seed=5, **SMALL)


def test_dataset_shapes_labels_conditions(small):
    n_rec = 8 * 2 * 2 * 2
    x = small.x.numpy()
    assert x.shape == (n_rec * 3, 1, 256)
    assert x.dtype == np.float32
    assert np.isfinite(x).all()
    assert list(small.label_names) == list(HEALTH_STATES)
    y = small.y.numpy()
    assert np.bincount(y).tolist() == [24] * 8
    assert small.sampling_rate == FS
    speed = np.asarray(small.conditions["speed_hz"])
    load = np.asarray(small.conditions["load"])
    assert sorted(set(speed.tolist())) == [20.0, 40.0]
    assert sorted(set(load.tolist())) == [0.0, 1.0]
    rid = small.recording_ids.numpy()
    assert len(np.unique(rid)) == n_rec
    for r in np.unique(rid):
        rows = rid == r
        assert rows.sum() == 3
        # one recording, one state and one condition
        assert len(set(y[rows])) == len(set(speed[rows])) == len(set(load[rows])) == 1
    # every (state, speed, load) has recordings_per_condition recordings
    keys = {(int(y[i]), speed[i], load[i], int(rid[i])) for i in range(len(y))}
    counts: dict = {}
    for k in keys:
        counts[k[:3]] = counts.get(k[:3], 0) + 1
    assert set(counts.values()) == {2} and len(counts) == 32


def test_windows_are_contiguous_pieces_of_one_recording(small):
    x = small.x.numpy()[:, 0]
    y = small.y.numpy()
    rid = small.recording_ids.numpy()
    speed = np.asarray(small.conditions["speed_hz"])
    load = np.asarray(small.conditions["load"])
    for r in (0, 17, 63):
        rows = np.flatnonzero(rid == r)
        state = HEALTH_STATES[y[rows[0]]]
        sp, lo = float(speed[rows[0]]), float(load[rows[0]])
        # which of the 2 recordings of this condition it is
        same = sorted({int(v) for v in rid[(y == y[rows[0]]) & (speed == sp) & (load == lo)]})
        index = same.index(r)
        rec = simulate_recording(
            state, sp, lo, rng=recording_rng(5, state, sp, lo, index), n_samples=3 * 256
        )
        np.testing.assert_array_equal(np.concatenate(x[rows]), rec)


def test_overlapping_windows_stay_inside_a_recording():
    ds = simulate_drivetrain(seed=1, stride=64, **SMALL)
    x = ds.x.numpy()[:, 0]
    rid = ds.recording_ids.numpy()
    assert x.shape == (8 * 8 * 3, 256)
    for r in (0, 40):
        w = x[rid == r]
        for a, b in zip(w[:-1], w[1:]):
            np.testing.assert_array_equal(a[64:], b[:-64])


def test_deterministic_by_seed(small):
    again = simulate_drivetrain(seed=5, **SMALL)
    np.testing.assert_array_equal(small.x.numpy(), again.x.numpy())
    np.testing.assert_array_equal(small.y.numpy(), again.y.numpy())
    np.testing.assert_array_equal(small.recording_ids.numpy(), again.recording_ids.numpy())
    other = simulate_drivetrain(seed=6, **SMALL)
    assert not np.allclose(small.x.numpy(), other.x.numpy())
    # thread count does not change the result
    serial = simulate_drivetrain(seed=5, workers=1, **SMALL)
    np.testing.assert_array_equal(small.x.numpy(), serial.x.numpy())


def test_recordings_do_not_depend_on_the_rest_of_the_request(small):
    sub = simulate_drivetrain(
        seed=5, states=["gear_pitting", "healthy"], **{**SMALL, "speeds_hz": (40.0,)}
    )
    assert list(sub.label_names) == ["gear_pitting", "healthy"]
    full_x, full_y = small.x.numpy(), small.y.numpy()
    full_speed = np.asarray(small.conditions["speed_hz"])
    for label, state in enumerate(["gear_pitting", "healthy"]):
        a = sub.x.numpy()[sub.y.numpy() == label]
        b = full_x[(full_y == HEALTH_STATES.index(state)) & (full_speed == 40.0)]
        np.testing.assert_array_equal(a, b)


def test_recordings_differ_between_machines():
    a = simulate_recording("healthy", 30.0, 0.5, n_samples=4096, rng=recording_rng(0, 0, 30.0, 0.5, 0))
    b = simulate_recording("healthy", 30.0, 0.5, n_samples=4096, rng=recording_rng(0, 0, 30.0, 0.5, 1))
    assert not np.allclose(a, b)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"states": ["healthy", "no_such_state"]},
        {"states": []},
        {"window": 0},
        {"stride": -1},
        {"seed": -1},
        {"recordings_per_condition": 0},
        {"speeds_hz": (1000.0,)},
        {"loads": (-1.0,)},
        {"speeds_hz": (20.0, 20.0)},
        {"machine": {"gearbox": {"pinion_teeth": 30}}},
    ],
)
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        simulate_drivetrain(**{**SMALL, **kwargs})


def test_simulate_recording_arguments():
    with pytest.raises(ConfigError):
        simulate_recording("healthy", 30.0, 0.5)  # no length
    with pytest.raises(ConfigError):
        simulate_recording("bearing_ball", 30.0, 0.5, n_samples=100, severity=2.0)
    x1 = simulate_recording(3, 30.0, 0.5, duration_s=0.1, rng=4)
    x2 = simulate_recording("bearing_ball", 30.0, 0.5, n_samples=1280, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(x1, x2)


# The output of a small configuration, pinned: a change of the physics, of a default or of the
# order of the random draws shows up here (float32 cosines may differ by an ulp across CPUs,
# hence the tolerance). Per-class RMS and four samples (window, sample) of ``small``.
PINNED_RMS = [
    0.24695286798088883, 0.5358547622832095, 0.6348339873803572, 0.43911077756819583,
    0.34155685024249394, 0.3500780895040342, 0.575269713904102, 0.9745927546807265,
]
PINNED_SAMPLES = {
    (0, 0): 0.14912845194339752,
    (50, 17): -0.0032099722884595394,
    (100, 128): 0.04200879484415054,
    (191, 255): -0.8413159847259521,
}


def test_output_of_a_small_configuration_is_pinned(small):
    x = small.x.numpy().astype(np.float64)
    y = small.y.numpy()
    rms = [float(np.sqrt(np.mean(x[y == c] ** 2))) for c in range(len(HEALTH_STATES))]
    assert rms == pytest.approx(PINNED_RMS, rel=1e-6)
    for (i, j), value in PINNED_SAMPLES.items():
        assert x[i, 0, j] == pytest.approx(value, abs=1e-6), (i, j)


def test_default_machine_is_the_calibrated_rig():
    assert Drivetrain() == DRIVETRAIN
    assert DRIVETRAIN.gearbox.pinion_teeth == PINION_TEETH == 32
    assert DRIVETRAIN.bearing == BEARING
    # the earlier names read the default machine
    assert RESONANCE_BANDS_HZ == {
        "housing_1": (2600.0, 3400.0), "housing_2": (3900.0, 5000.0), "gear_body": (1200.0, 2000.0)
    }
    assert FAULT_RANGES["bearing"] == {"impact": (0.5, 1.0)}
    assert FAULT_RANGES["gear_missing_tooth"] == {"dip": (1.0, 1.0), "phase": (0.3, 0.7), "impact": (2.0, 3.0)}
    a = simulate_recording("gear_pitting", 30.0, 0.5, n_samples=4096, rng=2)
    b = simulate_recording("gear_pitting", 30.0, 0.5, n_samples=4096, rng=2, machine=Drivetrain())
    np.testing.assert_array_equal(a, b)


def test_a_machine_change_reaches_only_its_concern():
    # twice the bearing impact level: the same draws, so bearing recordings differ by their
    # (linear) impact ringing only, and every other state is unchanged to the bit
    stronger = replace(DRIVETRAIN, bearing_faults=replace(DRIVETRAIN.bearing_faults, impact_level=8.0))
    for state in HEALTH_STATES:
        a = simulate_recording(state, 30.0, 1.0, n_samples=8192, rng=3, severity=1.0)
        b = simulate_recording(state, 30.0, 1.0, n_samples=8192, rng=3, severity=1.0, machine=stronger)
        if state.startswith("bearing_"):
            assert np.abs(b - a).max() > 0.5, state
            assert np.sqrt(np.mean(b**2)) > np.sqrt(np.mean(a**2)), state
        else:
            np.testing.assert_array_equal(a, b)
    ds = simulate_drivetrain(seed=5, machine=stronger, **SMALL)
    assert ds.x.shape == (8 * 8 * 3, 1, 256)


def test_structure_needs_one_path_weight_per_mode():
    with pytest.raises(ConfigError, match="paths.outer_race"):
        Structure(paths=Paths(outer_race=(1.0, 0.5)))
