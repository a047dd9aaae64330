"""Plain array files: one ``.npz`` archive, or a folder of per-class subfolders.

``.npz`` (:func:`load_npz`, written by :func:`save_npz`):
    ``x`` (or ``X``) of shape ``(N, C, L)`` or ``(N, L)`` and ``y`` of shape ``(N,)`` are
    required. Optional: ``label_names`` (then ``y`` holds codes ``0..K-1``; without it ``y``
    may hold any labels, coded in sorted order), ``recording_ids`` ``(N,)`` (ints or
    strings; without it every observation is its own recording), ``sampling_rate`` (scalar),
    ``name`` and ``condition_<key>`` arrays ``(N,)``. Files are read with
    ``allow_pickle=False``: no object arrays.

Class folders (:func:`load_folder`)::

    root/
      healthy/   run1.npy  run2.csv ...
      inner/     run1.npy ...

    The subfolder names are the classes (sorted). Every ``.npy`` / ``.csv`` file is **one
    recording** (its recording id is ``"<class>/<file name>"``), so splits never separate the
    observations of one file. Other files are ignored. What a file holds depends on
    ``window``:

    * ``window=None``: observations already cut, ``(L,)`` (one observation), ``(N, L)`` (N
      one-channel observations; in a ``.csv`` one row per observation) or ``(N, C, L)``
      (``.npy`` only). All files must agree on ``C`` and ``L``.
    * ``window=W``: one continuous recording, ``(T,)`` or ``(T, C)``: time along the first
      axis, one column per channel (the layout of a CSV export from a data logger; save
      ``.npy`` recordings the same way). It is cut into windows of ``W`` samples every
      ``stride`` samples.

    ``.csv`` files are comma separated; a first line that is not numeric is taken as a
    header and skipped.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from deepshrink.checks import check_path
from deepshrink.data.dataset import SignalDataset
from deepshrink.data.labels import encode_labels
from deepshrink.data.formats._common import PathLike, about_file, check_array_sizes, check_text_size, existing_path
from deepshrink.errors import DatasetError
from deepshrink.fileio import atomic_write

__all__ = ["load_npz", "save_npz", "load_folder", "read_csv_table"]

_CONDITION_PREFIX = "condition_"
_SIGNAL_SUFFIXES = (".npy", ".csv")


def save_npz(ds: SignalDataset, path: PathLike) -> None:
    """Write ``ds`` to an ``.npz`` file that :func:`load_npz` reads back unchanged.

    Stores ``x``, ``y``, ``label_names``, ``recording_ids`` (the original names, per
    observation), ``sampling_rate`` (if set), ``name`` and ``condition_<key>`` arrays. Noise
    of a :class:`~deepshrink.data.NoisyDataset` is saved as part of ``x`` (its SNRs are not).
    Written atomically (like :func:`numpy.savez`, ``.npz`` is appended to a path without it): a
    failed write (a full disk) leaves any previous file at ``path`` as it was.
    """
    if not isinstance(ds, SignalDataset):
        raise DatasetError(f"save_npz: expected a SignalDataset, got {type(ds).__name__}")
    path = check_path(path, "path", DatasetError)
    names = np.asarray(ds.recording_names)
    arrays: dict[str, Any] = {
        "x": ds.x.detach().cpu().numpy(),
        "y": ds.y.cpu().numpy(),
        "label_names": np.asarray(ds.label_names, dtype=str),
        "recording_ids": names[ds.recording_ids.cpu().numpy()],
        "name": np.asarray(ds.name),
    }
    if ds.sampling_rate is not None:
        arrays["sampling_rate"] = np.asarray(ds.sampling_rate)
    for key, values in ds.conditions.items():
        arrays[_CONDITION_PREFIX + key] = values
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path if path.suffix == ".npz" else path.with_name(path.name + ".npz"), buffer.getvalue())


def load_npz(path: PathLike, *, name: str | None = None) -> SignalDataset:
    """Load a dataset from an ``.npz`` file (format in the module docstring).

    Args:
        path: The ``.npz`` file.
        name: Dataset name; default the ``name`` stored in the file, else the file stem.

    Raises:
        DatasetError: The file is missing, not a readable ``.npz`` archive (truncated or
            corrupt), lacks ``x`` or ``y``, holds object arrays, or fails the
            :class:`SignalDataset` checks (NaN/Inf, lengths, a single class); the message names
            the file and the key.
    """
    file = existing_path(check_path(path, "path", DatasetError), ".npz file", directory=False)
    check_array_sizes(file)
    try:
        with np.load(file, allow_pickle=False) as archive:
            keys = list(archive.files)
            arrays = {}
            for key in keys:
                try:
                    arrays[key] = archive[key]
                except ValueError as err:
                    raise DatasetError(
                        f"{file}: key {key!r} cannot be read without pickle ({err})"
                    ) from None
    except DatasetError:
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        RuntimeError,
        zipfile.BadZipFile,
        zlib.error,
    ) as err:
        raise DatasetError(
            f"{file}: not a readable .npz archive (truncated or corrupt?) "
            f"({type(err).__name__}: {err})"
        ) from None
    x_key = "x" if "x" in arrays else "X" if "X" in arrays else None
    if x_key is None or "y" not in arrays:
        missing = [k for k, ok in (("x", x_key is not None), ("y", "y" in arrays)) if not ok]
        raise DatasetError(
            f"{file}: missing key {' and '.join(missing)} (keys in the file: {keys})"
        )
    y = arrays["y"]
    with about_file(f"{file} key 'y'"):
        if "label_names" in arrays:
            label_names = [str(v) for v in np.asarray(arrays["label_names"]).reshape(-1)]
            if y.dtype.kind in "US":
                y, label_names = encode_labels(y, label_names)
        else:
            y, label_names = encode_labels(y)
    stored_name = str(arrays["name"]) if "name" in arrays else file.stem
    rate = arrays.get("sampling_rate")
    if rate is not None:
        if rate.ndim != 0 or rate.dtype.kind not in "iuf":
            raise DatasetError(f"{file}: key 'sampling_rate' must be one number (Hz), got {rate.dtype} of shape {rate.shape}")
        rate = float(rate)
    conditions = {
        key[len(_CONDITION_PREFIX) :]: value
        for key, value in arrays.items()
        if key.startswith(_CONDITION_PREFIX)
    }
    with about_file(file):
        return SignalDataset(
            arrays[x_key],
            y,
            label_names=label_names,
            sampling_rate=rate,
            recording_ids=arrays.get("recording_ids"),
            conditions=conditions,
            name=name or stored_name,
        )


def _read_csv(path: Path) -> np.ndarray:
    """A comma-separated numeric file (an optional non-numeric header line is skipped)."""
    check_text_size(path, 8)  # np.loadtxt: a float64 for every two bytes of text, at most, and its growth
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot be read as a text file ({err})") from None
    try:
        [float(v) for v in first.strip().split(",") if v.strip()]
        skip = 0
    except ValueError:
        skip = 1
    try:
        return np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=1)
    except ValueError as err:
        raise DatasetError(f"{path}: malformed CSV ({err})") from None


def read_csv_table(path: Path, row: str) -> tuple[list[str] | None, np.ndarray]:
    """A comma-separated table of numbers: its header (a first line that is not numeric) or None,
    and the values ``(rows, columns)`` in float64. ``row`` says what a row is, for the message when
    one has another number of values than the first.

    Raises:
        DatasetError: empty, no data rows, a value that is not a number, or rows of different
            lengths; naming the file and the line.
    """
    check_text_size(path, 40)  # csv rows of Python strings, then floats: about 40 bytes a byte of text
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot be read as a text file ({err})") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise DatasetError(f"{path}: empty CSV file")
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise DatasetError(f"{path}: no data rows")
    first = 1 + (header is not None)  # the line number of rows[0]
    width = len(header) if header else len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, cells in enumerate(rows):
        if len(cells) != width:
            raise DatasetError(f"{path}: line {i + first}: {len(cells)} values, expected {width} ({row})")
        try:
            values[i] = [float(c) for c in cells]
        except ValueError:
            raise DatasetError(f"{path}: line {i + first}: not a number in {','.join(cells)[:60]!r}") from None
    return header, values


def _read_signal_file(path: Path) -> np.ndarray:
    if path.suffix == ".csv":
        arr = _read_csv(path)
    else:
        check_array_sizes(path)
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise DatasetError(
                f"{path}: not a readable .npy file (truncated or corrupt?) "
                f"({type(err).__name__}: {err})"
            ) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiub" or arr.size == 0:
        raise DatasetError(
            f"{path}: expected a non-empty numeric array, got {getattr(arr, 'dtype', type(arr))}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DatasetError(f"{path}: NaN or infinite value at index {position}")
    return arr


def _class_files(classes: list[Path]) -> list[tuple[int, Path]]:
    """``(class code, file)`` for every signal file of the class folders, in order; a class
    folder without one is an error."""
    files: list[tuple[int, Path]] = []
    for code, class_dir in enumerate(classes):
        found = sorted(
            p
            for p in class_dir.iterdir()
            if p.is_file() and p.suffix in _SIGNAL_SUFFIXES and not p.name.startswith(".")
        )
        if not found:
            raise DatasetError(f"{class_dir}: class folder holds no .npy or .csv file")
        files.extend((code, p) for p in found)
    return files


def load_folder(
    root: PathLike,
    *,
    window: int | None = None,
    stride: int | None = None,
    sampling_rate: float | None = None,
    name: str | None = None,
) -> SignalDataset:
    """Load a folder of per-class subfolders of ``.npy`` / ``.csv`` files (see module docstring).

    Args:
        root: The folder; each subfolder is a class.
        window: ``None`` if files hold observations already cut; else the window length in
            samples to cut each file (a continuous recording ``(T,)`` / ``(T, C)``) into.
        stride: Step between windows (default ``window``); overlap stays inside a file.
        sampling_rate: Samples per second, if known.
        name: Dataset name; default the folder name.

    Returns:
        A :class:`SignalDataset`; one recording per file (id ``"<class>/<file>"``).

    Raises:
        DatasetError: The folder is missing or has no class subfolders; a class folder holds no
            ``.npy`` / ``.csv`` file; a file is unreadable, malformed, holds NaN/Inf, has a
            shape that does not match the others (ragged) or is shorter than ``window``; fewer
            than two classes. Messages name the file.
    """
    folder = existing_path(check_path(root, "root", DatasetError), "class folder", directory=True)
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(
            f"{folder}: no class subfolders (expected <root>/<class>/<file>.npy or .csv)"
        )
    label_names = [p.name for p in classes]
    files = _class_files(classes)
    name = name or folder.name

    if window is not None:
        recordings, labels, names = [], [], []
        for code, path in files:
            arr = _read_signal_file(path)
            if arr.ndim > 2:
                raise DatasetError(
                    f"{path}: a recording must be (T,) or (T, C), got shape {arr.shape}"
                )
            arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
            if isinstance(window, int) and arr.shape[0] < window:
                raise DatasetError(
                    f"{path}: the recording has {arr.shape[0]} samples, fewer than the window of "
                    f"{window} (recordings are read as (T,) or (T, C), time first)"
                )
            recordings.append(arr.T)
            labels.append(code)
            names.append(path.relative_to(folder).as_posix())
        with about_file(folder):
            return SignalDataset.from_recordings(
                recordings,
                labels,
                window=window,
                stride=stride,
                label_names=label_names,
                recording_names=names,
                sampling_rate=sampling_rate,
                name=name,
            )

    xs, ys, recs = [], [], []
    first: tuple[Path, tuple[int, ...]] | None = None
    for code, path in files:
        arr = _read_signal_file(path)
        if arr.ndim == 1:
            arr = arr[None, None, :]
        elif arr.ndim == 2:
            arr = arr[:, None, :]
        elif arr.ndim != 3:
            raise DatasetError(f"{path}: expected (L,), (N, L) or (N, C, L), got shape {arr.shape}")
        if first is None:
            first = (path, arr.shape[1:])
        elif arr.shape[1:] != first[1]:
            raise DatasetError(
                f"{path}: observations of shape (C, L) = {arr.shape[1:]} but {first[0].name} has "
                f"{first[1]}: ragged data; pass window= to cut recordings to one length"
            )
        xs.append(arr.astype(np.float32))
        ys.append(np.full(arr.shape[0], code, dtype=np.int64))
        recs.append(np.full(arr.shape[0], path.relative_to(folder).as_posix()))
    with about_file(folder):
        return SignalDataset(
            np.concatenate(xs),
            np.concatenate(ys),
            label_names=label_names,
            sampling_rate=sampling_rate,
            recording_ids=np.concatenate(recs),
            name=name,
        )
