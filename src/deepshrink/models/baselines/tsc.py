"""The time-series classification baselines of Ismail Fawaz et al.: FCN, their ResNet and InceptionTime."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepshrink.checks import MAX_CHANNELS
from deepshrink.errors import ConfigError
from deepshrink.layers.gates import GATES, Shrinkage, build_gate, gate_layer
from deepshrink.models.arguments import COMMON_RANGES, Range, check_arguments
from deepshrink.models.baselines._base import BASELINE_INITS, Baseline, check_choice, check_same_length, config_of, conv, norm

__all__ = ["FCN", "FawazResNet", "InceptionTime", "FCN_RANGES", "INCEPTION_TIME_RANGES", "check_fcn_config", "check_fawaz_resnet_config", "check_inception_time_config"]

# -------------------------------------------------------------------------------------- FCN
FCN_RANGES: dict[str, Range] = {
    **COMMON_RANGES,
    "widths": (1, MAX_CHANNELS, True, True),
    "kernel_sizes": (1, 1023, True, True),
}
"""The arguments of :class:`FCN` and :class:`FawazResNet`: layer widths and kernels."""

GATE_RANGES: dict[str, Range] = {"gate_reduction": (0, MAX_CHANNELS, False, True)}
"""The gate's hidden width is ``channels / gate_reduction`` (1: the paper's C -> C)."""


def check_fcn_config(args: Mapping[str, Any], where: str = "FCN arguments") -> None:
    """Check :class:`FCN` arguments (a subset is fine); ConfigError naming ``where`` and the argument."""
    check_arguments(FCN, FCN_RANGES, args, where)
    check_choice(where, args, "init", BASELINE_INITS)
    check_same_length(where, args, "widths", "kernel_sizes")


class FCN(Baseline):
    """Fully convolutional network of Wang et al. (2017) as in Ismail Fawaz et al. (2019).

    Three Conv -> BN -> ReLU layers (128/256/128 filters, kernels 8/5/3, 'same' padding, with
    biases), global average pooling, FC. Any input length is admitted.

    Args:
        in_channels: input channels.
        num_classes: number of classes.
        widths: filters of each convolution.
        kernel_sizes: kernel of each convolution ('same' padding; even kernels pad one more
            sample after than before, as Keras does).
        drop_rate: dropout before the classifier.
        init: ``"torch"`` or ``"glorot_uniform"`` (Keras'); see :data:`BASELINE_INITS`.
        stack: this many independent networks side by side (:mod:`deepshrink.models.stacked`).
    """

    arch = "fcn"

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 8,
        *,
        widths: Sequence[int] = (128, 256, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
        drop_rate: float = 0.0,
        init: str = "torch",
        stack: int = 1,
    ) -> None:
        super().__init__()
        self._setup(config_of(FCN, locals()), check_fcn_config)
        layers: list[nn.Module] = []
        channels = in_channels
        for width, k in zip(widths, kernel_sizes):
            layers += [conv(channels, width, k, stack, padding="same"), norm(width, stack), nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers)
        self._head(channels, num_classes, drop_rate, stack, init)

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before pooling: (N, stack*widths[-1], L)."""
        self._check_input(x)
        return self.features(x)


# ------------------------------------------------------------------------------ FawazResNet
def check_fawaz_resnet_config(args: Mapping[str, Any], where: str = "FawazResNet arguments") -> None:
    """Check :class:`FawazResNet` arguments (a subset is fine); ConfigError naming ``where`` and the argument."""
    check_arguments(FawazResNet, {**FCN_RANGES, **GATE_RANGES}, args, where)
    check_choice(where, args, "init", BASELINE_INITS)
    check_choice(where, args, "gate", [None, *GATES])


class _FawazBlock(nn.Module):
    """Post-activation residual block of the reference code: (Conv-BN-ReLU) x n, the last without
    ReLU, plus a 1x1 Conv + BN shortcut (BN only when the channel counts match), then ReLU.

    A gate (``gate_factory``) acts on the branch before the addition, as in an RSBU or an
    SE-ResNet block; a :class:`Shrinkage` gate fuses the addition into its thresholding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int], stack: int,
                 gate_factory: Callable[..., nn.Module] | None = None) -> None:  # fmt: skip
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, k in enumerate(kernel_sizes):
            layers += [conv(channels, out_channels, k, stack, padding="same"), norm(out_channels, stack)]
            if i < len(kernel_sizes) - 1:
                layers.append(nn.ReLU())
            channels = out_channels
        self.branch = nn.Sequential(*layers)
        if in_channels == out_channels:
            self.shortcut = nn.Sequential(norm(out_channels, stack))
        else:
            self.shortcut = nn.Sequential(conv(in_channels, out_channels, 1, stack), norm(out_channels, stack))
        self.gate = build_gate(gate_factory, out_channels, stack)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(self.gate, Shrinkage):
            return self.act(self.gate(self.branch(x), residual=self.shortcut(x)))
        return self.act(self.gate(self.branch(x)) + self.shortcut(x))


class FawazResNet(Baseline):
    """ResNet of Wang et al. (2017) as in Ismail Fawaz et al. (2019), the best of their review.

    Three residual blocks (64/128/128 filters) of three 'same' convolutions (kernels 8/5/3, with
    biases) with BN and ReLU; the block adds a 1x1 Conv + BN shortcut (BN only where the channel
    count does not change, as the reference's third block) and applies ReLU after the addition,
    as the reference code does. Global average pooling, FC. Any input length is admitted.
    With ``gate``, every block's branch passes a gate before the addition: ``"cw"`` makes it a
    DRSN-CW (soft thresholds learned per sample and channel), ``"se"`` an SE-ResNet.

    Args:
        in_channels: input channels.
        num_classes: number of classes.
        widths: filters of each block.
        kernel_sizes: kernels of the convolutions inside every block.
        drop_rate: dropout before the classifier.
        init: ``"torch"`` or ``"glorot_uniform"`` (Keras'); see :data:`BASELINE_INITS`.
        gate: None (the reference), or a gate of :data:`~deepshrink.layers.gates.GATES` on each
            block's branch.
        gate_reduction: the gate's hidden width is ``channels / gate_reduction``.
        stack: this many independent networks side by side (:mod:`deepshrink.models.stacked`).
    """

    arch = "fawaz_resnet"

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 8,
        *,
        widths: Sequence[int] = (64, 128, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
        drop_rate: float = 0.0,
        init: str = "torch",
        gate: str | None = None,
        gate_reduction: float = 1.0,
        stack: int = 1,
    ) -> None:
        super().__init__()
        self._setup(config_of(FawazResNet, locals()), check_fawaz_resnet_config)
        gate_factory = gate_layer(gate, gate_reduction)
        blocks, channels = [], in_channels
        for width in widths:
            blocks.append(_FawazBlock(channels, width, list(kernel_sizes), stack, gate_factory))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self._head(channels, num_classes, drop_rate, stack, init)

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before pooling: (N, stack*widths[-1], L)."""
        self._check_input(x)
        return self.blocks(x)


# ---------------------------------------------------------------------------- InceptionTime
INCEPTION_TIME_RANGES: dict[str, Range] = {
    **COMMON_RANGES,
    "depth": (1, 1024, True, True),
    "filters": (1, MAX_CHANNELS, True, True),
    "bottleneck": (0, MAX_CHANNELS, True, True),
    "kernel_size": (4, 4096, True, True),  # the three kernels are k, k/2, k/4: all at least 1
    "ensemble": (1, 64, True, True),
}


def check_inception_time_config(args: Mapping[str, Any], where: str = "InceptionTime arguments") -> None:
    """Check :class:`InceptionTime` arguments (a subset is fine); ConfigError naming ``where`` and the argument."""
    check_arguments(InceptionTime, {**INCEPTION_TIME_RANGES, **GATE_RANGES}, args, where)
    check_choice(where, args, "init", BASELINE_INITS)
    check_choice(where, args, "gate", [None, *GATES])
    most = int(COMMON_RANGES["stack"][1])
    if "stack" in args and "ensemble" in args and args["stack"] * args["ensemble"] > most:
        raise ConfigError(f"{where}: model arguments 'stack' x 'ensemble' must be at most {most} networks")


class _InceptionModule(nn.Module):
    """One inception module (reference ``_inception_module``): a 1x1 bottleneck (skipped on a
    1-channel input, as the reference does), three 'same' convolutions of kernels k, k/2, k/4 on
    it and a max-pool(3) + 1x1 convolution on the input, concatenated, BN, ReLU. No biases.
    A gate (``gate_factory``) acts between the BN and the ReLU, on the module's 4 x filters channels."""

    def __init__(self, in_channels: int, filters: int, bottleneck: int, kernel_size: int, stack: int,
                 gate_factory: Callable[..., nn.Module] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.stack, self.filters = stack, filters
        use_bottleneck = bottleneck > 0 and in_channels > 1
        self.bottleneck = conv(in_channels, bottleneck, 1, stack, bias=False) if use_bottleneck else nn.Identity()
        inner = bottleneck if use_bottleneck else in_channels
        kernels = [kernel_size // 2**i for i in range(3)]
        self.convs = nn.ModuleList(conv(inner, filters, k, stack, padding="same", bias=False) for k in kernels)
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)
        self.pool_conv = conv(in_channels, filters, 1, stack, bias=False)
        self.norm = norm(4 * filters, stack)
        self.gate = build_gate(gate_factory, 4 * filters, stack)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        z = self.bottleneck(x)
        branches = [conv(z) for conv in self.convs] + [self.pool_conv(self.pool(x))]
        # concatenate per slice: (N, S, filters, L) each -> (N, S, 4*filters, L) -> (N, S*4*filters, L)
        n, length = x.shape[0], x.shape[-1]
        out = torch.cat([b.reshape(n, self.stack, self.filters, length) for b in branches], dim=2)
        return self.act(self.gate(self.norm(out.flatten(1, 2))))


class InceptionTime(Baseline):
    """InceptionTime (Ismail Fawaz et al., DMKD 2020): inception modules with residual connections.

    ``depth`` modules of 4 x ``filters`` channels; every third module's output is added to a
    1x1 Conv + BN projection of the last residual input, then ReLU; GAP; FC. ``kernel_size`` is
    the longest kernel (40; the reference's argument 41 minus 1), the others are half and a
    quarter of it.

    The published classifier is an ensemble of 5 such networks whose softmax outputs are
    averaged. ``ensemble=E`` builds E members side by side (as extra stacked slices) and returns
    ``log(mean_e softmax(logits_e))``, the log of the ensemble's probabilities. Training through
    this output trains the members jointly (one loss on the averaged probabilities), not as E
    independent networks as the paper does; for the paper's protocol train E models with
    ``ensemble=1`` (e.g. stacked, with different seeds) and average their probabilities.

    Args:
        in_channels: input channels.
        num_classes: number of classes.
        depth: number of inception modules (6).
        filters: filters of each of the four branches (32; a module outputs 4 x filters).
        bottleneck: channels of the 1x1 bottleneck (32); 0 leaves it out.
        kernel_size: longest kernel of the three convolutions (40).
        residual: add a shortcut every third module.
        ensemble: members averaged in the output (1: a single network with plain logits);
            ``forward_head(x, pre_logits=True)`` returns the pooled features of every member.
        drop_rate: dropout before the classifier.
        init: ``"torch"`` or ``"glorot_uniform"`` (Keras'); see :data:`BASELINE_INITS`.
        gate: None (the reference), or a gate of :data:`~deepshrink.layers.gates.GATES` in
            every module, between its BN and its ReLU (``"cw"``: a DRSN-CW InceptionTime).
        gate_reduction: the gate's hidden width is ``channels / gate_reduction``.
        stack: this many independent networks (each an ensemble) side by side
            (:mod:`deepshrink.models.stacked`).
    """

    arch = "inception_time"

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 8,
        *,
        depth: int = 6,
        filters: int = 32,
        bottleneck: int = 32,
        kernel_size: int = 40,
        residual: bool = True,
        ensemble: int = 1,
        drop_rate: float = 0.0,
        init: str = "torch",
        gate: str | None = None,
        gate_reduction: float = 1.0,
        stack: int = 1,
    ) -> None:
        super().__init__()
        self._setup(config_of(InceptionTime, locals()), check_inception_time_config)
        gate_factory = gate_layer(gate, gate_reduction)
        self.ensemble, self.residual = ensemble, residual
        n = stack * ensemble  # member e of network s is internal slice s*ensemble + e
        width = 4 * filters
        modules, shortcuts = [], []
        channels = res_channels = in_channels
        for d in range(depth):
            modules.append(_InceptionModule(channels, filters, bottleneck, kernel_size, n, gate_factory))
            channels = width
            if residual and d % 3 == 2:
                shortcuts.append(nn.Sequential(conv(res_channels, width, 1, n, bias=False), norm(width, n)))
                res_channels = width
        self.blocks = nn.ModuleList(modules)
        self.shortcuts = nn.ModuleList(shortcuts)
        self.act = nn.ReLU()
        self._head(width, num_classes, drop_rate, n, init)

    @property
    def _slices(self) -> int:
        return self.stack * self.ensemble

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before pooling: (N, stack*ensemble*4*filters, L)."""
        self._check_input(x)
        if self.ensemble > 1:  # every member of a network sees that network's input
            n, length = x.shape[0], x.shape[-1]
            x = x.reshape(n, self.stack, 1, self.in_channels, length)
            x = x.expand(n, self.stack, self.ensemble, self.in_channels, length).reshape(n, -1, length)
        res = x
        for d, module in enumerate(self.blocks):
            x = module(x)
            if self.residual and d % 3 == 2:
                x = self.act(x + self.shortcuts[d // 3](res))
                res = x
        return x

    def _logits(self, x: Tensor) -> Tensor:
        if self.ensemble > 1:  # log of the members' mean probability
            x = x.reshape(x.shape[0], self.stack, self.ensemble, self.num_classes)
            x = torch.logsumexp(F.log_softmax(x, dim=-1), dim=2) - math.log(self.ensemble)
            return x.squeeze(1) if self.stack == 1 else x
        return super()._logits(x)
