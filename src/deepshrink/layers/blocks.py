"""Pre-activation residual units; with a :class:`~deepshrink.layers.Shrinkage` gate they are RSBUs.

The residual shrinkage building unit (RSBU) of Zhao et al. (2020), as in the authors' code::

    r = Conv(ReLU(BN(Conv(ReLU(BN(x)), stride s))))     residual branch, pre-activation
    r = gate(r)                                         soft thresholding (or SE, or nothing)
    out = r + shortcut(x)                               no ReLU after the addition

The default shortcut is the paper's: subsample by the stride and zero-pad new channels (half
on each side), which adds no parameters. A 1x1 projection is the alternative, and ``"none"``
drops the shortcut to give the plain ConvNet baseline. Blocks are parameterised by the number of
spatial dims, so one class serves signals (N, C, L), images (N, C, H, W) and volumes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from deepshrink.checks import MAX_CHANNELS, positive_int
from deepshrink.errors import ConfigError
from deepshrink.layers.activations import make_act
from deepshrink.layers.gates import Shrinkage, build_gate, check_input

__all__ = ["BasicBlock", "BottleneckBlock", "PadShortcut", "conv_nd", "norm_nd", "make_shortcut", "SHORTCUTS"]

SHORTCUTS = ("pad", "conv", "none")


def conv_nd(spatial_dims: int) -> type[nn.Module]:
    """The ConvNd class for 1, 2 or 3 spatial dims."""
    if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int) or spatial_dims not in (1, 2, 3):
        raise ConfigError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")  # 1.0 and True too
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[spatial_dims]


def norm_nd(spatial_dims: int) -> type[nn.Module]:
    """The BatchNormNd class for 1, 2 or 3 spatial dims."""
    conv_nd(spatial_dims)  # validates
    return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[spatial_dims]


class PadShortcut(nn.Module):
    """The paper's parameter-free shortcut: subsample by ``stride``, zero-pad new channels.

    The authors' code subsamples with a 1x1 average pool of stride 2, which keeps every
    ``stride``-th sample; the extra ``out - in`` channels are zeros, ``(out - in) // 2`` before
    the existing ones and the rest after.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, spatial_dims: int = 1, stack: int = 1
    ) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ConfigError(
                f"shortcut='pad' cannot reduce channels ({in_channels} -> {out_channels}); use shortcut='conv'"
            )
        self.stride = stride
        self.spatial_dims = spatial_dims
        self.stack = stack
        self.in_channels = in_channels
        self.pad_before = (out_channels - in_channels) // 2
        self.pad_after = out_channels - in_channels - self.pad_before

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[(slice(None), slice(None)) + (slice(None, None, self.stride),) * self.spatial_dims]
        if self.pad_before or self.pad_after:
            if self.stack > 1:  # pad each stacked network's channels separately
                x = x.unflatten(1, (self.stack, self.in_channels))
            x = F.pad(x, (0, 0) * self.spatial_dims + (self.pad_before, self.pad_after))
            x = x.flatten(1, 2) if self.stack > 1 else x
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_before}, {self.pad_after})"


def make_shortcut(
    kind: str, in_channels: int, out_channels: int, stride: int, spatial_dims: int, stack: int = 1
) -> nn.Module | None:
    """Build the shortcut of a block: ``"pad"`` (the paper's), ``"conv"`` (1x1 projection) or ``"none"``.

    Returns None for ``"none"`` (a plain ConvNet block adds nothing) and an identity where the
    shape does not change.
    """
    if kind not in SHORTCUTS:
        raise ConfigError(f"shortcut must be one of {SHORTCUTS}, got {kind!r}")
    if kind == "none":
        return None
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "pad":
        return PadShortcut(in_channels, out_channels, stride, spatial_dims, stack)
    return conv_nd(spatial_dims)(
        in_channels * stack, out_channels * stack, kernel_size=1, stride=stride, bias=False, groups=stack
    )


