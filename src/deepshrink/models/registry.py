"""Named models: ``create_model("drsn_cw_paper")``, ``list_models("drsn_*")``.

Naming scheme: ``<family>_<preset>`` for the paper's networks and ``<family><depth>_<dims>``
for the ResNet-depth families, where

* family is ``convnet``, ``resnet``, ``se_resnet``, ``drsn_cs`` or ``drsn_cw``;
* ``paper`` is Table II of Zhao et al. (2020): 1-D, 12 RSBUs in three stages of 4/8/16 channels;
  ``paper6`` and ``paper9`` are the 6- and 9-RSBU versions of the authors' code;
* ``18_1d``, ``34_1d``, ``50_1d`` are 1-D networks with ResNet-18/34/50 widths (64-512, or
  256-2048 with bottlenecks) for long signals; ``50_1d`` gates use a hidden width of C/4
  (C->C at 2,048 channels would put 25M parameters into the gates alone);
* ``20_2d``, ``56_2d`` are the CIFAR-style ResNets (16/32/64 channels, stride-1 stem) and
  ``18_2d`` ResNet-18 widths with a CIFAR stem, for small images.

Every preset is :class:`~deepshrink.models.skeleton.ResidualNet` with fixed arguments; any of
them can be overridden, e.g. ``create_model("drsn_cw_paper", spatial_dims=2)`` for a 2-D
version of the paper's network.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from deepshrink.errors import ConfigError
from deepshrink.models.skeleton import ResidualNet

__all__ = [
    "create_model", "list_models", "model_config", "check_model_args", "check_model_config", "FAMILIES", "PRESETS",
    "RESERVED_ARGS",
]  # fmt: skip

FAMILIES: dict[str, dict[str, Any]] = {
    "convnet": dict(gate=None, shortcut="none"),
    "resnet": dict(gate=None, shortcut="pad"),
    "se_resnet": dict(gate="se", shortcut="pad"),
    "drsn_cs": dict(gate="cs", shortcut="pad"),
    "drsn_cw": dict(gate="cw", shortcut="pad"),
}

_PAPER = dict(
    spatial_dims=1, stem_channels=4, stem_kernel=3, stem_stride=2, widths=(4, 8, 16), strides=(2, 2, 2), conv_bias=True
)
_RESNET_1D = dict(
    spatial_dims=1, stem_channels=64, stem_kernel=7, stem_stride=2, stem_pool=True,
    widths=(64, 128, 256, 512), strides=(1, 2, 2, 2), conv_bias=False,
)  # fmt: skip
_CIFAR = dict(
    spatial_dims=2, stem_channels=16, stem_kernel=3, stem_stride=1, widths=(16, 32, 64), strides=(1, 2, 2), conv_bias=False
)

# preset suffix -> (name pattern, ResidualNet arguments)
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "paper": ("{family}_paper", dict(_PAPER, depths=(4, 4, 4))),
    "paper6": ("{family}_paper6", dict(_PAPER, depths=(2, 2, 2))),
    "paper9": ("{family}_paper9", dict(_PAPER, depths=(3, 3, 3))),
    "18_1d": ("{family}18_1d", dict(_RESNET_1D, depths=(2, 2, 2, 2))),
    "34_1d": ("{family}34_1d", dict(_RESNET_1D, depths=(3, 4, 6, 3))),
    "50_1d": ("{family}50_1d", dict(_RESNET_1D, depths=(3, 4, 6, 3), block="bottleneck", widths=(256, 512, 1024, 2048), gate_reduction=4.0)),
    "20_2d": ("{family}20_2d", dict(_CIFAR, depths=(3, 3, 3))),
    "56_2d": ("{family}56_2d", dict(_CIFAR, depths=(9, 9, 9))),
    "18_2d": ("{family}18_2d", dict(_CIFAR, stem_channels=64, widths=(64, 128, 256, 512), depths=(2, 2, 2, 2), strides=(1, 2, 2, 2))),
}  # fmt: skip

_REGISTRY: dict[str, dict[str, Any]] = {
    pattern.format(family=family): {**preset, **family_args}
    for family, family_args in FAMILIES.items()
    for pattern, preset in PRESETS.values()
}
_ARGUMENTS = [p for p in inspect.signature(ResidualNet).parameters]
_HINTS = typing.get_type_hints(ResidualNet.__init__)

RESERVED_ARGS = ("in_channels", "num_classes")
"""Arguments that training takes from the data; a config's ``model_args`` may not set them."""

# Ranges of the numeric ResidualNet arguments (the types come from its signature): (low, high,
# low_inclusive, high_inclusive). Upper bounds are far above any sensible network and only
# stop typos (a width of 10**9) from reaching torch as an allocation failure.
_MAX_CHANNELS = 1 << 16
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "in_channels": (1, _MAX_CHANNELS, True, True),
    "num_classes": (1, 1_000_000, True, True),
    "spatial_dims": (1, 3, True, True),
    "widths": (1, _MAX_CHANNELS, True, True),
    "depths": (1, 1024, True, True),
    "strides": (1, 1024, True, True),
    "stem_channels": (1, _MAX_CHANNELS, True, True),
    "stem_kernel": (1, 1023, True, True),
    "stem_stride": (1, 1024, True, True),
    "kernel_size": (1, 1023, True, True),
    "gate_reduction": (0, _MAX_CHANNELS, False, True),
    "drop_rate": (0, 1, True, False),
    "stack": (1, 4096, True, True),
}


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _range_text(name: str) -> str:
    low, high, lo_in, hi_in = _RANGES[name]
    return f"in {'[' if lo_in else '('}{low:g}, {high:g}{']' if hi_in else ')'}"


