"""WDCNN (Zhang et al., Sensors 2017): the standard 1-D CNN for bearing faults under noise."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from deepshrink.checks import MAX_CHANNELS
from deepshrink.errors import ConfigError, ShapeError
from deepshrink.layers.gates import linear
from deepshrink.models.arguments import COMMON_RANGES, Range, check_arguments
from deepshrink.models.baselines._base import BASELINE_INITS, Baseline, check_choice, config_of, conv, norm

__all__ = ["WDCNN", "WDCNN_RANGES", "check_wdcnn_config", "wdcnn_output_length"]

WDCNN_RANGES: dict[str, Range] = {
    **COMMON_RANGES,
    "input_length": (1, 1 << 30, True, True),
    "first_channels": (1, MAX_CHANNELS, True, True),
    "first_kernel": (1, 1 << 16, True, True),
    "first_stride": (1, 1 << 16, True, True),
    "widths": (1, MAX_CHANNELS, True, True),
    "kernel_size": (1, 1023, True, True),
    "hidden_features": (1, 1 << 20, True, True),
}


def _same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding (before, after): output ceil(length / stride)."""
    total = max((math.ceil(length / stride) - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


def wdcnn_output_length(input_length: int, first_stride: int = 16, num_blocks: int = 4, kernel_size: int = 3) -> int:
    """Length of WDCNN's last feature map (3 for the paper's 2048), 0 or less if the input is too short.

    'same' first convolution (ceil(L / stride)), a max-pool of 2 after every convolution, the
    last convolution 'valid' (Table 1 of the paper).
    """
    length = math.ceil(input_length / first_stride) // 2
    for _ in range(num_blocks - 1):
        length //= 2
    return (length - kernel_size + 1) // 2


def _wdcnn_min_length(first_stride: int, num_blocks: int, kernel_size: int) -> int:
    low, high = 1, 1 << 40  # the output length grows with the input: bisect for the shortest that works
    while low < high:
        mid = (low + high) // 2
        if wdcnn_output_length(mid, first_stride, num_blocks, kernel_size) >= 1:
            high = mid
        else:
            low = mid + 1
    return low


def check_wdcnn_config(args: Mapping[str, Any], where: str = "WDCNN arguments") -> None:
    """Check :class:`WDCNN` arguments (a subset is fine); rules across arguments apply when all are given.

    Raises:
        ConfigError: an unknown argument, a wrong type or range, or an input too short for the
            stack of pools; the message names ``where`` and the argument.
    """
    check_arguments(WDCNN, WDCNN_RANGES, args, where)
    check_choice(where, args, "init", BASELINE_INITS)
    keys = ("input_length", "first_stride", "widths", "kernel_size")
    if all(k in args for k in keys):
        n, s1, blocks, k = (args[key] for key in keys)
        if wdcnn_output_length(n, s1, len(blocks), k) < 1:
            least = _wdcnn_min_length(s1, len(blocks), k)
            raise ConfigError(
                f"{where}: model argument 'input_length' {n} is too short for a first stride of {s1} and "
                f"{len(blocks) + 1} max-pools of 2 (the last convolution 'valid'); it needs at least {least}"
            )


class WDCNN(Baseline):
    """WDCNN (Zhang et al., Sensors 2017, Table 1): a wide strided first convolution, then small ones.

    The wide first kernel (64, stride 16) acts as a learned low-pass filter on the raw vibration
    signal; four 3-wide convolutions follow, each with BatchNorm, ReLU and a max-pool of 2, the last
    one 'valid'. The flattened map (3 x 64 for 2048 samples) feeds FC 100 -> BN -> ReLU -> FC.
    The FC layer's size depends on the input, so the network admits one input length only.

    Args:
        in_channels: input channels (sensor axes).
        num_classes: number of classes.
        input_length: the one input length the network admits (the paper: 2048).
        first_channels: filters of the first convolution (16).
        first_kernel: kernel of the first convolution (64), 'same' padding as in Keras.
        first_stride: stride of the first convolution (16).
        widths: filters of the 3-wide convolutions (32, 64, 64, 64); the last one is 'valid'.
        kernel_size: kernel of those convolutions (3).
        hidden_features: width of the hidden FC layer (100).
        hidden_norm: BatchNorm after the hidden FC layer (the paper puts BN after every
            convolutional and FC layer, which its AdaBN adaptation relies on; popular Keras
            re-implementations omit it).
        drop_rate: dropout before the classifier.
        init: ``"torch"`` or ``"glorot_uniform"`` (Keras'); see :data:`BASELINE_INITS`.
        stack: this many independent networks side by side (:mod:`deepshrink.models.stacked`).
    """

    arch = "wdcnn"

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 8,
        *,
        input_length: int = 2048,
        first_channels: int = 16,
        first_kernel: int = 64,
        first_stride: int = 16,
        widths: Sequence[int] = (32, 64, 64, 64),
        kernel_size: int = 3,
        hidden_features: int = 100,
        hidden_norm: bool = True,
        drop_rate: float = 0.0,
        init: str = "torch",
        stack: int = 1,
    ) -> None:
        super().__init__()
        self._setup(config_of(WDCNN, locals()), check_wdcnn_config)
        self.input_length = input_length
        widths = list(widths)
        s = stack
        self.stem = nn.Sequential(
            nn.ConstantPad1d(_same_padding(input_length, first_kernel, first_stride), 0.0),
            conv(in_channels, first_channels, first_kernel, s, stride=first_stride),
            norm(first_channels, s),
            nn.ReLU(),
            nn.MaxPool1d(2),
        )
        blocks, channels = [], first_channels
        for i, width in enumerate(widths):
            padding: int | str = 0 if i == len(widths) - 1 else "same"
            layer = conv(channels, width, kernel_size, s, padding=padding)
            blocks.append(nn.Sequential(layer, norm(width, s), nn.ReLU(), nn.MaxPool1d(2)))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.feature_length = wdcnn_output_length(input_length, first_stride, len(widths), kernel_size)
        # (N, S*C, L').flatten(1) keeps each slice's C*L' features together: slice-major already
        self.fc1 = linear(channels * self.feature_length, hidden_features, s)
        self.fc1_norm = norm(hidden_features, s) if hidden_norm else nn.Identity()
        self.fc1_act = nn.ReLU()
        self._head(hidden_features, num_classes, drop_rate, s, init)

    def _check_length(self, length: int) -> None:
        if length != self.input_length:
            raise ShapeError(
                f"WDCNN admits input length {self.input_length} only (its FC layer is sized for it), got {length}; "
                f"build it with input_length={length} for such inputs"
            )

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before the FC layers: (N, stack*widths[-1], feature_length)."""
        self._check_input(x)
        return self.blocks(self.stem(x))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Flatten, hidden FC layer, classify; ``pre_logits=True`` returns the hidden features."""
        x = self.head_drop(self.fc1_act(self.fc1_norm(self.fc1(x.flatten(1)))))
        return x if pre_logits else self._logits(self.fc(x))
