"""Checking a network's arguments by name, type and range before torch sees them.

Every architecture (:class:`~deepshrink.models.skeleton.ResidualNet` and the field's baselines)
takes plain values only, so that a model is rebuilt exactly from its ``config`` (``config.json``).
The types come from the class's signature, the ranges from a table next to the class; this
module checks a mapping against both and names the source of the values in its message.
"""

from __future__ import annotations

import difflib
import inspect
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from deepshrink.checks import MAX_CHANNELS, describe_value
from deepshrink.errors import ConfigError

__all__ = ["COMMON_RANGES", "Range", "check_arguments", "argument_names"]

Range = tuple[float, float, bool, bool]
"""(low, high, low_inclusive, high_inclusive)."""

# Upper bounds far above any sensible network: they only stop typos before torch allocates.
COMMON_RANGES: dict[str, Range] = {
    "in_channels": (1, MAX_CHANNELS, True, True),
    "num_classes": (1, 1_000_000, True, True),
    "drop_rate": (0, 1, True, False),
    "stack": (1, 4096, True, True),
}


def argument_names(cls: type) -> list[str]:
    """The constructor arguments of ``cls``, in order."""
    return list(inspect.signature(cls).parameters)


def _range_text(bounds: Range) -> str:
    low, high, lo_in, hi_in = bounds
    return f"in {'[' if lo_in else '('}{low:g}, {high:g}{']' if hi_in else ')'}"


def _in_range(bounds: Range | None, value: float) -> bool:
    if bounds is None:
        return True
    low, high, lo_in, hi_in = bounds
    return (low <= value if lo_in else low < value) and (value <= high if hi_in else value < high)


def _problem(value: Any, hint: Any, bounds: Range | None) -> str | None:
    """Why ``value`` does not fit type ``hint`` and range ``bounds`` (None if it does)."""
    span = f" {_range_text(bounds)}" if bounds else ""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(a for a in options if a is not type(None))
        origin = typing.get_origin(hint)
    if hint is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {describe_value(value)}"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer{span}, got {describe_value(value)}"
        return None if _in_range(bounds, value) else f"must be an integer{span}, got {value!r}"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a finite number{span}, got {describe_value(value)}"
        return None if _in_range(bounds, value) else f"must be a number{span}, got {value!r}"
    if hint is str:
        return None if isinstance(value, str) else f"must be a string, got {describe_value(value)}"
    if origin in (Sequence, list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
            return f"must be a non-empty list of integers, got {describe_value(value)}"
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or not _in_range(bounds, item):
                return f"must be a list of integers{span}, got {describe_value(value)}"
        return None
    return None  # an argument whose type we do not know: the class checks it


def check_arguments(cls: type, ranges: Mapping[str, Range], args: Mapping[str, Any], where: str) -> None:
    """Check ``args`` against the signature of ``cls`` and the numeric ``ranges``.

    Args:
        cls: the network class whose constructor takes ``args``.
        ranges: argument name -> allowed range, for numeric arguments and lists of them.
        args: argument name -> value (a subset is fine: a preset fills the rest).
        where: what the arguments came from (a file, ``--model-arg``), for the message.

    Raises:
        ConfigError: an unknown argument, or a value of the wrong type or out of range; the
            message names ``where``, the argument and the value.
    """
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}: expected a mapping of argument name to value, got {describe_value(args)}")
    names = argument_names(cls)
    hints = typing.get_type_hints(cls.__init__)
    for name, value in args.items():
        if not isinstance(name, str) or name not in names:
            close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown model argument {name!r}; {hint}")
        problem = _problem(value, hints.get(name, Any), ranges.get(name))
        if problem:
            raise ConfigError(f"{where}: model argument {name!r} {problem}")
