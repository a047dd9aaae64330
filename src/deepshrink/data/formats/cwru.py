"""The Case Western Reserve University (CWRU) bearing data set, read from its ``.mat`` files.

The public files are named by number (``97.mat``, ``105.mat``, ...) and hold MATLAB variables
``X<number>_DE_time`` (drive-end accelerometer), ``X<number>_FE_time`` (fan end),
``X<number>_BA_time`` (base, not in every file) and ``X<number>RPM``. Some files also hold
another recording's variables (``99.mat`` holds ``X098_*`` and ``X099_*``): the loader takes
the variable whose number matches the file, else the only ``*_DE_time`` variable of the file.

The usual 10-class setup: 12 kHz drive-end data, normal + {inner race (IR), ball (B), outer
race at 6 o'clock (OR@6)} × {0.007, 0.014, 0.021 inch}, motor loads 0-3 hp. File numbers
(:data:`CWRU_12K_DRIVE_END`):

=========  ===================  =========  ===================
class      files (0/1/2/3 hp)   class      files (0/1/2/3 hp)
=========  ===================  =========  ===================
normal     97, 98, 99, 100      B014       185, 186, 187, 188
IR007      105, 106, 107, 108   OR014@6    197, 198, 199, 200
B007       118, 119, 120, 121   IR021      209, 210, 211, 212
OR007@6    130, 131, 132, 133   B021       222, 223, 224, 225
IR014      169, 170, 171, 172   OR021@6    234, 235, 236, 237
=========  ===================  =========  ===================

Other tables (``table=``, :data:`CWRU_TABLES`): ``"48k_drive_end"`` (the same classes at
48 kHz, :data:`CWRU_48K_DRIVE_END`; IR021 at 3 hp is file 217, not 216) and ``"12k_fan_end"``
(faults in the fan-end bearing, read from the ``FE`` accelerometer by default,
:data:`CWRU_12K_FAN_END`; the fan-end OR014 and OR021 files are left out because their numbers
per load are not consistent across the copies we checked, add them with ``mapping``). The normal
baseline files 97-100 are in every table. Pass your own ``mapping`` for other setups; a value
``(class, load, rate)`` gives a file's own sampling rate, and files at another rate than
``sampling_rate`` are resampled to it (:func:`deepshrink.data.resample.resample`).

Sampling rate of the normal baseline: some studies report that files 97-100 were recorded at
48 kHz, not 12 kHz; if that holds for your copy, give them
their rate, ``mapping={**CWRU_12K_DRIVE_END, 97: ("normal", 0, 48000.0), ...}``, and they are
resampled to the 12 kHz of the fault files instead of leaving a rate difference for the model
to learn.

Channels: ``channels=("DE", "FE")`` (or with ``"BA"``) stacks the accelerometers as input
channels, one per sensor; the normal baseline files have no ``BA`` signal.

Each file is one recording, cut into windows; windows overlap (``stride < window``) only inside
a recording and share its recording id, so :mod:`deepshrink.data.splits` never puts windows of
one file on both sides of a split. With four files per class (one per load), split by load
(``split_by_condition(ds, "load_hp", [0, 1, 2], [3])``: train on some loads, test on another, as
many papers report cross-condition results; in a training config ``split: condition`` with
``test_conditions: {load_hp: [3]}``) or by recording.

A quirk of the public files: some hold a variable numbered after another file (``99.mat`` also
holds ``X098_*``; in some copies a file's only variables carry a neighbour's number, e.g.
``174.mat`` with ``X173_*``). The loader takes the variable whose number matches the file, else
the file's only ``*_DE_time`` (or ``FE`` / ``BA``) variable, and refuses to guess between several.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import scipy.io

from deepshrink.data.dataset import SignalDataset
from deepshrink.data.formats._common import PathLike, about_file, check_array_sizes, existing_path
from deepshrink.data.resample import resample
from deepshrink.errors import ConfigError, DatasetError

__all__ = ["CWRU_12K_DRIVE_END", "CWRU_12K_FAN_END", "CWRU_48K_DRIVE_END", "CWRU_NOMINAL_RPM", "CWRU_TABLES", "load_cwru"]


def _table(rows: Sequence[tuple[str, Sequence[int]]]) -> dict[int, tuple[str, int]]:
    return {number: (label, load) for label, numbers in rows for load, number in enumerate(numbers)}


CWRU_12K_DRIVE_END: dict[int, tuple[str, int]] = _table(
    [
        ("normal", (97, 98, 99, 100)),
        ("IR007", (105, 106, 107, 108)),
        ("B007", (118, 119, 120, 121)),
        ("OR007@6", (130, 131, 132, 133)),
        ("IR014", (169, 170, 171, 172)),
        ("B014", (185, 186, 187, 188)),
        ("OR014@6", (197, 198, 199, 200)),
        ("IR021", (209, 210, 211, 212)),
        ("B021", (222, 223, 224, 225)),
        ("OR021@6", (234, 235, 236, 237)),
    ]
)
"""File number → (class name, motor load in hp) of the standard 10-class 12 kHz drive-end set.

