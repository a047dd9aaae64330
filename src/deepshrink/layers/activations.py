"""APReLU: the adaptively parametric ReLU of Zhao et al. (2021), an activation with a learned slope.

M. Zhao, S. Zhong, X. Fu, B. Tang, S. Dong, M. Pecht, "Deep residual networks with adaptively
parametric rectifier linear units for fault diagnosis", IEEE Trans. Industrial Electronics
68(3), 2021 (the authors' code: zhao62/Adaptively-Parametric-ReLU)::

    v     = [GAP(min(x, 0)), GAP(max(x, 0))]                     (N, 2C)
    alpha = sigmoid(BN(FC(ReLU(BN(FC(v))))))                     (N, C), FC 2C->C, then C->C
    y     = max(x, 0) + alpha * min(x, 0)

The same sub-network as the shrinkage gate, fed with both halves of the signal: each sample
chooses how much of its negative features to keep, per channel. Used in place of ReLU in a
pre-activation ResNet (``ResidualNet(act="aprelu")``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from deepshrink.functional import parametric_relu
from deepshrink.layers.gates import check_gate_args, check_input, linear, move_gate

__all__ = ["APReLU", "make_act"]


class APReLU(nn.Module):
    """Adaptively parametric ReLU: ``max(x, 0) + alpha * min(x, 0)``, alpha in (0, 1) per sample and channel.

    Like the gates, the first positional argument is the channel count and the input is
    (N, C, *spatial) with any number of spatial dims; ``stack`` > 1 runs that many independent
    activations side by side (input ``stack * channels`` channels, one ordinary APReLU per slice).

    Args:
        channels: number of input channels C.
        reduction: hidden width is ``channels / reduction`` (the authors: 1).
        hidden_channels: explicit hidden width, overrides ``reduction``.
        norm_layer: normalisation after each FC (the authors: BatchNorm), or None.
        act_layer: activation of the hidden layer.
        stack: number of independent networks side by side.
        device, dtype: where to create the parameters.
    """

    per_channel = True  # built as act_layer(channels) by the residual units (see make_act)

    def __init__(
        self,
        channels: int,
        reduction: float = 1.0,
        hidden_channels: int | None = None,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        stack: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        hidden = check_gate_args("APReLU", channels, reduction, hidden_channels, norm_layer, act_layer, stack)
        self.channels, self.stack = channels, stack
        self.fc1 = linear(2 * channels, hidden, stack)
        self.norm1 = norm_layer(hidden * stack) if norm_layer is not None else nn.Identity()
        self.act = act_layer()
        self.fc2 = linear(hidden, channels, stack)
        self.norm2 = norm_layer(channels * stack) if norm_layer is not None else nn.Identity()
        move_gate(self, "APReLU", device, dtype)

    def slopes(self, x: Tensor) -> Tensor:
        """alpha for ``x``: (N, S*C), in (0, 1)."""
        n, s, c = x.shape[0], self.stack, self.channels
        neg = x.clamp(max=0).flatten(2).mean(-1).reshape(n, s, c)
        pos = x.clamp(min=0).flatten(2).mean(-1).reshape(n, s, c)
        v = torch.cat([neg, pos], dim=2).reshape(n, s * 2 * c)  # [neg, pos] per network, as the authors
        return torch.sigmoid(self.norm2(self.fc2(self.act(self.norm1(self.fc1(v))))))

    def forward(self, x: Tensor) -> Tensor:
        check_input("APReLU", x, self.channels * self.stack)
        alpha = self.slopes(x)
        return parametric_relu(x, alpha.to(x.dtype).reshape(alpha.shape + (1,) * (x.dim() - 2)))

    def extra_repr(self) -> str:
        return f"{self.channels}"


def make_act(act_layer: Callable[..., nn.Module], channels: int, stack: int = 1) -> nn.Module:
    """Build an activation: ``act_layer()``, or ``act_layer(channels)`` for a per-channel one such as APReLU.

    A layer class (or a ``functools.partial`` of one) says it needs the channel count with a
    true ``per_channel`` attribute; with ``stack`` > 1 it also gets ``stack=stack``, like a gate.
    """
    if getattr(getattr(act_layer, "func", act_layer), "per_channel", False):
        return act_layer(channels) if stack == 1 else act_layer(channels, stack=stack)
    return act_layer()
