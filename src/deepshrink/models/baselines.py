"""The field's baseline networks, with the same protocol as :class:`~deepshrink.models.skeleton.ResidualNet`.

* :class:`WDCNN`: Zhang, Peng, Li, Chen, Zhang, "A new deep learning model for fault diagnosis with
  good anti-noise and domain adaptation ability on raw vibration signals", Sensors 17(2):425, 2017
  (Table 1): the standard 1-D CNN for CWRU under noise.
* :class:`FCN` and :class:`FawazResNet`: Wang, Yan, Oates, "Time series classification from scratch
  with deep neural networks: a strong baseline", IJCNN 2017, as benchmarked by Ismail Fawaz et al.,
  "Deep learning for time series classification: a review", DMKD 33, 2019 (hfawaz/dl-4-tsc,
  ``classifiers/fcn.py``, ``classifiers/resnet.py``).
* :class:`InceptionTime`: Ismail Fawaz et al., "InceptionTime: finding AlexNet for time series
  classification", DMKD 34, 2020 (hfawaz/InceptionTime, ``classifiers/inception.py``).

Every argument is a plain value and ``model.config`` holds them all plus ``arch`` (the class's
short name), so a generic builder rebuilds any of them from ``config.json``. ``stack=S`` builds S
independent networks side by side exactly as :mod:`deepshrink.models.stacked` expects: grouped
convolutions and per-channel BatchNorm whose slices follow each other on dim 0, and
:class:`~deepshrink.layers.gates.StackedLinear` heads with a leading S dim; where a network
concatenates branches or flattens, each slice's channels are kept contiguous.

Convolutions and BatchNorm use PyTorch's defaults (the Keras references use Glorot-uniform
weights, zero biases and BatchNorm eps 1e-3, momentum 0.99); ``init="glorot_uniform"`` gives the
references' weight initialisation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepshrink.errors import ConfigError, ShapeError
from deepshrink.layers.gates import StackedLinear, linear
from deepshrink.checks import MAX_CHANNELS
from deepshrink.models.arguments import COMMON_RANGES, Range, argument_names, check_arguments
from deepshrink.models.saving import save_pretrained

# torch notes once per process that 'same' padding of an even kernel (8, 40, ...) copies the input
# to pad it unevenly: that is the references' padding, and the note is not the user's to act on.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel", category=UserWarning)

__all__ = [
    "WDCNN", "FCN", "FawazResNet", "InceptionTime", "BASELINES", "BASELINE_INITS",
    "WDCNN_RANGES", "FCN_RANGES", "FAWAZ_RESNET_RANGES", "INCEPTION_TIME_RANGES",
    "check_wdcnn_config", "check_fcn_config", "check_fawaz_resnet_config", "check_inception_time_config",
    "check_config", "wdcnn_output_length",
]  # fmt: skip

BASELINE_INITS = ("torch", "glorot_uniform")
"""``torch``: PyTorch's layer defaults (as :class:`ResidualNet`); ``glorot_uniform``: the Keras
reference code's (Glorot-uniform weights, zero biases)."""


# ---------------------------------------------------------------------------- shared parts
def _conv(in_channels: int, out_channels: int, kernel_size: int, stack: int, *, padding: int | str = 0,
          stride: int = 1, bias: bool = True) -> nn.Conv1d:  # fmt: skip
    """``stack`` independent Conv1d layers as one grouped convolution (slices follow each other on dim 0)."""
    return nn.Conv1d(
        in_channels * stack, out_channels * stack, kernel_size,
        stride=stride, padding=padding, bias=bias, groups=stack,
    )  # fmt: skip


def _norm(channels: int, stack: int) -> nn.BatchNorm1d:
    """Per-channel BatchNorm over all slices: each slice keeps its own statistics."""
    return nn.BatchNorm1d(channels * stack)


