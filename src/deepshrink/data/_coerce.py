"""The checks every :class:`~deepshrink.data.SignalDataset` puts its inputs through: signals,
labels, recordings, conditions and indices become tensors and arrays of the right shape and
type, or a one-line :class:`~deepshrink.errors.DatasetError` says which and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from deepshrink.data.labels import ArrayLike
from deepshrink.errors import DatasetError

INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)


def as_signals(x: ArrayLike, where: str) -> torch.Tensor:
    """``x`` as a float32 tensor ``(N, C, L)``; ragged or non-numeric input is a DatasetError."""
    if isinstance(x, (list, tuple)):
        shapes = [tuple(np.shape(item)) for item in x]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                raise DatasetError(
                    f"{where}: ragged data: observation {i} has shape {shape} but observation 0 "
                    f"has {shapes[0]}; all observations must have the same channels and length"
                )
        x = torch.stack([torch.as_tensor(item) for item in x]) if x else np.empty((0, 0))
    if isinstance(x, np.ndarray) and x.dtype == object:
        raise DatasetError(
            f"{where}: x is an object array (ragged observations?); expected a numeric array "
            "of shape (N, C, L) or (N, L)"
        )
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise DatasetError(f"{where}: x is not a numeric array ({err})") from None
    if t.is_complex() or not (t.is_floating_point() or t.dtype in INT_DTYPES):
        raise DatasetError(f"{where}: x must be real numbers, got dtype {t.dtype}")
    if t.ndim == 2:
        t = t.unsqueeze(1)
    if t.ndim != 3:
        raise DatasetError(f"{where}: x must have shape (N, C, L) or (N, L), got {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0 or t.shape[2] == 0:
        raise DatasetError(f"{where}: x is empty (shape {tuple(t.shape)})")
    t = t.to(torch.float32)
    finite = torch.isfinite(t).flatten(1).all(dim=1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten()
        raise DatasetError(
            f"{where}: observation {int(bad[0])} contains NaN or infinite values "
            f"({bad.numel()} observation(s) affected; after conversion to float32)"
        )
    return t


def as_label_names(label_names: Sequence[str], where: str) -> list[str]:
    """The class names as a list of distinct strings, at least two."""
    if isinstance(label_names, np.ndarray):
        label_names = label_names.tolist()
    if isinstance(label_names, str) or not isinstance(label_names, Sequence):
        raise DatasetError(f"{where}: label_names must be a list of class names, got {label_names!r}")
    names = [str(v) for v in label_names]
    if len(set(names)) != len(names):
        raise DatasetError(f"{where}: label_names has duplicates: {names}")
    if len(names) < 2:
        raise DatasetError(f"{where}: only one class {names}; classification needs at least 2")
    return names


def as_labels(y: ArrayLike, n: int, k: int, where: str) -> torch.Tensor:
    """``y`` as int64 codes in ``0..k-1``; floats are accepted if they are whole numbers."""
    arr = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DatasetError(f"{where}: y must have shape ({n},) to match x, got {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise DatasetError(f"{where}: y must hold integer class codes, got non-integer floats")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise DatasetError(
            f"{where}: y must hold integer class codes 0..{k - 1}, got dtype {arr.dtype} "
            "(map raw labels with deepshrink.data.encode_labels)"
        )
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= k))
    if bad.size:
        raise DatasetError(
            f"{where}: y[{bad[0]}] = {arr[bad[0]]} is out of range 0..{k - 1} "
            f"(there are {k} label_names)"
        )
    return torch.from_numpy(arr)


def as_recordings(
    recording_ids: ArrayLike | None, n: int, where: str
) -> tuple[torch.Tensor, list[Any]]:
    """Recording ids as int64 codes plus the original names (``names[code]``)."""
    if recording_ids is None:
        return torch.arange(n, dtype=torch.int64), list(range(n))
    arr = np.asarray(
        recording_ids.cpu() if isinstance(recording_ids, torch.Tensor) else recording_ids
    )
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DatasetError(f"{where}: recording_ids must have shape ({n},), got {arr.shape}")
    if arr.dtype.kind not in "iuUSO":
        raise DatasetError(
            f"{where}: recording_ids must be integers or strings, got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    names, codes = np.unique(arr, return_inverse=True)
    return torch.from_numpy(codes.astype(np.int64).reshape(-1)), names.tolist()


def as_conditions(
    conditions: Mapping[str, ArrayLike] | None, n: int, where: str
) -> dict[str, np.ndarray]:
    """Conditions as a dict of 1-D numpy arrays of length ``n``."""
    out: dict[str, np.ndarray] = {}
    if conditions is not None and not isinstance(conditions, Mapping):
        raise DatasetError(f"{where}: conditions must map a condition name to one value per observation, got {type(conditions).__name__}")
    for key, values in (conditions or {}).items():
        arr = np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values)
        if arr.ndim == 0:
            arr = np.full(n, arr.item())
        if arr.ndim != 1 or arr.shape[0] != n:
            raise DatasetError(
                f"{where}: condition {key!r} must have shape ({n},), got {arr.shape}"
            )
        out[str(key)] = arr
    return out


def as_index(indices: ArrayLike, n: int, where: str) -> np.ndarray:
    """Integer indices (or a boolean mask) as an int64 numpy array, checked against ``n``."""
    arr = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise DatasetError(f"{where}: boolean mask must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.reshape(-1)
    if arr.size and arr.dtype.kind not in "iu":
        raise DatasetError(f"{where}: indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < -n) | (arr >= n))
    if bad.size:
        raise DatasetError(f"{where}: index {arr[bad[0]]} is out of range for {n} observations")
    return np.where(arr < 0, arr + n, arr)


def summarise(values: np.ndarray, max_values: int = 20) -> Any:
    """Distinct values of a condition (or its range when there are many), JSON-friendly."""
    distinct = np.unique(values)
    if distinct.size <= max_values:
        return distinct.tolist()
    if distinct.dtype.kind not in "biuf":  # many names (files, bearings): no range
        return {"distinct": int(distinct.size), "first": distinct[:3].tolist()}
    return {
        "min": distinct.min().item(),
        "max": distinct.max().item(),
        "distinct": int(distinct.size),
    }