class _ResidualUnit(nn.Module):
    """Shared forward of the residual units: branch, gate, then add the shortcut (no ReLU).

    A :class:`Shrinkage` gate takes the shortcut as ``residual`` and fuses the addition into
    its soft thresholding; other gates are followed by a plain addition.
    """

    branch: nn.Module
    gate: nn.Module
    shortcut: nn.Module | None

    in_channels: int
    stack: int
    expansion: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        spatial_dims: int = 1,
        kernel_size: int = 3,
        gate_layer: Callable[[int], nn.Module] | None = None,
        shortcut: str = "pad",
        norm_layer: Callable[[int], nn.Module] | None = None,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        bias: bool = True,
        stack: int = 1,
    ) -> None:
        super().__init__()
        _check_block_args(type(self).__name__, in_channels, out_channels, stride, spatial_dims, kernel_size,
                          gate_layer, shortcut, norm_layer, act_layer, bias, stack)  # fmt: skip
        self.in_channels, self.stack = in_channels, stack
        convs = self._convs(in_channels, out_channels, kernel_size, stride)
        norm, conv = norm_layer or norm_nd(spatial_dims), conv_nd(spatial_dims)
        # built in this order (branch, gate, shortcut): the order the initialisation draws in
        self.branch = nn.Sequential(*[m for c in convs for m in _preact_conv(norm, act_layer, conv, *c, bias, stack)])
        self.gate = build_gate(gate_layer, out_channels, stack)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, spatial_dims, stack)

    def _convs(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> list[tuple[int, int, int, int]]:
        """The branch's pre-activation convolutions: (in, out, kernel, stride) each."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        check_input(type(self).__name__, x, self.in_channels * self.stack)
        out = self.branch(x)
        if self.shortcut is None:
            return self.gate(out)
        if isinstance(self.gate, Shrinkage):
            return self.gate(out, residual=self.shortcut(x))
        return self.gate(out) + self.shortcut(x)


def _preact_conv(
    norm: Callable[[int], nn.Module],
    act: Callable[..., nn.Module],
    conv: type[nn.Module],
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int,
    bias: bool,
    stack: int,
) -> list[nn.Module]:
    return [
        norm(in_channels * stack),
        make_act(act, in_channels, stack),
        conv(
            in_channels * stack, out_channels * stack, kernel_size,
            stride=stride, padding=kernel_size // 2, bias=bias, groups=stack,
        ),
    ]  # fmt: skip


def _check_block_args(owner: str, in_channels: object, out_channels: object, stride: object, spatial_dims: object,
                      kernel_size: object, gate_layer: object, shortcut: object, norm_layer: object,
                      act_layer: object, bias: object, stack: object) -> None:  # fmt: skip
    """Validate a residual unit's arguments before torch sees them (ConfigError naming the argument)."""
    positive_int(f"{owner}: in_channels", in_channels, MAX_CHANNELS)
    positive_int(f"{owner}: out_channels", out_channels, MAX_CHANNELS)
    positive_int(f"{owner}: stride", stride, 1024)
    positive_int(f"{owner}: kernel_size", kernel_size, 1023)
    positive_int(f"{owner}: stack", stack, 4096)
    if kernel_size % 2 == 0:  # type: ignore[operator]
        raise ConfigError(f"{owner}: kernel_size must be odd ('same' padding), got {kernel_size}")
    if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int) or spatial_dims not in (1, 2, 3):
        raise ConfigError(f"{owner}: spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
    if not isinstance(shortcut, str) or shortcut not in SHORTCUTS:
        raise ConfigError(f"{owner}: shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
    for name, layer in (("gate_layer", gate_layer), ("norm_layer", norm_layer)):
        if layer is not None and not callable(layer):
            raise ConfigError(f"{owner}: {name} must be a layer class or callable, or None, got {layer!r}")
    if not callable(act_layer):
        raise ConfigError(f"{owner}: act_layer must be a layer class (e.g. nn.ReLU), got {act_layer!r}")
    if not isinstance(bias, bool):
        raise ConfigError(f"{owner}: bias must be true or false, got {bias!r}")


class BasicBlock(_ResidualUnit):
    """Pre-activation unit of two KxK convolutions; with a Shrinkage gate it is the paper's RSBU.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first convolution (and of the shortcut).
        spatial_dims: 1 for signals, 2 for images, 3 for volumes.
        kernel_size: odd kernel size ('same' padding).
        gate_layer: callable ``gate_layer(channels) -> nn.Module`` applied to the end of the
            residual branch (``Shrinkage``, ``SqueezeExcite``), or None.
        shortcut: ``"pad"``, ``"conv"`` or ``"none"`` (see :func:`make_shortcut`).
        norm_layer: ``norm_layer(channels)``; BatchNorm of the right dims by default.
        act_layer: activation class; one with a true ``per_channel`` attribute (e.g.
            :class:`~deepshrink.layers.activations.APReLU`) is built with the channel count.
        bias: whether convolutions have a bias (the authors' code: yes).
        stack: number of independent units side by side as grouped convolutions
            (input ``stack * in_channels`` channels; see :mod:`deepshrink.models.stacked`).
    """

    expansion = 1

    def _convs(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> list[tuple[int, int, int, int]]:
        return [(in_channels, out_channels, kernel_size, stride), (out_channels, out_channels, kernel_size, 1)]


class BottleneckBlock(_ResidualUnit):
    """Pre-activation bottleneck unit (1x1 reduce, KxK, 1x1 expand) for the deep presets.

    Same arguments as :class:`BasicBlock`; the inner width is ``out_channels // expansion``.
    """

    expansion = 4

    def _convs(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> list[tuple[int, int, int, int]]:
        mid = max(1, out_channels // self.expansion)
        return [(in_channels, mid, 1, 1), (mid, mid, kernel_size, stride), (mid, out_channels, 1, 1)]