def _config(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of ``cls`` from ``values`` (``locals()``), sequences as lists."""
    return {k: list(values[k]) if isinstance(values[k], (list, tuple)) else values[k] for k in argument_names(cls)}


def _check_choice(where: str, args: Mapping[str, Any], name: str, choices: Sequence[Any]) -> None:
    if name in args and args[name] not in choices:
        raise ConfigError(f"{where}: model argument {name!r} must be one of {list(choices)}, got {args[name]!r}")


def _check_same_length(where: str, args: Mapping[str, Any], first: str, second: str) -> None:
    if first in args and second in args and len(args[first]) != len(args[second]):
        raise ConfigError(
            f"{where}: model arguments {first!r} and {second!r} need one entry per layer, "
            f"got {list(args[first])} and {list(args[second])}"
        )


def _init_glorot_uniform(model: nn.Module) -> None:
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


class _Baseline(nn.Module):
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


# ------------------------------------------------------------------------------------ WDCNN
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
    _check_choice(where, args, "init", BASELINE_INITS)
    keys = ("input_length", "first_stride", "widths", "kernel_size")
    if all(k in args for k in keys):
        n, s1, blocks, k = (args[key] for key in keys)
        if wdcnn_output_length(n, s1, len(blocks), k) < 1:
            least = _wdcnn_min_length(s1, len(blocks), k)
            raise ConfigError(
                f"{where}: model argument 'input_length' {n} is too short for a first stride of {s1} and "
                f"{len(blocks) + 1} max-pools of 2 (the last convolution 'valid'); it needs at least {least}"
            )


class WDCNN(_Baseline):
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
        self._setup(_config(WDCNN, locals()), check_wdcnn_config)
        self.input_length = input_length
        widths = list(widths)
        s = stack
        self.stem = nn.Sequential(
            nn.ConstantPad1d(_same_padding(input_length, first_kernel, first_stride), 0.0),
            _conv(in_channels, first_channels, first_kernel, s, stride=first_stride),
            _norm(first_channels, s),
            nn.ReLU(),
            nn.MaxPool1d(2),
        )
        blocks, channels = [], first_channels
        for i, width in enumerate(widths):
            padding: int | str = 0 if i == len(widths) - 1 else "same"
            conv = _conv(channels, width, kernel_size, s, padding=padding)
            blocks.append(nn.Sequential(conv, _norm(width, s), nn.ReLU(), nn.MaxPool1d(2)))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.feature_length = wdcnn_output_length(input_length, first_stride, len(widths), kernel_size)
        self.num_features = hidden_features
        # (N, S*C, L').flatten(1) keeps each slice's C*L' features together: slice-major already
        self.fc1 = linear(channels * self.feature_length, hidden_features, s)
        self.fc1_norm = _norm(hidden_features, s) if hidden_norm else nn.Identity()
        self.fc1_act = nn.ReLU()
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = linear(hidden_features, num_classes, s)
        if init == "glorot_uniform":
            _init_glorot_uniform(self)

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


# -------------------------------------------------------------------------------------- FCN
FCN_RANGES: dict[str, Range] = {
    **COMMON_RANGES,
    "widths": (1, MAX_CHANNELS, True, True),
    "kernel_sizes": (1, 1023, True, True),
}


def check_fcn_config(args: Mapping[str, Any], where: str = "FCN arguments") -> None:
    """Check :class:`FCN` arguments (a subset is fine); ConfigError naming ``where`` and the argument."""
    check_arguments(FCN, FCN_RANGES, args, where)
    _check_choice(where, args, "init", BASELINE_INITS)
    _check_same_length(where, args, "widths", "kernel_sizes")


class FCN(_Baseline):
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
        self._setup(_config(FCN, locals()), check_fcn_config)
        layers: list[nn.Module] = []
        channels = in_channels
        for width, k in zip(widths, kernel_sizes):
            layers += [_conv(channels, width, k, stack, padding="same"), _norm(width, stack), nn.ReLU()]
            channels = width
        self.features = nn.Sequential(*layers)
        self.num_features = channels
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = linear(channels, num_classes, stack)
        if init == "glorot_uniform":
            _init_glorot_uniform(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before pooling: (N, stack*widths[-1], L)."""
        self._check_input(x)
        return self.features(x)


# ------------------------------------------------------------------------------ FawazResNet
FAWAZ_RESNET_RANGES: dict[str, Range] = {
    **COMMON_RANGES,
    "widths": (1, MAX_CHANNELS, True, True),
    "kernel_sizes": (1, 1023, True, True),
}


def check_fawaz_resnet_config(args: Mapping[str, Any], where: str = "FawazResNet arguments") -> None:
    """Check :class:`FawazResNet` arguments (a subset is fine); ConfigError naming ``where`` and the argument."""
    check_arguments(FawazResNet, FAWAZ_RESNET_RANGES, args, where)
    _check_choice(where, args, "init", BASELINE_INITS)


class _FawazBlock(nn.Module):
    """Post-activation residual block of the reference code: (Conv-BN-ReLU) x n, the last without
    ReLU, plus a 1x1 Conv + BN shortcut (BN only when the channel counts match), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int], stack: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, k in enumerate(kernel_sizes):
            layers += [_conv(channels, out_channels, k, stack, padding="same"), _norm(out_channels, stack)]
            if i < len(kernel_sizes) - 1:
                layers.append(nn.ReLU())
            channels = out_channels
        self.branch = nn.Sequential(*layers)
        if in_channels == out_channels:
            self.shortcut = nn.Sequential(_norm(out_channels, stack))
        else:
            self.shortcut = nn.Sequential(_conv(in_channels, out_channels, 1, stack), _norm(out_channels, stack))
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.branch(x) + self.shortcut(x))


class FawazResNet(_Baseline):
    """ResNet of Wang et al. (2017) as in Ismail Fawaz et al. (2019), the best of their review.

    Three residual blocks (64/128/128 filters) of three 'same' convolutions (kernels 8/5/3, with
    biases) with BN and ReLU; the block adds a 1x1 Conv + BN shortcut (BN only where the channel
    count does not change, as the reference's third block) and applies ReLU after the addition,
    as the reference code does. Global average pooling, FC. Any input length is admitted.

    Args:
        in_channels: input channels.
        num_classes: number of classes.
        widths: filters of each block.
        kernel_sizes: kernels of the convolutions inside every block.
        drop_rate: dropout before the classifier.
        init: ``"torch"`` or ``"glorot_uniform"`` (Keras'); see :data:`BASELINE_INITS`.
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
        stack: int = 1,
    ) -> None:
        super().__init__()
        self._setup(_config(FawazResNet, locals()), check_fawaz_resnet_config)
        blocks, channels = [], in_channels
        for width in widths:
            blocks.append(_FawazBlock(channels, width, list(kernel_sizes), stack))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.num_features = channels
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = linear(channels, num_classes, stack)
        if init == "glorot_uniform":
            _init_glorot_uniform(self)

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
    check_arguments(InceptionTime, INCEPTION_TIME_RANGES, args, where)
    _check_choice(where, args, "init", BASELINE_INITS)
    most = int(COMMON_RANGES["stack"][1])
    if "stack" in args and "ensemble" in args and args["stack"] * args["ensemble"] > most:
        raise ConfigError(f"{where}: model arguments 'stack' x 'ensemble' must be at most {most} networks")


class _InceptionModule(nn.Module):
    """One inception module (reference ``_inception_module``): a 1x1 bottleneck (skipped on a
    1-channel input, as the reference does), three 'same' convolutions of kernels k, k/2, k/4 on
    it and a max-pool(3) + 1x1 convolution on the input, concatenated, BN, ReLU. No biases."""

    def __init__(self, in_channels: int, filters: int, bottleneck: int, kernel_size: int, stack: int) -> None:
        super().__init__()
        self.stack, self.filters = stack, filters
        use_bottleneck = bottleneck > 0 and in_channels > 1
        self.bottleneck = _conv(in_channels, bottleneck, 1, stack, bias=False) if use_bottleneck else nn.Identity()
        inner = bottleneck if use_bottleneck else in_channels
        kernels = [kernel_size // 2**i for i in range(3)]
        self.convs = nn.ModuleList(_conv(inner, filters, k, stack, padding="same", bias=False) for k in kernels)
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)
        self.pool_conv = _conv(in_channels, filters, 1, stack, bias=False)
        self.norm = _norm(4 * filters, stack)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        z = self.bottleneck(x)
        branches = [conv(z) for conv in self.convs] + [self.pool_conv(self.pool(x))]
        # concatenate per slice: (N, S, filters, L) each -> (N, S, 4*filters, L) -> (N, S*4*filters, L)
        n, length = x.shape[0], x.shape[-1]
        out = torch.cat([b.reshape(n, self.stack, self.filters, length) for b in branches], dim=2)
        return self.act(self.norm(out.flatten(1, 2)))


class InceptionTime(_Baseline):
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
        stack: int = 1,
    ) -> None:
        super().__init__()
        self._setup(_config(InceptionTime, locals()), check_inception_time_config)
        self.ensemble, self.residual = ensemble, residual
        n = stack * ensemble  # member e of network s is internal slice s*ensemble + e
        width = 4 * filters
        modules, shortcuts = [], []
        channels = res_channels = in_channels
        for d in range(depth):
            modules.append(_InceptionModule(channels, filters, bottleneck, kernel_size, n))
            channels = width
            if residual and d % 3 == 2:
                shortcuts.append(nn.Sequential(_conv(res_channels, width, 1, n, bias=False), _norm(width, n)))
                res_channels = width
        self.blocks = nn.ModuleList(modules)
        self.shortcuts = nn.ModuleList(shortcuts)
        self.act = nn.ReLU()
        self.num_features = width
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = linear(width, num_classes, n)
        if init == "glorot_uniform":
            _init_glorot_uniform(self)

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


# ------------------------------------------------------------------------------- dispatcher
BASELINES: dict[str, tuple[type[nn.Module], Callable[[Mapping[str, Any], str], None]]] = {
    WDCNN.arch: (WDCNN, check_wdcnn_config),
    FCN.arch: (FCN, check_fcn_config),
    FawazResNet.arch: (FawazResNet, check_fawaz_resnet_config),
    InceptionTime.arch: (InceptionTime, check_inception_time_config),
}
"""``arch`` name -> (class, check of its arguments)."""


def check_config(args: Mapping[str, Any], where: str = "model arguments") -> None:
    """Check a baseline's arguments by the ``arch`` key of ``args`` (the other keys as the class's check).

    Raises:
        ConfigError: no or an unknown ``arch``, or a bad argument; naming ``where``.
    """
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}: expected a mapping of argument name to value, got {type(args).__name__}")
    arch = args.get("arch")
    if arch not in BASELINES:
        raise ConfigError(f"{where}: model argument 'arch' must be one of {list(BASELINES)}, got {arch!r}")
    BASELINES[arch][1]({k: v for k, v in args.items() if k != "arch"}, where)
