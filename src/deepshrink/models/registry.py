"""Named models: ``create_model("drsn_cw_paper")``, ``list_models("drsn_*")``.

Naming scheme: ``<family>_<preset>`` for the paper's networks and ``<family><depth>_<dims>``
for the ResNet-depth families, where

* family is ``convnet``, ``resnet``, ``se_resnet``, ``drsn_cs`` or ``drsn_cw`` (every preset), or
  one of the shrinkage variants ``drsn_cw_hard``, ``drsn_cw_garrote``, ``drsn_cw_firm``,
  ``drsn_cw_mad``, ``drsn_ew`` and ``aprelu_resnet`` (the paper presets; ``drsn_ew`` also 2-D);
* ``paper`` is Table II of Zhao et al. (2020): 1-D, 12 RSBUs in three stages of 4/8/16 channels;
  ``paper6`` and ``paper9`` are the 6- and 9-RSBU versions of the authors' code;
* ``14_1d`` is the paper's 6-unit network four times as wide (16/32/64 channels, a ResNet-14):
  the size at which, trained with AdamW on fresh noise, the networks reach MiniRocket on noisy
  UCR series (docs/results.md, section 8);
* ``18_1d``, ``34_1d``, ``50_1d`` are 1-D networks with ResNet-18/34/50 widths (64-512, or
  256-2048 with bottlenecks) for long signals; ``50_1d`` gates use a hidden width of C/4
  (C->C at 2,048 channels would put 25M parameters into the gates alone);
* ``20_2d``, ``56_2d`` are the CIFAR-style ResNets (16/32/64 channels, stride-1 stem) and
  ``18_2d`` ResNet-18 widths with a CIFAR stem, for small images.

Each name is written out in the table ``_MODELS`` below, next to its family and preset, and
:func:`describe_model` gives its one-line description (what ``deepshrink models`` prints);
:func:`model_family` and :func:`model_label` are what reports and figures go by (never a
name's prefix).
The paper's families are :class:`~deepshrink.models.skeleton.ResidualNet` with fixed arguments;
any of them can be overridden, e.g. ``create_model("drsn_cw_paper", spatial_dims=2)`` for a 2-D
version of the paper's network. The field's baselines (``wdcnn``, ``fcn``, ``fawaz_resnet``,
``inception_time``, ``inception_time_x5``: :mod:`deepshrink.models.baselines`) are architectures
of their own, named by the ``arch`` key of their config (:data:`ARCHITECTURES`); they are
trained, stacked, saved and exported like the rest. ``drsn_cw_fawaz_resnet`` and
``drsn_cw_inception_time`` are two of them with the paper's channel-wise shrinkage gate in every
block (module); :func:`plain_counterpart` names the network a shrinkage model is compared with.
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any, NamedTuple

from torch import nn

from deepshrink.errors import ConfigError
from deepshrink.layers.gates import SHRINKAGE_MODES
from deepshrink.models import skeleton
from deepshrink.checks import describe_value
from deepshrink.models.arguments import argument_names
from deepshrink.models.baselines import BASELINES
from deepshrink.models.skeleton import ResidualNet

__all__ = [
    "create_model", "list_models", "is_model", "describe_model", "model_family", "model_label", "uses_shrinkage",
    "plain_counterpart",
    "model_config", "input_too_short", "check_model_args", "check_model_config", "build_model", "model_arguments", "FAMILIES", "PRESETS",
    "ARCHITECTURES", "Architecture", "Family", "Preset", "RESERVED_ARGS",
]  # fmt: skip


class Preset(NamedTuple):
    """One half of a model's recipe: the layout (dims, stem, stages), with a line describing it."""

    description: str
    args: dict[str, Any]


class Family(NamedTuple):
    """The other half: gate and shortcut, and the label reports and figures show for the family."""

    label: str
    description: str
    args: dict[str, Any]


class Architecture(NamedTuple):
    """A network class and the check of a full set of its arguments (types, ranges, how they fit)."""

    cls: type[nn.Module]
    check_config: Any  # (args, where) -> None, raises ConfigError


ARCHITECTURES: dict[str, Architecture] = {
    "residual": Architecture(ResidualNet, skeleton.check_model_config),
    **{arch: Architecture(cls, check) for arch, (cls, check) in BASELINES.items()},
}
"""Architecture name (a model config's ``arch`` key; absent means ``residual``) -> class and check."""


