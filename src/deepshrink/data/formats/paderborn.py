"""The Paderborn University bearing data set (KAt-DataCenter), read from its ``.mat`` files.

C. Lessmeier, J. K. Kimotho, D. Zimmer, W. Sextro, "Condition monitoring of bearing damage in
electromechanical drive systems by using motor current signals of electric motors: a benchmark
data set for data-driven classification", PHM Society European Conference, 2016.

What a user has after downloading and unpacking the archives (one ``.rar`` per bearing)::

    paderborn/
      K001/N09_M07_F10_K001_1.mat ... N15_M07_F04_K001_20.mat
      KA04/N15_M07_F10_KA04_1.mat ...
      KI21/...

32 bearings (type 6203), 4 operating settings, 20 measurements of 4 s per bearing and setting.
A file ``<setting>_<bearing>_<n>.mat`` holds one MATLAB variable named after the file stem: a
struct with fields ``Info``, ``X``, ``Y`` and ``Description``; ``Y`` is a struct array whose
entries have ``Name``, ``Type``, ``Unit``, ``Raster`` and ``Data``. The entries are
``vibration_1`` (accelerometer on the bearing housing, 64 kHz), ``phase_current_1`` and
``phase_current_2`` (64 kHz), ``force``, ``speed`` and ``torque`` (4 kHz) and
``temp_2_bearing_module`` (1 Hz). The loader reads the variable named after the file, or the
file's only variable when a file's variable carries another name.

Bearing codes (:data:`PADERBORN_BEARINGS`): ``K001``-``K006`` healthy; ``KA..`` outer race,
``KI..`` inner race, ``KB..`` both (inner and outer race); artificial damage (EDM, engraver,
drilling) for KA01, KA03, KA05-KA09, KI01, KI03, KI05, KI07, KI08; real damage from accelerated
lifetime tests for KA04, KA15, KA16, KA22, KA30, KI04, KI14, KI16-KI18, KI21, KB23, KB24, KB27.

Operating settings (:data:`PADERBORN_SETTINGS`): ``N15_M07_F10`` (1500 rpm, 0.7 Nm load torque,
1000 N radial force), ``N09_M07_F10`` (900 rpm), ``N15_M01_F10`` (0.1 Nm), ``N15_M07_F04``
(400 N).

Leak-free splits: the 80 measurements of one bearing come from the same bearing mounted once,
so measurements of one bearing on both sides of a split leak. By default the recording id of
every window is its *bearing* (``group_by="bearing"``), so ``split_by_recording`` and
``kfold_by_recording`` keep each bearing on one side. ``group_by="file"`` makes every file its
own recording: use it to split by operating setting (``split_by_condition(ds, "setting",
["N15_M07_F10"], ["N09_M07_F10"])``), where the same bearings appear on both sides by design,
or to reproduce per-measurement splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from deepshrink.data.dataset import SignalDataset
from deepshrink.data.formats._common import PathLike, about_file, check_array_sizes, existing_path
from deepshrink.data.resample import resample
from deepshrink.errors import ConfigError, DatasetError

__all__ = [
    "PADERBORN_BEARINGS",
    "PADERBORN_RATES",
    "PADERBORN_SETTINGS",
    "bearing_info",
    "load_paderborn",
    "parse_paderborn_name",
    "read_paderborn_file",
    "setting_values",
]

_LOCATIONS = {"K0": "healthy", "KA": "outer_race", "KI": "inner_race", "KB": "inner+outer_race"}
_CLASS_ORDER = ("healthy", "outer_race", "inner_race", "inner+outer_race")


def _bearings() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {f"K00{i}": ("healthy", "healthy") for i in range(1, 7)}
    artificial = ["KA01", "KA03", "KA05", "KA06", "KA07", "KA08", "KA09", "KI01", "KI03", "KI05", "KI07", "KI08"]
    real = ["KA04", "KA15", "KA16", "KA22", "KA30", "KI04", "KI14", "KI16", "KI17", "KI18", "KI21", "KB23", "KB24", "KB27"]
    for code in artificial:
        table[code] = (_LOCATIONS[code[:2]], "artificial")
    for code in real:
        table[code] = (_LOCATIONS[code[:2]], "real")
    return table


PADERBORN_BEARINGS: dict[str, tuple[str, str]] = _bearings()
"""Bearing code → (damage location, damage kind) for the 32 bearings of the KAt data set.

