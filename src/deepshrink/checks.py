"""The argument checks every floor shares: a path, an existing file, a device, a positive integer.

They sit on the ground floor (beside :mod:`deepshrink.errors`), so that layers, models, data and
training check a value the same way, with the same one-line message, without importing each
other. Each raises a deepshrink error naming the argument; the caller picks the error type
where it matters (a path in a dataset is a :class:`~deepshrink.errors.DatasetError`).
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import torch

from deepshrink.errors import ConfigError, DatasetError

__all__ = ["MAX_CHANNELS", "check_device", "check_path", "describe_value", "existing_file", "positive_int"]


MAX_CHANNELS = 1 << 16
"""The widest layer any argument may ask for: far above any sensible network, it only stops typos
(a width of 10**9) from reaching torch as an allocation failure."""


def describe_value(value: Any) -> str:
    """A value for an error message: its type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def positive_int(where: str, value: Any, limit: int | None = None, error: type[Exception] = ConfigError) -> int:
    """``value`` as an ``int`` in ``[1, limit]`` (a bool or a float is refused), else ``error``
    naming ``where``; the limit stops typos (a width of 10**9) before they become allocations."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= (limit or value):
        bounds = f"an integer in [1, {limit}]" if limit else "a positive integer"
        raise error(f"{where} must be {bounds}, got {describe_value(value)}")
    return int(value)


def check_path(value: Any, argument: str, error: type[Exception] = ConfigError) -> Path:
    """``value`` as a :class:`Path`, or ``error`` naming ``argument`` if it is no path at all.

    Public functions that take a file or folder call this first, so that ``None`` or a number
    is a one-line deepshrink error instead of a TypeError from ``os.fspath``.
    """
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip() and "\0" not in text:
            return Path(text).expanduser()
    raise error(f"{argument}: expected a file or folder path, got {type(value).__name__} {value!r:.60}")


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path`; a DatasetError if it does not exist or is not a file."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: file does not exist")
    if not p.is_file():
        raise DatasetError(f"{p}: not a file")
    return p


def check_device(device: Any, where: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine.

    Raises:
        ConfigError: not a device name, or a CUDA/MPS device this machine does not have.
    """
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError, ValueError):
        raise ConfigError(f"{where}: {device!r} is not a device (use 'cpu', 'cuda' or 'cuda:N')") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{where}: {device!r} asked for, but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"{where}: {device!r} does not exist; this machine has {count} CUDA device(s)")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"{where}: {device!r} asked for, but MPS is not available on this machine")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{where}: device type {dev.type!r} is not supported (use 'cpu', 'cuda' or 'cuda:N')")
    return dev
