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
from typing import Any

from deepshrink.errors import ConfigError
from deepshrink.models.skeleton import (
    MODEL_ARGUMENTS,
    ResidualNet,
    check_model_args,
    check_model_config,
    describe_value,
)

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
RESERVED_ARGS = ("in_channels", "num_classes")
"""Arguments that training takes from the data; a config's ``model_args`` may not set them."""


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally filtered by a shell-style pattern."""
    if pattern is not None and not isinstance(pattern, str):
        raise ConfigError(f"pattern: expected a shell-style pattern such as 'drsn_*', got {describe_value(pattern)}")
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names


def model_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The full :class:`ResidualNet` arguments of a named model, with ``overrides`` applied."""
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string such as 'drsn_cw_paper', got {describe_value(name)}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint} (`deepshrink models` lists all {len(_REGISTRY)})")
    unknown = sorted(str(k) for k in set(overrides) - set(MODEL_ARGUMENTS))
    if unknown:
        raise ConfigError(f"unknown model argument(s) {', '.join(unknown)} for {name!r}; valid: {', '.join(MODEL_ARGUMENTS)}")
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