Locations: ``healthy``, ``outer_race``, ``inner_race``, ``inner+outer_race`` (KB..); kinds:
``healthy``, ``artificial``, ``real``."""

PADERBORN_SETTINGS: dict[str, dict[str, float]] = {
    "N15_M07_F10": {"speed_rpm": 1500.0, "torque_nm": 0.7, "radial_force_n": 1000.0},
    "N09_M07_F10": {"speed_rpm": 900.0, "torque_nm": 0.7, "radial_force_n": 1000.0},
    "N15_M01_F10": {"speed_rpm": 1500.0, "torque_nm": 0.1, "radial_force_n": 1000.0},
    "N15_M07_F04": {"speed_rpm": 1500.0, "torque_nm": 0.7, "radial_force_n": 400.0},
}
"""Operating-setting code → rotational speed (rpm), load torque (Nm) and radial force (N)."""

PADERBORN_RATES: dict[str, float] = {
    "vibration_1": 64000.0,
    "phase_current_1": 64000.0,
    "phase_current_2": 64000.0,
    "force": 4000.0,
    "speed": 4000.0,
    "torque": 4000.0,
    "temp_2_bearing_module": 1.0,
}
"""Sampling rate (Hz) of each ``Y`` entry of a Paderborn file."""

_NAME = re.compile(r"^(N\d{2}_M\d{2}_F\d{2})_(K[AIB]?\d{2,3})_(\d+)$")


def parse_paderborn_name(stem: str) -> tuple[str, str, int] | None:
    """``(setting, bearing, measurement)`` of a file stem such as ``N15_M07_F10_KA04_1``, else None."""
    match = _NAME.match(stem)
    if match is None:
        return None
    return match.group(1), match.group(2), int(match.group(3))


def setting_values(setting: str) -> dict[str, float]:
    """Speed (rpm), load torque (Nm) and radial force (N) of a setting code such as ``N15_M07_F10``."""
    if setting in PADERBORN_SETTINGS:
        return dict(PADERBORN_SETTINGS[setting])
    n, m, f = (int(part[1:]) for part in setting.split("_"))
    return {"speed_rpm": n * 100.0, "torque_nm": m / 10.0, "radial_force_n": f * 100.0}


def bearing_info(code: str) -> tuple[str, str]:
    """(location, kind) of a bearing code; codes outside the table get their location from the
    prefix (``K0``, ``KA``, ``KI``, ``KB``) and kind ``unknown``.

    Raises:
        ConfigError: Not a Paderborn bearing code.
    """
    if code in PADERBORN_BEARINGS:
        return PADERBORN_BEARINGS[code]
    if re.fullmatch(r"K[AIB]\d{2}|K0\d{2}", code):
        return _LOCATIONS[code[:2]], "unknown"
    raise ConfigError(f"bearings: {code!r} is not a Paderborn bearing code (K001..K006, KA.., KI.., KB..)")


# ---------------------------------------------------------------------- reading one file
def _unwrap(value: Any) -> Any:
    """Strip the 1×1 object / struct wrappers scipy puts around MATLAB values."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.reshape(-1)[0]
    return value


