"""What the baselines share: stacked convolution and BatchNorm, the head, the input checks, Keras' initialisation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from deepshrink.errors import ConfigError, ShapeError
from deepshrink.layers.gates import StackedLinear, linear
from deepshrink.models.arguments import COMMON_RANGES, argument_names, check_arguments
from deepshrink.models.saving import save_pretrained

# torch notes once per process that 'same' padding of an even kernel (8, 40, ...) copies the input
# to pad it unevenly: that is the references' padding, and the note is not the user's to act on.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel", category=UserWarning)

BASELINE_INITS = ("torch", "glorot_uniform")
"""``torch``: PyTorch's layer defaults (as :class:`ResidualNet`); ``glorot_uniform``: the Keras
reference code's (Glorot-uniform weights, zero biases)."""


# ---------------------------------------------------------------------------- shared parts
def conv(in_channels: int, out_channels: int, kernel_size: int, stack: int, *, padding: int | str = 0,
          stride: int = 1, bias: bool = True) -> nn.Conv1d:  # fmt: skip
    """``stack`` independent Conv1d layers as one grouped convolution (slices follow each other on dim 0)."""
    return nn.Conv1d(
        in_channels * stack, out_channels * stack, kernel_size,
        stride=stride, padding=padding, bias=bias, groups=stack,
    )  # fmt: skip


def norm(channels: int, stack: int) -> nn.BatchNorm1d:
    """Per-channel BatchNorm over all slices: each slice keeps its own statistics."""
    return nn.BatchNorm1d(channels * stack)


def config_of(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of ``cls`` from ``values`` (``locals()``), sequences as lists."""
    return {k: list(values[k]) if isinstance(values[k], (list, tuple)) else values[k] for k in argument_names(cls)}


def check_choice(where: str, args: Mapping[str, Any], name: str, choices: Sequence[Any]) -> None:
    if name in args and args[name] not in choices:
        raise ConfigError(f"{where}: model argument {name!r} must be one of {list(choices)}, got {args[name]!r}")


def check_same_length(where: str, args: Mapping[str, Any], first: str, second: str) -> None:
    if first in args and second in args and len(args[first]) != len(args[second]):
        raise ConfigError(
            f"{where}: model arguments {first!r} and {second!r} need one entry per layer, "
            f"got {list(args[first])} and {list(args[second])}"
        )


def init_glorot_uniform(model: nn.Module) -> None:
    # Keras' default (the reference code): fans of one slice, so a stacked network draws like S
    # separate ones.
    for m in model.modules():
        if isinstance(m, nn.Conv1d):
            k = m.weight.shape[-1]
            fan_in, fan_out = m.weight.shape[1] * k, m.weight.shape[0] // m.groups * k
        elif isinstance(m, (nn.Linear, StackedLinear)):
            fan_out, fan_in = m.weight.shape[-2], m.weight.shape[-1]
        else:
            continue
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        nn.init.uniform_(m.weight, -bound, bound)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class Baseline(nn.Module):
    """The protocol :class:`ResidualNet` follows, shared by the baselines.

    Subclasses build ``self.fc`` (the classifier on ``num_features`` pooled features per slice),
    ``self.head_drop`` and :meth:`forward_features`; the head here is GAP -> dropout -> FC.
    """

    arch: str = ""
    spatial_dims = 1
    config: dict[str, Any]
    in_channels: int
    num_classes: int
    stack: int
    num_features: int
    fc: nn.Module
    head_drop: nn.Module

    def _setup(self, config: dict[str, Any], check: Callable[[Mapping[str, Any], str], None]) -> None:
        check(config, type(self).__name__)
        self.config = {**config, "arch": self.arch}
        self.in_channels = config["in_channels"]
        self.num_classes = config["num_classes"]
        self.stack = config["stack"]

    @property
    def _slices(self) -> int:
        """Networks side by side inside (InceptionTime's ensemble members count too)."""
        return self.stack

    def _head(self, num_features: int, num_classes: int, drop_rate: float, slices: int, init: str) -> None:
        """The head on ``num_features`` pooled features (dropout, FC of ``slices`` networks), then
        the reference's weight initialisation of the whole network with ``init="glorot_uniform"``."""
        self.num_features = num_features
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = linear(num_features, num_classes, slices)
        if init == "glorot_uniform":
            init_glorot_uniform(self)

    def _check_input(self, x: Tensor) -> None:
        if torch.jit.is_tracing():
            return
        name, channels = type(self).__name__, self.in_channels * self.stack
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[1] != channels:
            got = f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(f"{name}: expected input of shape (N, C, L) with 3 dims and C = {channels}, got {got}")
        if not x.is_floating_point():
            raise ShapeError(f"{name}: expected a floating-point input, got dtype {x.dtype}")
        self._check_length(int(x.shape[-1]))

    def _check_length(self, length: int) -> None:
        if length < 1:
            raise ShapeError(f"{type(self).__name__} admits any input length >= 1, got {length}")

    def _logits(self, x: Tensor) -> Tensor:
        """(N, S*K) -> (N, K) for one network, (N, S, K) for a stack."""
        return x if self.stack == 1 else x.unflatten(1, (self.stack, self.num_classes))

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before the head: (N, stack*channels, L')."""
        raise NotImplementedError

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool the feature map and classify; ``pre_logits=True`` returns the pooled features."""
        x = self.head_drop(x.mean(-1))
        return x if pre_logits else self._logits(self.fc(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier for a new number of classes (fine-tuning)."""
        where = f"{type(self).__name__}.reset_classifier"
        check_arguments(type(self), COMMON_RANGES, {"num_classes": num_classes}, where)
        ref = next(self.fc.parameters())
        self.fc = linear(self.num_features, num_classes, self._slices).to(device=ref.device, dtype=ref.dtype)
        self.num_classes = num_classes
        self.config["num_classes"] = num_classes

    def save_pretrained(self, directory: str, **kwargs: Any) -> Any:
        """Write ``config.json`` + ``model.safetensors``; see :func:`deepshrink.models.saving.save_pretrained`."""
        return save_pretrained(self, directory, **kwargs)

    @torch.no_grad()
    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