def _in_range(name: str, value: float) -> bool:
    if name not in _RANGES:
        return True
    low, high, lo_in, hi_in = _RANGES[name]
    return (low <= value if lo_in else low < value) and (value <= high if hi_in else value < high)


def _check_arg(name: str, value: Any, hint: Any) -> str | None:
    """Why ``value`` is not valid for argument ``name`` (None if it is)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(a for a in options if a is not type(None))
        origin = typing.get_origin(hint)
    if hint is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {_describe(value)}"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer {_range_text(name) if name in _RANGES else ''}".rstrip() + f", got {_describe(value)}"
        return None if _in_range(name, value) else f"must be an integer {_range_text(name)}, got {value!r}"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a finite number {_range_text(name) if name in _RANGES else ''}".rstrip() + f", got {_describe(value)}"
        return None if _in_range(name, value) else f"must be a number {_range_text(name)}, got {value!r}"
    if hint is str:
        return None if isinstance(value, str) else f"must be a string, got {_describe(value)}"
    if origin in (Sequence, list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
            return f"must be a non-empty list of integers, got {_describe(value)}"
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or not _in_range(name, item):
                what = f"integers {_range_text(name)}" if name in _RANGES else "integers"
                return f"must be a list of {what}, got {_describe(value)}"
        return None
    return None  # an argument whose type we do not know: ResidualNet checks it


def check_model_args(args: Mapping[str, Any], where: str = "model arguments") -> None:
    """Check :class:`ResidualNet` arguments by name, type and range, before torch sees them.

    Args:
        args: argument name -> value (a subset is fine: a preset fills the rest).
        where: what the arguments came from (a file, ``--model-arg``), for the message.

    Raises:
        ConfigError: an unknown argument, or a value of the wrong type or out of range; the
            message names ``where``, the argument and the value.
    """
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}: expected a mapping of argument name to value, got {_describe(args)}")
    for name, value in args.items():
        if not isinstance(name, str) or name not in _ARGUMENTS:
            close = difflib.get_close_matches(str(name), _ARGUMENTS, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(_ARGUMENTS)}"
            raise ConfigError(f"{where}: unknown model argument {name!r}; {hint}")
        problem = _check_arg(name, value, _HINTS.get(name, Any))
        if problem:
            raise ConfigError(f"{where}: model argument {name!r} {problem}")


def check_model_config(args: Mapping[str, Any], where: str = "model arguments") -> None:
    """Check a full set of :class:`ResidualNet` arguments, each one and how they fit together.

    Besides :func:`check_model_args`: one width, depth and stride per stage, odd kernel sizes,
    and no stage narrower than the one before with the paper's zero-padding shortcut.

    Raises:
        ConfigError: naming ``where`` and the arguments that do not fit.
    """
    check_model_args(args, where)
    widths, depths, strides = (list(args.get(k, ())) for k in ("widths", "depths", "strides"))
    if not len(widths) == len(depths) == len(strides):
        raise ConfigError(
            f"{where}: widths, depths and strides need one entry per stage, got {widths}, {depths}, {strides}"
        )
    for key in ("kernel_size", "stem_kernel"):
        if key in args and args[key] % 2 == 0:
            raise ConfigError(f"{where}: model argument {key!r} must be odd ('same' padding), got {args[key]}")
    if args.get("shortcut") == "pad" and "stem_channels" in args:
        channels = [args["stem_channels"], *widths]
        for before, after in zip(channels, channels[1:]):
            if after < before:
                raise ConfigError(
                    f"{where}: shortcut 'pad' cannot narrow {before} -> {after} channels "
                    f"(widths {widths}); use shortcut='conv' or non-decreasing widths"
                )


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally filtered by a shell-style pattern."""
    if pattern is not None and not isinstance(pattern, str):
        raise ConfigError(f"pattern: expected a shell-style pattern such as 'drsn_*', got {_describe(pattern)}")
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names


def model_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The full :class:`ResidualNet` arguments of a named model, with ``overrides`` applied."""
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string such as 'drsn_cw_paper', got {_describe(name)}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint} (`deepshrink models` lists all {len(_REGISTRY)})")
    unknown = sorted(str(k) for k in set(overrides) - set(_ARGUMENTS))
    if unknown:
        raise ConfigError(f"unknown model argument(s) {', '.join(unknown)} for {name!r}; valid: {', '.join(_ARGUMENTS)}")
    config = {**_REGISTRY[name], **overrides}
    check_model_config(config, f"model {name!r}")
    return config


def create_model(name: str, in_channels: int = 1, num_classes: int = 8, **overrides: Any) -> ResidualNet:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`, e.g. ``"drsn_cw_paper"``.
        in_channels: input channels of the data.
        num_classes: number of classes.
        **overrides: any :class:`ResidualNet` argument, replacing the preset's value.

    Raises:
        ConfigError: for an unknown name (listing the closest names) or argument, or an
            argument of the wrong type or out of range (checked before anything is built).
    """
    model = ResidualNet(**model_config(name, in_channels=in_channels, num_classes=num_classes, **overrides))
    model.model_name = name
    return model
