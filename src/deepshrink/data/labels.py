"""Class labels as deepshrink reads them from files and arrays: one text per class, codes ``0..K-1``.

``1``, ``1.0`` and ``"1"`` are one class; classes sort numbers numerically, then text (the UCR
archive's convention); a missing label (empty, NaN) or a measurement (``1.5``) is refused, never
turned into a class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deepshrink.errors import DatasetError

__all__ = ["canonical_label", "encode_labels", "numeric_key"]

ArrayLike = np.ndarray | torch.Tensor | Sequence[Any]


def numeric_key(label: str) -> tuple[int, float, str]:
    """Sort key: numbers numerically (``"2" < "10"``), then other strings alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def canonical_label(value: Any) -> str:
    """A label as text; integral numbers without a decimal part (``1.0`` and ``"1"`` → ``"1"``)."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode()
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return text


def _missing_label(label: str) -> bool:
    """True for text that stands for no label: empty, NaN or infinite (missing values in files)."""
    if not label:
        return True
    try:
        return not math.isfinite(float(label))
    except ValueError:
        return False


def encode_labels(
    labels: ArrayLike, label_names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Map raw class labels (numbers or strings) to integer codes ``0..K-1``.

    Labels are compared as canonical text (``1``, ``1.0`` and ``"1"`` are the same class).
    Without ``label_names`` the classes are the distinct labels in sorted order (numbers
    numerically, then strings alphabetically), as in the UCR archive convention.

    Args:
        labels: Raw labels, shape ``(N,)``.
        label_names: The known classes, in code order; every label must be one of them.

    Returns:
        ``(codes, names)``: int64 codes of shape ``(N,)`` and the K class names.

    Raises:
        DatasetError: A label is missing (NaN, infinite or empty: no class), a float that is
            not a whole number (a measurement, not a class), or not in ``label_names``.
    """
    if labels is None or isinstance(labels, (str, bytes, dict)):
        raise DatasetError(f"labels: expected one label per observation (an array of shape (N,)), got {type(labels).__name__}")
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    try:
        array = np.asarray(labels)
    except ValueError as err:  # ragged nested lists
        raise DatasetError(f"labels: expected an array of shape (N,) ({err})") from None
    if array.ndim != 1 and not (array.ndim == 2 and array.shape[1] == 1):
        raise DatasetError(f"labels: expected shape (N,), one label per observation, got shape {array.shape}")
    if array.dtype == object and any(isinstance(v, (list, tuple, dict, set, np.ndarray)) for v in array.reshape(-1)):
        raise DatasetError("labels: every label must be a number or a string")
    if label_names is not None and (isinstance(label_names, (str, bytes)) or not isinstance(label_names, (Sequence, np.ndarray))):
        raise DatasetError(f"label_names: expected a list of class names, got {type(label_names).__name__} {label_names!r:.60}")
    text = [canonical_label(v) for v in array.reshape(-1).tolist()]
    for i, label in enumerate(text):
        if _missing_label(label):
            raise DatasetError(
                f"label of observation {i} is {label or 'empty'!r}, not a class "
                f"({sum(_missing_label(t) for t in text)} such label(s)); drop or label those observations"
            )
    if array.dtype.kind == "f" and not np.all(array == np.round(array)):  # a measurement, not a class code
        i = int(np.flatnonzero(array.reshape(-1) != np.round(array.reshape(-1)))[0])
        raise DatasetError(f"label of observation {i} is {float(array.reshape(-1)[i]):g}, not a whole number: numeric class "
                           "labels must be integers (save them as integers, or as strings to name the classes)")  # fmt: skip
    if label_names is None:
        names = sorted(set(text), key=numeric_key)
    else:
        names = [canonical_label(v) for v in label_names]
    lookup = {name: code for code, name in enumerate(names)}
    codes = np.empty(len(text), dtype=np.int64)
    for i, label in enumerate(text):
        if label not in lookup:
            raise DatasetError(
                f"label {label!r} of observation {i} is not one of the classes {names}"
            )
        codes[i] = lookup[label]
    return codes, names