def _text(value: Any) -> str:
    value = _unwrap(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            return "".join(str(v) for v in value.reshape(-1))
        return ""
    return str(value) if isinstance(value, str) else ""


def _field(record: Any, name: str) -> Any:
    """Field ``name`` of a MATLAB struct read by scipy (record array or ``mat_struct``), or None."""
    record = _unwrap(record)
    if isinstance(record, np.void) and record.dtype.names:
        return _unwrap(record[name]) if name in record.dtype.names else None
    if isinstance(record, np.ndarray) and record.dtype.names:
        if name not in record.dtype.names:
            return None
        return _unwrap(record.reshape(-1)[0][name]) if record.size else None
    if hasattr(record, "_fieldnames"):
        return getattr(record, name, None) if name in record._fieldnames else None
    return None


def _entries(y: Any) -> list[Any]:
    """The entries of a struct array (``Y``)."""
    if isinstance(y, np.ndarray) and y.dtype.names:
        return list(y.reshape(-1))
    if isinstance(y, np.ndarray) and y.dtype == object:
        return [_unwrap(v) for v in y.reshape(-1)]
    return [y] if y is not None else []


def _rate_of(name: str, raster: str) -> float | None:
    if name in PADERBORN_RATES:
        return PADERBORN_RATES[name]
    match = re.search(r"(\d+(?:\.\d+)?)\s*(k?)Hz", raster)
    if match:
        return float(match.group(1)) * (1000.0 if match.group(2) else 1.0)
    return None


def read_paderborn_file(path: PathLike, signals: Sequence[str] = ("vibration_1",)) -> tuple[list[np.ndarray], list[float]]:
    """The chosen ``Y`` entries of one Paderborn ``.mat`` file, each a float64 vector, and their rates.

    Raises:
        DatasetError: Unreadable file, no struct variable, no ``Y`` field, a missing entry
            (the message lists the entries the file has), non-numeric or non-finite data.
    """
    p = Path(path)
    stem = p.stem
    check_array_sizes(p)
    try:
        variables = [name for name, _, cls in scipy.io.whosmat(str(p))]
        chosen = stem if stem in variables else (variables[0] if len(variables) == 1 else None)
        if chosen is None:
            raise DatasetError(
                f"{p}: no variable named {stem} (variables: {', '.join(variables) or 'none'}); "
                "a Paderborn file holds one struct named after the file"
            )
        contents = scipy.io.loadmat(str(p), variable_names=[chosen])
    except DatasetError:
        raise
    except NotImplementedError:
        raise DatasetError(f"{p}: MATLAB v7.3 (HDF5) files are not supported; save it with -v7") from None
    except Exception as err:  # scipy raises many types for truncated / foreign files
        raise DatasetError(
            f"{p}: not a readable MATLAB .mat file (truncated or corrupt?) ({type(err).__name__}: {err})"
        ) from None
    top = contents.get(chosen)
    y = _field(top, "Y")
    if y is None:
        raise DatasetError(f"{p}: variable {chosen} has no field Y (not a Paderborn measurement struct)")
    by_name: dict[str, Any] = {}
    for entry in _entries(y):
        by_name.setdefault(_text(_field(entry, "Name")), entry)
    out, rates = [], []
    for signal in signals:
        if signal not in by_name:
            raise DatasetError(
                f"{p}: {chosen}.Y has no entry named {signal!r} (entries: {', '.join(sorted(by_name)) or 'none'})"
            )
        entry = by_name[signal]
        data = np.asarray(_field(entry, "Data"))
        if data.dtype.kind not in "fiu" or data.size == 0 or sum(d > 1 for d in data.shape) > 1:
            raise DatasetError(
                f"{p}: {chosen}.Y({signal}).Data must be a numeric vector, got dtype {data.dtype} shape {data.shape}"
            )
        data = data.astype(np.float64).reshape(-1)
        if not np.all(np.isfinite(data)):
            index = int(np.argmax(~np.isfinite(data)))
            raise DatasetError(f"{p}: {chosen}.Y({signal}).Data has a NaN or infinite value at sample {index}")
        rate = _rate_of(signal, _text(_field(entry, "Raster")))
        if rate is None:
            raise DatasetError(f"{p}: the sampling rate of Y entry {signal!r} is unknown (Raster {_text(_field(entry, 'Raster'))!r})")
        out.append(data)
        rates.append(rate)
    return out, rates


# ---------------------------------------------------------------------- the data set
def _as_list(value: Any, what: str) -> list[Any] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, int)) else list(value)
    if not items:
        raise ConfigError(f"{what}: an empty selection")
    return items


def _select_files(root: Path, bearings: Any, settings: Any, damage: Any, measurements: Any) -> list[tuple[Any, ...]]:
    """The Paderborn files under ``root`` the selection keeps: ``(path, setting, bearing code,
    measurement, location, damage kind)`` each; a typo in the selection is an error, not an empty one."""
    want_bearings = _as_list(bearings, "bearings")
    for code in want_bearings or []:
        bearing_info(code)
    want_settings = _as_list(settings, "settings")
    for setting in want_settings or []:
        if setting not in PADERBORN_SETTINGS:
            raise ConfigError(f"settings: unknown operating setting {setting!r}; settings: {', '.join(PADERBORN_SETTINGS)}")
    want_damage = _as_list(damage, "damage")
    for kind in want_damage or []:
        if kind not in ("healthy", "artificial", "real"):
            raise ConfigError(f"damage: must be healthy, artificial or real, got {kind!r}")
    want_meas = None if measurements is None else {int(m) for m in _as_list(measurements, "measurements")}
    files = []
    for path in sorted(root.rglob("*.mat")):
        parsed = parse_paderborn_name(path.stem)
        if parsed is None:
            continue
        setting, code, measurement = parsed
        location, kind = bearing_info(code)
        wanted = [(want_bearings, code), (want_settings, setting), (want_damage, kind), (want_meas, measurement)]
        if any(want is not None and value not in want for want, value in wanted):
            continue
        files.append((path, setting, code, measurement, location, kind))
    if not files:
        selection = "" if all(v is None for v in (bearings, settings, damage, measurements)) else " matching the selection"
        raise DatasetError(f"{root}: no Paderborn files{selection} (names like K001/N15_M07_F10_K001_1.mat)")
    found = {f[2] for f in files}
    missing = [code for code in (want_bearings or []) if code not in found]
    if missing:
        raise DatasetError(f"{root}: no files of bearing(s) {', '.join(missing)}")
    return files