Class order (codes 0-9) is the order of first appearance: normal, IR007, B007, OR007@6, IR014,
B014, OR014@6, IR021, B021, OR021@6."""

CWRU_48K_DRIVE_END: dict[int, tuple[str, int]] = _table(
    [
        ("normal", (97, 98, 99, 100)),
        ("IR007", (109, 110, 111, 112)),
        ("B007", (122, 123, 124, 125)),
        ("OR007@6", (135, 136, 137, 138)),
        ("IR014", (174, 175, 176, 177)),
        ("B014", (189, 190, 191, 192)),
        ("OR014@6", (201, 202, 203, 204)),
        ("IR021", (213, 214, 215, 217)),
        ("B021", (226, 227, 228, 229)),
        ("OR021@6", (238, 239, 240, 241)),
    ]
)
"""File number → (class name, load in hp) of the 10-class 48 kHz drive-end set (same classes
and order as :data:`CWRU_12K_DRIVE_END`)."""

CWRU_12K_FAN_END: dict[int, tuple[str, int]] = _table(
    [
        ("normal", (97, 98, 99, 100)),
        ("IR007", (278, 279, 280, 281)),
        ("B007", (282, 283, 284, 285)),
        ("OR007@6", (294, 295, 296, 297)),
        ("IR014", (274, 275, 276, 277)),
        ("B014", (286, 287, 288, 289)),
        ("IR021", (270, 271, 272, 273)),
        ("B021", (290, 291, 292, 293)),
    ]
)
"""File number → (class name, load in hp) of the 12 kHz fan-end fault files (8 classes)."""

CWRU_TABLES: dict[str, tuple[dict[int, tuple[str, int]], float, tuple[str, ...]]] = {
    "12k_drive_end": (CWRU_12K_DRIVE_END, 12000.0, ("DE",)),
    "48k_drive_end": (CWRU_48K_DRIVE_END, 48000.0, ("DE",)),
    "12k_fan_end": (CWRU_12K_FAN_END, 12000.0, ("FE",)),
}
"""Table name → (file table, sampling rate in Hz, default channels)."""

CWRU_NOMINAL_RPM: dict[int, float] = {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1730.0}
"""Nominal shaft speed per motor load (hp), used when a file has no ``*RPM`` variable."""

_CHANNELS = ("DE", "FE", "BA")


def _pick_key(keys: Sequence[str], number: int | None, suffix: str, path: Path) -> str | None:
    """The variable ``X<number><suffix>`` if present, else the only ``*<suffix>`` one.

    Returns None when the file has no variable ending in ``suffix``.

    Raises:
        DatasetError: Several candidates and none matches the file number.
    """
    if number is not None:
        wanted = f"X{number:03d}{suffix}"
        if wanted in keys:
            return wanted
    candidates = sorted(k for k in keys if k.endswith(suffix))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return None
    hint = (
        f"none is X{number:03d}{suffix}"
        if number is not None
        else "name the file by its CWRU number"
    )
    raise DatasetError(f"{path}: several keys end in {suffix!r} ({', '.join(candidates)}); {hint}")


def _locate(root: Path, key: int | str) -> Path:
    """The file for a mapping key: ``<n>.mat`` (int) or a relative file name (str), in ``root``
    or, if not there, exactly one match anywhere below it."""
    filename = f"{key}.mat" if isinstance(key, int) else str(key)
    if not isinstance(key, int) and not Path(filename).suffix:
        filename += ".mat"
    direct = root / filename
    if direct.is_file():
        return direct
    matches = sorted(root.rglob(Path(filename).name))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DatasetError(
            f"{root}: file {filename} found in several places ({', '.join(map(str, matches))}); "
            "pass root= the folder of one sampling rate"
        )
    raise DatasetError(f"{direct}: CWRU file does not exist (needed for mapping entry {key!r})")


def _read_mat(
    path: Path, number: int | None, channels: Sequence[str]
) -> tuple[np.ndarray, list[str], float | None]:
    """The ``(C, T)`` signal of the chosen channels, the keys read and the RPM (None if absent)."""
    check_array_sizes(path)
    try:
        contents = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises many types for truncated / foreign files
        raise DatasetError(
            f"{path}: not a readable MATLAB .mat file (truncated or corrupt?) "
            f"({type(err).__name__}: {err})"
        ) from None
    keys = [k for k in contents if not k.startswith("__")]
    signals, used = [], []
    for channel in channels:
        suffix = f"_{channel}_time"
        key = _pick_key(keys, number, suffix, path)
        if key is None:
            expected = f"X{number:03d}{suffix}" if number is not None else f"*{suffix}"
            hint = "; not every CWRU file has a base (BA) accelerometer" if channel == "BA" else ""
            raise DatasetError(
                f"{path}: missing key {expected} "
                f"(variables in the file: {', '.join(sorted(keys)) or 'none'}){hint}"
            )
        arr = np.asarray(contents[key])
        if arr.dtype.kind not in "fiu" or arr.size == 0 or sum(d > 1 for d in arr.shape) > 1:
            raise DatasetError(
                f"{path}: key {key} must be a numeric vector, "
                f"got dtype {arr.dtype} shape {arr.shape}"
            )
        arr = arr.astype(np.float64).reshape(-1)
        if not np.all(np.isfinite(arr)):
            index = int(np.argmax(~np.isfinite(arr)))
            raise DatasetError(f"{path}: key {key} has a NaN or infinite value at sample {index}")
        signals.append(arr)
        used.append(key)
    lengths = {s.size for s in signals}
    if len(lengths) != 1:
        raise DatasetError(
            f"{path}: channels {list(channels)} have different lengths {sorted(lengths)}"
        )
    rpm_key = _pick_key(keys, number, "RPM", path)
    rpm = None
    if rpm_key is not None:
        value = np.asarray(contents[rpm_key]).reshape(-1)
        if value.size != 1 or value.dtype.kind not in "fiu":
            raise DatasetError(f"{path}: key {rpm_key} must be one number, got shape {value.shape}")
        rpm = float(value[0])
    return np.stack(signals), used, rpm


def load_cwru(
    root: PathLike,
    *,
    window: int = 2048,
    stride: int | None = None,
    mapping: Mapping[int | str, tuple[str, int] | tuple[str, int, float]] | None = None,
    loads: Sequence[int] | None = None,
    channels: Sequence[str] | str | None = None,
    sampling_rate: float | None = None,
    table: str = "12k_drive_end",
    name: str = "cwru",
) -> SignalDataset:
    """Load CWRU bearing ``.mat`` files from a folder, one recording per file, as windows.

    Args:
        root: The folder holding the ``.mat`` files (searched recursively when a file is not
            directly in it).
        window: Window length in samples (the paper's network takes 2048).
        stride: Step between windows; default ``window`` (no overlap). Overlap stays inside a
            file.
        mapping: File → ``(class name, load in hp)`` or ``(class name, load, file rate in Hz)``.
            Keys are CWRU file numbers (``105`` → ``105.mat``) or file names relative to
            ``root``. Default: the ``table``. Class codes follow the order of first appearance.
        loads: Keep only files of these motor loads (hp), e.g. ``[0]``.
        channels: Accelerometers to read, each one channel: ``"DE"``, ``"FE"``, ``"BA"``;
            default the table's (``DE``, or ``FE`` for the fan-end table).
        sampling_rate: Samples per second of the dataset; default the table's rate (12 or
            48 kHz). Files whose own rate (third element of a ``mapping`` value, else the
            table's rate) differs are resampled to it.
        table: ``"12k_drive_end"`` (default), ``"48k_drive_end"`` or ``"12k_fan_end"``
            (:data:`CWRU_TABLES`); ignored when ``mapping`` is given, except for its rate and
            channels.
        name: Dataset name.

    Returns:
        A :class:`SignalDataset` ``(N, len(channels), window)``; recording ids are the file
        names; conditions ``load_hp`` (int) and ``rpm`` (the file's ``*RPM`` value, else the
        nominal speed of its load, :data:`CWRU_NOMINAL_RPM`).

    Raises:
        DatasetError: The folder or a mapped file is missing; a file is not a readable
            ``.mat`` file, lacks the channel's key or holds NaN/Inf; the window is longer than a
            file's recording (all messages name the file and, where it applies, the key).
        ConfigError: Unknown channel, bad window / stride, or ``loads`` selects no file.
    """
    root_path = existing_path(root, "CWRU folder", directory=True)
    if table not in CWRU_TABLES:
        raise ConfigError(f"table: unknown CWRU table {table!r}; tables: {', '.join(CWRU_TABLES)}")
    default_table, table_rate, default_channels = CWRU_TABLES[table]
    channels = list(default_channels) if channels is None else [channels] if isinstance(channels, str) else list(channels)
    unknown = [c for c in channels if c not in _CHANNELS]
    if unknown or not channels:
        raise ConfigError(f"channels: must be a non-empty subset of {_CHANNELS}, got {channels}")
    sampling_rate = table_rate if sampling_rate is None else float(sampling_rate)
    table = dict(default_table if mapping is None else mapping)
    for key, value in table.items():
        if not isinstance(value, (tuple, list)) or len(value) not in (2, 3):
            raise ConfigError(f"mapping: entry {key!r} must be (class name, load) or (class name, load, rate), got {value!r}")
    if loads is not None:
        wanted = {int(load) for load in loads}
        table = {key: value for key, value in table.items() if int(value[1]) in wanted}
        if not table:
            raise ConfigError(f"loads: no mapped file has load {list(loads)} hp")
    label_names = list(dict.fromkeys(value[0] for value in table.values()))
    stride = window if stride is None else stride

    recordings, labels, names, load_hp, rpms = [], [], [], [], []
    for key, (label, load, *rate) in table.items():
        path = _locate(root_path, key)
        number = (
            key
            if isinstance(key, int)
            else (int(path.stem) if re.fullmatch(r"\d+", path.stem) else None)
        )
        signal, keys, rpm = _read_mat(path, number, channels)
        file_rate = float(rate[0]) if rate else table_rate
        if file_rate != sampling_rate:
            signal = resample(signal, file_rate, sampling_rate, axis=1)
        if isinstance(window, int) and signal.shape[1] < window:
            raise DatasetError(
                f"{path}: key {keys[0]} has {signal.shape[1]} samples, fewer than the window "
                f"of {window}"
            )
        recordings.append(signal)
        labels.append(label_names.index(label))
        names.append(path.relative_to(root_path).as_posix())
        load_hp.append(int(load))
        rpms.append(rpm if rpm is not None else CWRU_NOMINAL_RPM.get(int(load), float("nan")))
    with about_file(root_path):
        return SignalDataset.from_recordings(
            recordings,
            labels,
            window=window,
            stride=stride,
            label_names=label_names,
            recording_names=names,
            conditions={"load_hp": np.asarray(load_hp), "rpm": np.asarray(rpms, dtype=np.float64)},
            sampling_rate=sampling_rate,
            name=name,
        )
