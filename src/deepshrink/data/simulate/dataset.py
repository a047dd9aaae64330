"""The simulated dataset: one long recording per (state, speed, load, index), cut into windows.

Each recording has its own generator (:func:`recording_rng`), so a recording does not change
when other states, conditions or recordings are added to or removed from a request, nor with
the number of worker threads; all windows of a recording carry its ``recording_id``, so splits
by recording are leak-free.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from deepshrink.checks import positive_int
from deepshrink.data.dataset import SignalDataset
from deepshrink.data.simulate.config import HEALTH_STATES, Drivetrain, state_index
from deepshrink.data.simulate.recording import check_machine, simulate_recording
from deepshrink.errors import ConfigError


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
    s = state_index(state)
    entropy = [int(seed), s, int(round(1000 * speed_hz)), int(round(1000 * load)), int(index)]
    if min(entropy) < 0:
        raise ConfigError(f"seed, speed, load and index must be non-negative, got {entropy}")
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _simulate_arrays(
    *, recordings_per_condition: int, windows_per_recording: int, window: int, stride: int,
    speeds_hz: Sequence[float], loads: Sequence[float], states: Sequence[int],
    sampling_rate: float, seed: int, workers: int, machine: Drivetrain,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (N, 1, window), label, recording id, speed and load of every window."""
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
        rec = simulate_recording(
            si, sp, lo, rng=recording_rng(seed, si, sp, lo, i), n_samples=rec_len,
            sampling_rate=sampling_rate, machine=machine,
        )
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


def _conditions(speeds_hz: Sequence[float], loads: Sequence[float]) -> tuple[list[float], list[float]]:
    speeds = [float(s) for s in speeds_hz]
    load_list = [float(v) for v in loads]
    if not speeds or not load_list:
        raise ConfigError("speeds_hz and loads must not be empty")
    if len(set(speeds)) != len(speeds) or len(set(load_list)) != len(load_list):
        raise ConfigError(f"speeds_hz and loads must not repeat, got {speeds}, {load_list}")
    return speeds, load_list


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
    machine: Drivetrain | None = None,
) -> SignalDataset:
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
        machine: the simulated machine (default :data:`DRIVETRAIN`).

    Returns:
        ``deepshrink.data.dataset.SignalDataset`` with ``x`` of shape (N, 1, window) float32,
        ``y`` (N,), ``label_names`` the state names, ``recording_ids`` (N,) unique per
        recording (numbered over state, speed, load, index in that order, so
        ``recording_id % recordings_per_condition`` is the index within the condition),
        ``conditions = {"speed_hz": (N,), "load": (N,)}``, ``name="drivetrain_sim"``.

    Raises:
        ConfigError: a size is not a positive integer, the seed is negative, a state is
            unknown or repeated, speeds or loads are empty, repeated or out of range, or
            ``machine`` is not a :class:`Drivetrain`.
    """
    recordings_per_condition = positive_int("recordings_per_condition", recordings_per_condition)
    windows_per_recording = positive_int("windows_per_recording", windows_per_recording)
    window = positive_int("window", window)
    stride = window if stride is None else positive_int("stride", stride)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    speeds, load_list = _conditions(speeds_hz, loads)
    idx = list(range(len(HEALTH_STATES))) if states is None else [state_index(s) for s in states]
    if not idx or len(set(idx)) != len(idx):
        raise ConfigError(f"states must be a non-empty list without repeats, got {states!r}")
    x, y, rid, spd, ld = _simulate_arrays(
        recordings_per_condition=recordings_per_condition, windows_per_recording=windows_per_recording,
        window=window, stride=stride, speeds_hz=speeds, loads=load_list, states=idx,
        sampling_rate=float(sampling_rate), seed=int(seed), workers=_workers(workers),
        machine=check_machine(machine),
    )
    return SignalDataset(
        x, y,
        label_names=[HEALTH_STATES[i] for i in idx],
        sampling_rate=float(sampling_rate),
        recording_ids=rid,
        conditions={"speed_hz": spd, "load": ld},
        name="drivetrain_sim",
    )
