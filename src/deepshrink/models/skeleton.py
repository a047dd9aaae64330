"""One network skeleton for the paper's five models, in 1-D, 2-D or 3-D.

Zhao et al. (2020) compare ConvNet, ResNet, DRSN-CS and DRSN-CW built from the same stem, stages
and head; SE-ResNet is the natural fifth. Here they differ only in two arguments:

=============  ============  ==========
model          gate          shortcut
=============  ============  ==========
ConvNet        None          ``"none"``
ResNet         None          ``"pad"``
SE-ResNet      ``"se"``      ``"pad"``
DRSN-CS        ``"cs"``      ``"pad"``
DRSN-CW        ``"cw"``      ``"pad"``
=============  ============  ==========

Variants under the same skeleton: ``gate="ew"`` (a threshold per sample, channel and position),
``shrink`` (``soft`` / ``hard`` / ``garrote`` / ``firm`` under the learned threshold), ``threshold="mad"``
(alpha times the MAD universal threshold instead of mean|x|), and ``act="aprelu"`` (APReLU in place
of every ReLU of the units and the head; see :mod:`deepshrink.layers.activations`).

Layout (the paper's Table II for the ``*_paper`` presets)::

    stem: Conv(k, stride) [+ MaxPool]
    stages: for each stage, one unit with the stage's stride, then units of stride 1
    head: BN -> ReLU -> global average pool -> [dropout] -> FC
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from deepshrink.errors import ConfigError, ShapeError
from deepshrink.functional import SHRINKS
from deepshrink.layers.activations import APReLU, make_act
from deepshrink.layers.blocks import SHORTCUTS, BasicBlock, BottleneckBlock, conv_nd, norm_nd
from deepshrink.layers.gates import GATES as GATE_LAYERS, SHRINKAGE_MODES, THRESHOLDS, gate_layer, linear
from deepshrink.checks import MAX_CHANNELS, describe_value
from deepshrink.models.arguments import COMMON_RANGES, check_arguments
from deepshrink.models.saving import save_pretrained

__all__ = [
    "ResidualNet", "GATES", "BLOCKS", "ACTIVATIONS", "INITS", "MODEL_ARGUMENTS",
    "check_model_args", "check_model_config",
]  # fmt: skip

GATES = (*GATE_LAYERS, None)
"""The values of ``gate``: the gates of :mod:`deepshrink.layers.gates`, or None for none."""
BLOCKS = {"basic": BasicBlock, "bottleneck": BottleneckBlock}
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU, "aprelu": APReLU,
}  # fmt: skip
INITS = ("torch", "he_normal")
"""Weight initialisations: ``torch`` (the default) keeps PyTorch's own layer initialisation
(convolution weights and biases uniform in +-1/sqrt(fan_in)); ``he_normal`` is the authors' code
(Kaiming-normal weights, std sqrt(2/fan_in), zero biases). Chosen by measurement
(``benchmarks/training_quality.py``, ``docs/results.md`` section A): every convolution feeds a
BatchNorm, so the weights' scale does not change what the network computes, only how far a step
moves them; ``he_normal`` weights are sqrt(6) times larger, so each step moves them relatively
less, and under AdamW the paper's networks scored lower with it on noisy FordA (the numbers are
in docs/results.md, section A)."""


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}")


def _stem(conv: type[nn.Module], in_channels: int, channels: int, kernel: int, stride: int, pool: bool, bias: bool,
          spatial_dims: int, stack: int) -> nn.Sequential:  # fmt: skip
    """The stem: one (grouped, for a stack) convolution, then a 3/2 max-pool with ``pool``."""
    layers: list[nn.Module] = [
        conv(in_channels * stack, channels * stack, kernel, stride=stride, padding=kernel // 2, bias=bias, groups=stack)
    ]
    if pool:
        layers.append({1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[spatial_dims](kernel_size=3, stride=2, padding=1))
    return nn.Sequential(*layers)


class ResidualNet(nn.Module):
    """Pre-activation residual network whose gate makes it a ResNet, SE-ResNet or DRSN.

    All arguments are plain values (no classes), so a model is rebuilt exactly from
    ``model.config`` (what ``config.json`` stores).

    Args:
        in_channels: input channels (sensor axes, or 1/3 for images).
        num_classes: number of classes of the head.
        spatial_dims: 1 for signals (N, C, L), 2 for images (N, C, H, W), 3 for volumes.
        widths: output channels of each stage.
        depths: number of units in each stage.
        strides: stride of the first unit of each stage.
        stem_channels: channels of the stem convolution.
        stem_kernel: kernel size of the stem convolution.
        stem_stride: stride of the stem convolution.
        stem_pool: add a 3-wide max pool of stride 2 after the stem (ImageNet-style stems).
        block: ``"basic"`` (two convolutions, the paper's RSBU) or ``"bottleneck"``.
        gate: ``"cw"`` / ``"cs"`` (shrinkage: DRSN-CW / DRSN-CS), ``"ew"`` (shrinkage with a
            threshold per position), ``"se"`` or None.
        gate_reduction: hidden width of the gate's sub-network is ``channels / gate_reduction``.
        shortcut: ``"pad"`` (the paper's), ``"conv"`` (1x1 projection) or ``"none"`` (ConvNet).
        kernel_size: kernel size of the units' convolutions.
        conv_bias: whether convolutions have a bias (the authors' code: yes).
        act: activation name (``relu``, ``gelu``, ``silu``, ``elu``, or ``aprelu``: APReLU in
            place of every activation of the units and the head; the gates keep their ReLU).
        drop_rate: dropout before the classifier.
        init: ``"torch"`` (PyTorch's layer defaults; the default, decided by measurement) or
            ``"he_normal"`` (the authors' code); see :data:`INITS`.
        stack: train this many independent copies side by side as one network of grouped
            convolutions (input (N, stack*in_channels, ...), output (N, stack, num_classes));
            see :mod:`deepshrink.models.stacked`. 1 is an ordinary network.
        shrink: the shrinkage gates' function under the threshold: ``"soft"`` (the paper's),
            ``"hard"``, ``"garrote"`` or ``"firm"``; only with a shrinkage gate.
        firm_ratio: ``tau2 / tau1`` of ``shrink="firm"``, in (1, 1000]; only with it.
        threshold: ``"mean"`` (the paper's ``alpha * mean|x|``) or ``"mad"`` (``alpha`` times the
            MAD universal threshold); only with a shrinkage gate.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 8,
        *,
        spatial_dims: int = 1,
        widths: Sequence[int] = (4, 8, 16),
        depths: Sequence[int] = (4, 4, 4),
        strides: Sequence[int] = (2, 2, 2),
        stem_channels: int = 4,
        stem_kernel: int = 3,
        stem_stride: int = 2,
        stem_pool: bool = False,
        block: str = "basic",
        gate: str | None = "cw",
        gate_reduction: float = 1.0,
        shortcut: str = "pad",
        kernel_size: int = 3,
        conv_bias: bool = True,
        act: str = "relu",
        drop_rate: float = 0.0,
        init: str = "torch",
        stack: int = 1,
        shrink: str = "soft",
        firm_ratio: float = 2.0,
        threshold: str = "mean",
    ) -> None:
        super().__init__()
        # every argument as a plain value (lists, not tuples): checked once here, and kept as
        # ``config`` so the model is rebuilt exactly from it (config.json)
        config = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in locals().items() if k in MODEL_ARGUMENTS}
        check_model_config(config, "ResidualNet")  # types, ranges, one entry per stage, odd kernels
        _check_choice("block", block, list(BLOCKS))
        _check_choice("shortcut", shortcut, SHORTCUTS)
        _check_choice("act", act, list(ACTIVATIONS))
        _check_choice("init", init, INITS)
        widths, depths, strides = list(widths), list(depths), list(strides)
        gate_factory = gate_layer(gate, gate_reduction, shrink, firm_ratio, threshold)
        conv = conv_nd(spatial_dims)
        act_layer = ACTIVATIONS[act]
        self.config: dict[str, Any] = config
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.stack = stack

        self.stem = _stem(conv, in_channels, stem_channels, stem_kernel, stem_stride, stem_pool, conv_bias, spatial_dims,
                          stack)  # fmt: skip

        unit = BLOCKS[block]
        stages: list[nn.Module] = []
        channels = stem_channels
        for width, depth, stride in zip(widths, depths, strides):
            units = []
            for i in range(depth):
                units.append(
                    unit(
                        channels, width, stride if i == 0 else 1, spatial_dims=spatial_dims,
                        kernel_size=kernel_size, gate_layer=gate_factory, shortcut=shortcut,
                        act_layer=act_layer, bias=conv_bias, stack=stack,
                    )
                )  # fmt: skip
                channels = width
            stages.append(nn.Sequential(*units))
        self.stages = nn.Sequential(*stages)
        # the input's downsampling: training refuses shorter windows (the last stage would see padding only)
        self.total_stride = int(stem_stride * (2 if stem_pool else 1) * math.prod(strides))
        self.num_features = channels
        self.final_norm = norm_nd(spatial_dims)(channels * stack)
        self.final_act = make_act(act_layer, channels, stack)
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = linear(channels, num_classes, stack)
        if init == "he_normal":
            self._init_he_normal()

    def _init_he_normal(self) -> None:
        # Variance scaling (He et al.), as the authors' code uses for its kernels. ``torch`` needs
        # nothing here: every layer was initialised by PyTorch when it was built.
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before pooling: (N, num_features, *spatial)."""
        if not torch.jit.is_tracing() and (x.dim() != self.spatial_dims + 2 or x.shape[1] != self.in_channels * self.stack):
            raise ShapeError(
                f"expected input of shape (N, C{', L' if self.spatial_dims == 1 else ', *spatial'}) with "
                f"{self.spatial_dims + 2} dims and C = {self.in_channels * self.stack}, got shape {tuple(x.shape)}"
            )
        x = self.stages(self.stem(x))
        return self.final_act(self.final_norm(x))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool the feature map and classify; ``pre_logits=True`` returns the pooled features."""
        x = self.head_drop(x.flatten(2).mean(-1))
        if pre_logits:
            return x
        x = self.fc(x)
        return x if self.stack == 1 else x.unflatten(1, (self.stack, self.num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head for a new number of classes (fine-tuning)."""
        self.fc = linear(self.num_features, num_classes, self.stack)
        self.num_classes = num_classes
        self.config["num_classes"] = num_classes

    def save_pretrained(self, directory: str, **kwargs: Any) -> Any:
        """Write ``config.json`` + ``model.safetensors``; see :func:`deepshrink.serialization.save_pretrained`."""
        return save_pretrained(self, directory, **kwargs)

    @torch.no_grad()
    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


# ---------------------------------------------------------------------- argument checks
# The arguments of ResidualNet by name, type (from its signature) and range: checked before torch
# sees them, by ResidualNet itself, create_model, configs and config.json files.
MODEL_ARGUMENTS = [p for p in inspect.signature(ResidualNet).parameters]

# Ranges of the numeric ResidualNet arguments (the types come from its signature): (low, high,
# low_inclusive, high_inclusive). Upper bounds are far above any sensible network and only
# stop typos (a width of 10**9) from reaching torch as an allocation failure.
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    **COMMON_RANGES,
    "spatial_dims": (1, 3, True, True),
    "widths": (1, MAX_CHANNELS, True, True),
    "depths": (1, 1024, True, True),
    "strides": (1, 1024, True, True),
    "stem_channels": (1, MAX_CHANNELS, True, True),
    "stem_kernel": (1, 1023, True, True),
    "stem_stride": (1, 1024, True, True),
    "kernel_size": (1, 1023, True, True),
    "gate_reduction": (0, MAX_CHANNELS, False, True),
    "firm_ratio": (1, 1e3, False, True),
}

# Arguments with a fixed set of values checked by check_model_args (the others by ResidualNet).
_CHOICES: dict[str, Sequence[Any]] = {"shrink": SHRINKS, "threshold": THRESHOLDS}
_DEFAULTS = {p.name: p.default for p in inspect.signature(ResidualNet).parameters.values()}


def check_model_args(args: Mapping[str, Any], where: str = "model arguments") -> None:
    """Check :class:`ResidualNet` arguments by name, type and range, before torch sees them.

    Args:
        args: argument name -> value (a subset is fine: a preset fills the rest).
        where: what the arguments came from (a file, ``--model-arg``), for the message.

    Raises:
        ConfigError: an unknown argument, or a value of the wrong type or out of range; the
            message names ``where``, the argument and the value.
    """
    check_arguments(ResidualNet, _RANGES, args, where)
    for name, choices in _CHOICES.items():
        if name in args and args[name] not in choices:
            raise ConfigError(f"{where}: model argument {name!r} must be one of {list(choices)}, got {describe_value(args[name])}")


def check_model_config(args: Mapping[str, Any], where: str = "model arguments") -> None:
    """Check a full set of :class:`ResidualNet` arguments, each one and how they fit together.

    Besides :func:`check_model_args`: one width, depth and stride per stage, odd kernel sizes,
    no stage narrower than the one before with the paper's zero-padding shortcut, and the
    shrinkage options (``shrink``, ``threshold``, ``firm_ratio``) only where they act: a
    non-default value with no shrinkage gate (or ``firm_ratio`` without ``shrink="firm"``) is an
    error, not silently ignored.

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
    _check_shrinkage_options(args, where)


def _check_shrinkage_options(args: Mapping[str, Any], where: str) -> None:
    """A shrinkage option with no effect is a mistake: say so instead of ignoring it."""
    value = {k: args.get(k, _DEFAULTS[k]) for k in ("gate", "shrink", "threshold", "firm_ratio")}
    if value["gate"] not in SHRINKAGE_MODES:
        for key in ("shrink", "threshold"):
            if value[key] != _DEFAULTS[key]:
                raise ConfigError(
                    f"{where}: model argument {key}={value[key]!r} needs a shrinkage gate "
                    f"('cw', 'cs' or 'ew'), got gate={value['gate']!r}"
                )
    if value["firm_ratio"] != _DEFAULTS["firm_ratio"] and value["shrink"] != "firm":
        raise ConfigError(
            f"{where}: model argument firm_ratio={value['firm_ratio']!r} only applies to shrink='firm', "
            f"got shrink={value['shrink']!r}"
        )