def load_paderborn(
    root: PathLike,
    *,
    window: int = 2048,
    stride: int | None = None,
    bearings: Sequence[str] | str | None = None,
    settings: Sequence[str] | str | None = None,
    damage: Sequence[str] | str | None = None,
    measurements: Sequence[int] | int | None = None,
    signals: Sequence[str] | str = ("vibration_1",),
    sampling_rate: float | None = None,
    classes: str = "location",
    group_by: str = "bearing",
    name: str = "paderborn",
) -> SignalDataset:
    """Load Paderborn bearing files from a folder (searched recursively), cut into windows.

    Args:
        root: The folder holding the bearing folders (``K001/``, ``KA04/``, ...) or the files.
        window: Window length in samples (after resampling).
        stride: Step between windows; default ``window``. Windows never cross files.
        bearings: Keep only these bearing codes (e.g. ``["K001", "KA04", "KI04"]``).
        settings: Keep only these operating settings (keys of :data:`PADERBORN_SETTINGS`).
        damage: Keep only bearings of these kinds: ``healthy``, ``artificial``, ``real``.
        measurements: Keep only these measurement numbers (1-20).
        signals: ``Y`` entries to read, one channel each (default the vibration signal).
        sampling_rate: Resample every signal to this rate (Hz); default the native rate of the
            signals (64 kHz for vibration and currents), which must then agree.
        classes: ``location`` (healthy / outer_race / inner_race / inner+outer_race, those
            present) or ``bearing`` (one class per bearing code).
        group_by: The recording id of each window: ``bearing`` (leak-free unit, default) or
            ``file`` (each measurement its own recording).
        name: Dataset name.

    Returns:
        A :class:`SignalDataset` ``(N, len(signals), window)`` with conditions ``setting``,
        ``speed_rpm``, ``torque_nm``, ``radial_force_n``, ``bearing``, ``damage`` (kind),
        ``location``, ``measurement`` and ``file`` (path relative to ``root``).

    Raises:
        DatasetError: Missing folder, no Paderborn files (or none left by the selection), an
            unreadable file or missing entry (named with the file), a file shorter than the window.
        ConfigError: Bad ``classes``, ``group_by``, selection value or window.
    """
    root_path = existing_path(root, "Paderborn folder", directory=True)
    for arg, value in (("window", window), ("stride", window if stride is None else stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{arg}: must be a positive integer, got {value!r}")
    if classes not in ("location", "bearing"):
        raise ConfigError(f"classes: must be 'location' or 'bearing', got {classes!r}")
    if group_by not in ("bearing", "file"):
        raise ConfigError(f"group_by: must be 'bearing' or 'file', got {group_by!r}")
    signals = [signals] if isinstance(signals, str) else list(signals)
    if not signals:
        raise ConfigError("signals: must name at least one Y entry, e.g. ['vibration_1']")
    files = _select_files(root_path, bearings, settings, damage, measurements)
    if classes == "location":
        present = {f[4] for f in files}
        label_names = [c for c in _CLASS_ORDER if c in present]
    else:
        label_names = sorted({f[2] for f in files})
    recordings, labels, names = [], [], []
    cond: dict[str, list[Any]] = {k: [] for k in ("setting", "speed_rpm", "torque_nm", "radial_force_n", "bearing",
                                                  "damage", "location", "measurement", "file")}  # fmt: skip
    rate_out = sampling_rate
    for path, setting, code, measurement, location, kind in files:
        rel = path.relative_to(root_path).as_posix()
        data, rates = read_paderborn_file(path, signals)
        if sampling_rate is not None:
            data = [resample(d, r, sampling_rate) for d, r in zip(data, rates)]
        elif len(set(rates)) > 1:
            raise ConfigError(
                f"signals: {signals} have different sampling rates ({', '.join(f'{r:g}' for r in rates)} Hz); "
                "give sampling_rate= to resample them to one"
            )
        else:
            rate_out = rates[0]
        length = min(d.size for d in data)
        if max(d.size for d in data) > length * 1.01 + 1:
            raise DatasetError(f"{path}: signals {signals} have lengths {[d.size for d in data]} that differ by more than 1 %")
        if length < window:
            raise DatasetError(f"{path}: {signals[0]} has {length} samples, fewer than the window of {window}")
        recordings.append(np.stack([d[:length] for d in data]).astype(np.float32))
        labels.append(label_names.index(location if classes == "location" else code))
        names.append(code if group_by == "bearing" else rel)
        values = dict(setting=setting, bearing=code, damage=kind, location=location, measurement=measurement, file=rel,
                      **setting_values(setting))  # fmt: skip
        for key in cond:
            cond[key].append(values[key])
    with about_file(root_path):
        return SignalDataset.from_recordings(
            recordings,
            labels,
            window=window,
            stride=stride,
            label_names=label_names,
            recording_names=names,
            conditions={k: np.asarray(v) for k, v in cond.items()},
            sampling_rate=rate_out,
            name=name,
        )