FAMILIES: dict[str, Family] = {
    "convnet": Family("ConvNet", "plain CNN, no shortcut", dict(gate=None, shortcut="none")),
    "resnet": Family("ResNet", "pre-activation ResNet", dict(gate=None, shortcut="pad")),
    "se_resnet": Family("SE-ResNet", "ResNet with Squeeze-and-Excitation gates", dict(gate="se", shortcut="pad")),
    "drsn_cs": Family("DRSN-CS", "DRSN-CS: one threshold per sample", dict(gate="cs", shortcut="pad")),
    "drsn_cw": Family("DRSN-CW", "DRSN-CW: one threshold per sample and channel", dict(gate="cw", shortcut="pad")),
    # the shrinkage variants of the follow-up literature, in the same skeleton (1-D paper presets)
    "drsn_cw_hard": Family("DRSN-CW hard", "DRSN-CW with hard thresholding", dict(gate="cw", shortcut="pad", shrink="hard")),
    "drsn_cw_garrote": Family("DRSN-CW garrote", "DRSN-CW with garrote shrinkage",
                              dict(gate="cw", shortcut="pad", shrink="garrote")),
    "drsn_cw_firm": Family("DRSN-CW firm", "DRSN-CW with firm shrinkage, tau2 = 2 tau",
                           dict(gate="cw", shortcut="pad", shrink="firm")),
    "drsn_cw_mad": Family("DRSN-CW MAD", "DRSN-CW, threshold alpha x MAD noise level",
                          dict(gate="cw", shortcut="pad", threshold="mad")),
    "drsn_ew": Family("DRSN-EW", "DRSN-EW: a threshold per position",
                      dict(gate="ew", shortcut="pad")),
    "aprelu_resnet": Family("APReLU-ResNet", "ResNet with APReLU (Zhao et al. 2021)",
                            dict(gate=None, shortcut="pad", act="aprelu")),
    # the field's baselines: each its own architecture (models/baselines/), one preset each
    "wdcnn": Family("WDCNN", "WDCNN (Zhang et al. 2017), the 1-D CNN of bearing-fault studies", dict(arch="wdcnn")),
    "fcn": Family("FCN", "FCN (Wang et al. 2017) as benchmarked by Ismail Fawaz et al. 2019", dict(arch="fcn")),
    "fawaz_resnet": Family("ResNet-TSC", "ResNet (Wang et al. 2017) as benchmarked by Ismail Fawaz et al. 2019",
                           dict(arch="fawaz_resnet")),
    "inception_time": Family("InceptionTime", "InceptionTime (Ismail Fawaz et al. 2020)", dict(arch="inception_time")),
    # ... and with the paper's channel-wise shrinkage dropped into every block (module)
    "drsn_cw_fawaz_resnet": Family("DRSN-CW ResNet-TSC", "ResNet-TSC with a DRSN-CW shrinkage gate in every block",
                                   dict(arch="fawaz_resnet", gate="cw")),
    "drsn_cw_inception_time": Family("DRSN-CW InceptionTime", "InceptionTime with a DRSN-CW shrinkage gate in every module",
                                     dict(arch="inception_time", gate="cw")),
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

PRESETS: dict[str, Preset] = {
    "paper": Preset("1-D, Table II of the paper: 12 units, 4/8/16 channels", dict(_PAPER, depths=(4, 4, 4))),
    "paper6": Preset("1-D, 6 units of 4/8/16 channels (authors' code)", dict(_PAPER, depths=(2, 2, 2))),
    "paper9": Preset("1-D, 9 units of 4/8/16 channels (authors' code)", dict(_PAPER, depths=(3, 3, 3))),
    "14_1d": Preset("1-D, ResNet-14: 6 units of 16/32/64 channels",
                    dict(_PAPER, stem_channels=16, widths=(16, 32, 64), depths=(2, 2, 2))),
    "18_1d": Preset("1-D, ResNet-18 depths, 64-512 channels", dict(_RESNET_1D, depths=(2, 2, 2, 2))),
    "34_1d": Preset("1-D, ResNet-34 depths, 64-512 channels", dict(_RESNET_1D, depths=(3, 4, 6, 3))),
    "50_1d": Preset("1-D, ResNet-50 bottlenecks, 256-2048 channels",
                  dict(_RESNET_1D, depths=(3, 4, 6, 3), block="bottleneck", widths=(256, 512, 1024, 2048), gate_reduction=4.0)),
    "20_2d": Preset("2-D, CIFAR ResNet-20: 16/32/64 channels", dict(_CIFAR, depths=(3, 3, 3))),
    "56_2d": Preset("2-D, CIFAR ResNet-56: 16/32/64 channels", dict(_CIFAR, depths=(9, 9, 9))),
    "field": Preset("as published", {}),
    "ensemble5": Preset("ensemble of 5 networks (log of their mean probability)", dict(ensemble=5)),
    "18_2d": Preset("2-D, ResNet-18 widths with a CIFAR stem",
                  dict(_CIFAR, stem_channels=64, widths=(64, 128, 256, 512), depths=(2, 2, 2, 2), strides=(1, 2, 2, 2))),
}  # fmt: skip

# Every registered model, by name -> (family, preset). Names are written out, not generated,
# so that grep finds each one; a model's arguments are its preset's, then its family's.
_MODELS: dict[str, tuple[str, str]] = {
    "convnet_paper": ("convnet", "paper"),
    "convnet_paper6": ("convnet", "paper6"),
    "convnet_paper9": ("convnet", "paper9"),
    "convnet14_1d": ("convnet", "14_1d"),
    "convnet18_1d": ("convnet", "18_1d"),
    "convnet34_1d": ("convnet", "34_1d"),
    "convnet50_1d": ("convnet", "50_1d"),
    "convnet20_2d": ("convnet", "20_2d"),
    "convnet56_2d": ("convnet", "56_2d"),
    "convnet18_2d": ("convnet", "18_2d"),
    "resnet_paper": ("resnet", "paper"),
    "resnet_paper6": ("resnet", "paper6"),
    "resnet_paper9": ("resnet", "paper9"),
    "resnet14_1d": ("resnet", "14_1d"),
    "resnet18_1d": ("resnet", "18_1d"),
    "resnet34_1d": ("resnet", "34_1d"),
    "resnet50_1d": ("resnet", "50_1d"),
    "resnet20_2d": ("resnet", "20_2d"),
    "resnet56_2d": ("resnet", "56_2d"),
    "resnet18_2d": ("resnet", "18_2d"),
    "se_resnet_paper": ("se_resnet", "paper"),
    "se_resnet_paper6": ("se_resnet", "paper6"),
    "se_resnet_paper9": ("se_resnet", "paper9"),
    "se_resnet14_1d": ("se_resnet", "14_1d"),
    "se_resnet18_1d": ("se_resnet", "18_1d"),
    "se_resnet34_1d": ("se_resnet", "34_1d"),
    "se_resnet50_1d": ("se_resnet", "50_1d"),
    "se_resnet20_2d": ("se_resnet", "20_2d"),
    "se_resnet56_2d": ("se_resnet", "56_2d"),
    "se_resnet18_2d": ("se_resnet", "18_2d"),
    "drsn_cs_paper": ("drsn_cs", "paper"),
    "drsn_cs_paper6": ("drsn_cs", "paper6"),
    "drsn_cs_paper9": ("drsn_cs", "paper9"),
    "drsn_cs14_1d": ("drsn_cs", "14_1d"),
    "drsn_cs18_1d": ("drsn_cs", "18_1d"),
    "drsn_cs34_1d": ("drsn_cs", "34_1d"),
    "drsn_cs50_1d": ("drsn_cs", "50_1d"),
    "drsn_cs20_2d": ("drsn_cs", "20_2d"),
    "drsn_cs56_2d": ("drsn_cs", "56_2d"),
    "drsn_cs18_2d": ("drsn_cs", "18_2d"),
    "drsn_cw_paper": ("drsn_cw", "paper"),
    "drsn_cw_paper6": ("drsn_cw", "paper6"),
    "drsn_cw_paper9": ("drsn_cw", "paper9"),
    "drsn_cw14_1d": ("drsn_cw", "14_1d"),
    "drsn_cw18_1d": ("drsn_cw", "18_1d"),
    "drsn_cw34_1d": ("drsn_cw", "34_1d"),
    "drsn_cw50_1d": ("drsn_cw", "50_1d"),
    "drsn_cw20_2d": ("drsn_cw", "20_2d"),
    "drsn_cw56_2d": ("drsn_cw", "56_2d"),
    "drsn_cw18_2d": ("drsn_cw", "18_2d"),
    "drsn_cw_hard_paper": ("drsn_cw_hard", "paper"),
    "drsn_cw_hard_paper6": ("drsn_cw_hard", "paper6"),
    "drsn_cw_hard_paper9": ("drsn_cw_hard", "paper9"),
    "drsn_cw_garrote_paper": ("drsn_cw_garrote", "paper"),
    "drsn_cw_garrote_paper6": ("drsn_cw_garrote", "paper6"),
    "drsn_cw_garrote_paper9": ("drsn_cw_garrote", "paper9"),
    "drsn_cw_firm_paper": ("drsn_cw_firm", "paper"),
    "drsn_cw_firm_paper6": ("drsn_cw_firm", "paper6"),
    "drsn_cw_firm_paper9": ("drsn_cw_firm", "paper9"),
    "drsn_cw_mad_paper": ("drsn_cw_mad", "paper"),
    "drsn_cw_mad_paper6": ("drsn_cw_mad", "paper6"),
    "drsn_cw_mad_paper9": ("drsn_cw_mad", "paper9"),
    "drsn_ew_paper": ("drsn_ew", "paper"),
    "drsn_ew_paper6": ("drsn_ew", "paper6"),
    "drsn_ew_paper9": ("drsn_ew", "paper9"),
    "drsn_ew20_2d": ("drsn_ew", "20_2d"),
    "aprelu_resnet_paper": ("aprelu_resnet", "paper"),
    "aprelu_resnet_paper6": ("aprelu_resnet", "paper6"),
    "aprelu_resnet_paper9": ("aprelu_resnet", "paper9"),
    "wdcnn": ("wdcnn", "field"),
    "fcn": ("fcn", "field"),
    "fawaz_resnet": ("fawaz_resnet", "field"),
    "inception_time": ("inception_time", "field"),
    "inception_time_x5": ("inception_time", "ensemble5"),
    "drsn_cw_fawaz_resnet": ("drsn_cw_fawaz_resnet", "field"),
    "drsn_cw_inception_time": ("drsn_cw_inception_time", "field"),
}
_REGISTRY: dict[str, dict[str, Any]] = {
    name: {**PRESETS[preset].args, **FAMILIES[family].args} for name, (family, preset) in _MODELS.items()
}
RESERVED_ARGS = ("in_channels", "num_classes", "input_length")
"""Arguments that training takes from the data; a config's ``model_args`` may not set them."""


def _architecture(config: Any, where: str) -> Architecture:
    arch = config.get("arch", "residual") if isinstance(config, dict) else "residual"
    if arch not in ARCHITECTURES:
        raise ConfigError(f"{where}: unknown architecture 'arch' {arch!r} (one of {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[arch]


def _without_arch(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "arch"}


def model_arguments(config: dict[str, Any]) -> list[str]:
    """The argument names of the architecture of ``config`` (``arch`` included for a non-residual one)."""
    arch = _architecture(config, "model arguments")
    return argument_names(arch.cls) + ([] if arch.cls is ResidualNet else ["arch"])


def check_model_args(args: Any, where: str = "model arguments", model: str | None = None) -> None:
    """Check model arguments by name, type and range for their architecture: that of the
    registered ``model`` when given (overrides of its preset), else ``args['arch']``.

    Raises:
        ConfigError: naming ``where``, the argument and the value.
    """
    if not isinstance(args, dict):
        raise ConfigError(f"{where}: expected a mapping of argument name to value, got {describe_value(args)}")
    if model is not None and is_model(model):
        if "arch" in args:
            raise ConfigError(f"{where}: unknown model argument 'arch' (the model {model!r} fixes its architecture)")
        args = {**args, **({"arch": _REGISTRY[model]["arch"]} if "arch" in _REGISTRY[model] else {})}
    arch = _architecture(args, where)
    if arch.cls is ResidualNet:
        skeleton.check_model_args(args, where)
    else:
        arch.check_config(_without_arch(args), where)


def check_model_config(args: Any, where: str = "model arguments") -> None:
    """Check a full set of model arguments, each one and how they fit together, for their architecture."""
    if not isinstance(args, dict):
        raise ConfigError(f"{where}: expected a mapping of argument name to value, got {describe_value(args)}")
    _architecture(args, where).check_config(_without_arch(args), where)


def build_model(config: dict[str, Any]) -> nn.Module:
    """The network of a full model config (``model.config``, ``config.json``'s ``model_args``)."""
    arch = _architecture(config, "model config")
    return arch.cls(**_without_arch(config))


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally filtered by a shell-style pattern."""
    if pattern is not None and not isinstance(pattern, str):
        raise ConfigError(f"pattern: expected a shell-style pattern such as 'drsn_*', got {describe_value(pattern)}")
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string such as 'drsn_cw_paper', got {describe_value(name)}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint} (`deepshrink models` lists all {len(_REGISTRY)})")
    return name


def is_model(name: Any) -> bool:
    """Whether ``name`` is a registered model (callers that also see other names ask this first)."""
    return isinstance(name, str) and name in _REGISTRY


def describe_model(name: str) -> str:
    """One line saying what a registered model is: its family, then its preset's layout."""
    family, preset = _MODELS[_check_name(name)]
    return f"{FAMILIES[family].description}; {PRESETS[preset].description}"


def model_family(name: str) -> str:
    """The family of a registered model (a key of :data:`FAMILIES`): ``drsn_cw18_1d`` -> ``drsn_cw``."""
    return _MODELS[_check_name(name)][0]


def uses_shrinkage(name: Any) -> bool:
    """Whether a registered model thresholds its features (a shrinkage gate: DRSN-CS/CW/EW and variants)."""
    return is_model(name) and _REGISTRY[name].get("gate") in SHRINKAGE_MODES


_SHRINKAGE_ARGS = ("gate", "shrink", "threshold", "firm_ratio")


def plain_counterpart(name: str) -> str | None:
    """The registered network a shrinkage model is the gated version of, or None.

    The model with the same registered arguments but no gate: ``drsn_cw14_1d`` -> ``resnet14_1d``,
    ``drsn_cw_mad_paper`` -> ``resnet_paper``, ``drsn_cw_fawaz_resnet`` -> ``fawaz_resnet``. The
    paired comparison that says whether shrinkage helps is between these two.
    """
    if not uses_shrinkage(name):
        return None
    target = {k: v for k, v in _REGISTRY[name].items() if k not in _SHRINKAGE_ARGS}
    for other, config in _REGISTRY.items():
        if config.get("gate") is None and {k: v for k, v in config.items() if k not in _SHRINKAGE_ARGS} == target:
            return other
    return None


def model_label(name: str) -> str:
    """How reports name a registered model: its family's label, and the preset unless it is the paper's.

    ``drsn_cw_paper`` -> ``DRSN-CW``, ``resnet_paper6`` -> ``ResNet (paper6)``,
    ``drsn_cs18_1d`` -> ``DRSN-CS (18_1d)``.
    """
    family, preset = _MODELS[_check_name(name)]
    return FAMILIES[family].label + ("" if preset in ("paper", "field") else f" ({preset})")


def model_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The full :class:`ResidualNet` arguments of a named model, with ``overrides`` applied."""
    _check_name(name)
    valid = model_arguments(_REGISTRY[name])
    unknown = sorted(str(k) for k in set(overrides) - set(valid) | ({"arch"} & set(overrides)))
    if unknown:
        raise ConfigError(f"unknown model argument(s) {', '.join(unknown)} for {name!r}; valid: {', '.join(v for v in valid if v != 'arch')}")
    config = {**_REGISTRY[name], **overrides}
    check_model_config(config, f"model {name!r}")
    return config


def input_too_short(model: nn.Module, length: int | None) -> str | None:
    """Why observations of ``length`` samples are too short for ``model`` (shorter than its stem and
    stage strides downsample them: its last stage would see padding only), or None."""
    stride = int(getattr(model, "total_stride", 1))
    if length is None or length >= stride:
        return None
    name = getattr(model, "model_name", type(model).__name__)
    return (f"observations of {length} samples are shorter than {name} downsamples them ({stride}x, stem and stage "
            f"strides): its last stage sees padding only; use observations of at least {stride} samples or a "
            "shallower model")  # fmt: skip


def create_model(
    name: str, in_channels: int = 1, num_classes: int = 8, input_length: int | None = None, **overrides: Any
) -> nn.Module:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`, e.g. ``"drsn_cw_paper"``.
        in_channels: input channels of the data.
        num_classes: number of classes.
        input_length: the signals' length, for the architectures whose layers depend on it
            (WDCNN's fully connected layer); ignored by the others, which take any length.
        **overrides: any argument of the model's class, replacing the preset's value.

    Raises:
        ConfigError: for an unknown name (listing the closest names) or argument, or an
            argument of the wrong type or out of range (checked before anything is built).
    """
    if input_length is not None and "input_length" in model_arguments(_REGISTRY[name]):
        overrides = {"input_length": input_length, **overrides}
    model = build_model(model_config(name, in_channels=in_channels, num_classes=num_classes, **overrides))
    model.model_name = name
    return model
