"""Channel gates that end a residual branch: the shrinkage sub-network and Squeeze-and-Excitation.

Both follow timm's ``attn_layer`` convention: the first positional argument is the channel
count, the input is (N, C, *spatial) with any number of spatial dims, the output has the same
shape. That lets :class:`Shrinkage` drop into a timm or torchvision ResNet unchanged.

Shrinkage (Zhao et al. 2020, Sec. III-C and the authors' code)::

    a     = GAP(|x|)                                  (N, C)
    alpha = sigmoid(FC(ReLU(BN(FC(a)))))              (N, C) for CW, (N, 1) for CS
    tau   = alpha * a              (CW: per sample and channel)
    tau   = alpha * mean_c(a)      (CS: one per sample, shared by all channels)
    y     = soft_threshold(x, tau)

Because 0 < alpha < 1 and a = mean|x| <= max|x|, the threshold is positive and never zeroes a
whole channel, and it is computed from each sample itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from deepshrink.errors import ConfigError, ShapeError
from deepshrink.functional import abs_mean, shrink_add, soft_threshold

__all__ = ["GateMLP", "StackedLinear", "linear", "Shrinkage", "SqueezeExcite", "record_thresholds", "ThresholdRecord"]


class StackedLinear(nn.Module):
    """``stack`` independent Linear layers applied side by side: (N, S*in) -> (N, S*out).

    Weight (S, out, in) and bias (S, out) hold one ordinary Linear layer per slice, so a
    stacked network is exactly ``S`` separate networks (see :mod:`deepshrink.models.stacked`).
    """

    def __init__(self, stack: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.stack, self.in_features, self.out_features = stack, in_features, out_features
        layers = [nn.Linear(in_features, out_features) for _ in range(stack)]  # the same init as S Linears
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in layers]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in layers]))

    def forward(self, v: Tensor) -> Tensor:
        v = v.reshape(v.shape[0], self.stack, self.in_features)
        out = torch.einsum("nsi,soi->nso", v, self.weight) + self.bias
        return out.reshape(v.shape[0], self.stack * self.out_features)

    def extra_repr(self) -> str:
        return f"stack={self.stack}, in_features={self.in_features}, out_features={self.out_features}"


def linear(in_features: int, out_features: int, stack: int = 1) -> nn.Module:
    """``nn.Linear``, or :class:`StackedLinear` when several networks are stacked."""
    return nn.Linear(in_features, out_features) if stack == 1 else StackedLinear(stack, in_features, out_features)


class GateMLP(nn.Module):
    """The excitation sub-network ``sigmoid(FC(act(norm(FC(v)))))`` on (N, C) vectors.

    Args:
        in_features: length of the pooled vector (the channel count).
        out_features: number of coefficients (C for channel-wise, 1 for channel-shared).
        hidden_features: width of the hidden layer; the paper uses ``in_features``.
        norm_layer: normalisation of the hidden layer (the paper: BatchNorm1d), or None.
        act_layer: activation of the hidden layer.
        stack: number of independent networks side by side (input (N, stack*in_features)).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_features: int,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        stack: int = 1,
    ) -> None:
        super().__init__()
        self.fc1 = linear(in_features, hidden_features, stack)
        self.norm = norm_layer(hidden_features * stack) if norm_layer is not None else nn.Identity()
        self.act = act_layer()
        self.fc2 = linear(hidden_features, out_features, stack)

    def forward(self, v: Tensor) -> Tensor:
        return torch.sigmoid(self.fc2(self.act(self.norm(self.fc1(v)))))


_MAX_WIDTH = 1 << 16


def _positive_int(owner: str, name: str, value: object, limit: int = _MAX_WIDTH) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ConfigError(f"{owner}: {name} must be an integer in [1, {limit}], got {type(value).__name__} {value!r}")
    return int(value)


def _check_gate_args(owner: str, channels: object, reduction: object, hidden_channels: object,
                     norm_layer: object, act_layer: object, stack: object) -> int:
    """Validate the arguments gates share; returns the hidden width."""
    _positive_int(owner, "channels", channels)
    _positive_int(owner, "stack", stack, 4096)
    if norm_layer is not None and not callable(norm_layer):
        raise ConfigError(f"{owner}: norm_layer must be a layer class (e.g. nn.BatchNorm1d) or None, got {norm_layer!r}")
    if not callable(act_layer):
        raise ConfigError(f"{owner}: act_layer must be a layer class (e.g. nn.ReLU), got {act_layer!r}")
    if hidden_channels is not None:
        return _positive_int(owner, "hidden_channels", hidden_channels)
    if isinstance(reduction, bool) or not isinstance(reduction, (int, float)) or not (0 < reduction < float("inf")):
        raise ConfigError(f"{owner}: reduction must be a number > 0, got {type(reduction).__name__} {reduction!r}")
    return max(1, int(round(channels / reduction)))  # type: ignore[operator]


def _to(module: nn.Module, owner: str, device: object, dtype: object) -> None:
    """Move a new gate's parameters (timm passes device and dtype); bad values are a ConfigError."""
    if device is None and dtype is None:
        return
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ConfigError(f"{owner}: dtype must be a floating-point torch.dtype, got {dtype!r}")
    try:
        module.to(device=device, dtype=dtype)
    except (RuntimeError, TypeError, ValueError, AssertionError) as err:
        raise ConfigError(f"{owner}: cannot create the parameters on device {device!r} ({str(err).strip()[:120]})") from None


def _check_input(owner: str, x: Tensor, channels: int) -> None:
    """A ShapeError unless ``x`` is (N, channels, *spatial) with at least one spatial dim.

    Skipped while ``torch.jit.trace`` records (the shapes are fixed by the example input then,
    and a check would only add TracerWarnings).
    """
    if torch.jit.is_tracing():
        return
    if not isinstance(x, Tensor):
        raise ShapeError(f"{owner}: expected a tensor (N, {channels}, *spatial), got {type(x).__name__}")
    if not x.is_floating_point():
        raise ShapeError(f"{owner}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.dim() < 3 or x.shape[1] != channels:
        raise ShapeError(
            f"{owner}: expected input of shape (N, {channels}, *spatial) with at least 3 dims, "
            f"got {tuple(x.shape)}"
        )


class ThresholdRecord:
    """What a :class:`Shrinkage` layer did to its last input: thresholds and dead-zone share."""

    def __init__(self, tau: Tensor, zero_fraction: Tensor) -> None:
        self.tau = tau  # (N, C) for CW, (N, 1) for CS
        self.zero_fraction = zero_fraction  # (N,): share of features set exactly to zero

    def __repr__(self) -> str:
        return f"ThresholdRecord(tau={tuple(self.tau.shape)}, zero_fraction={tuple(self.zero_fraction.shape)})"


class Shrinkage(nn.Module):
    """Learned soft thresholding: the gate that turns a ResNet block into an RSBU.

    Args:
        channels: number of input channels C.
        mode: ``"cw"`` for one threshold per sample and channel (DRSN-CW) or ``"cs"`` for one
            threshold per sample shared by all channels (DRSN-CS).
        reduction: hidden width of the sub-network is ``channels / reduction``; the paper and
            its 1-D code use 1, the authors' 2-D CIFAR demo uses 4.
        hidden_channels: explicit hidden width, overrides ``reduction``.
        norm_layer: normalisation inside the sub-network (the paper: BatchNorm1d).
        act_layer: activation inside the sub-network (the paper: ReLU).
        stack: number of independent networks side by side; the input then has
            ``stack * channels`` channels (see :mod:`deepshrink.models.stacked`).
        device, dtype: where to create the parameters (timm passes them to ``attn_layer``).

    Set ``record = True`` (or use :func:`record_thresholds`) to keep the thresholds of the last
    forward pass in ``last_record``; the normal path pays one attribute check for it.
    """

    def __init__(
        self,
        channels: int,
        mode: str = "cw",
        reduction: float = 1.0,
        hidden_channels: int | None = None,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        stack: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(mode, str) or mode.lower() not in ("cw", "cs"):
            raise ConfigError(f"Shrinkage: mode must be 'cw' or 'cs', got {mode!r}")
        mode = mode.lower()
        hidden = _check_gate_args("Shrinkage", channels, reduction, hidden_channels, norm_layer, act_layer, stack)
        self.channels = channels
        self.mode = mode
        self.stack = stack
        self.gate = GateMLP(channels, channels if mode == "cw" else 1, hidden, norm_layer, act_layer, stack)
        self.record = False
        self.last_record: ThresholdRecord | None = None
        _to(self, "Shrinkage", device, dtype)

    def thresholds(self, x: Tensor) -> Tensor:
        """Thresholds for ``x``: (N, C) in CW mode, (N, 1) in CS mode ((N, S*C) or (N, S) stacked)."""
        a = abs_mean(x)  # (N, S*C)
        alpha = self.gate(a)  # (N, S*C) or (N, S)
        if self.mode == "cs":
            a = a.reshape(a.shape[0], self.stack, self.channels).mean(dim=2)
        return alpha.to(a.dtype) * a

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        """Soft-threshold ``x``; with ``residual`` return ``soft_threshold(x, tau) + residual``.

        Passing the shortcut as ``residual`` fuses the unit's addition into the thresholding
        (one output tensor, nothing more kept for backward).
        """
        _check_input("Shrinkage", x, self.channels * self.stack)
        tau = self.thresholds(x)
        # CW: one threshold per channel, (N, C, 1...); CS: one per sample (and stacked network),
        # applied to x viewed as (N, S, C*spatial) so that it is shared by the channels.
        shape = x.shape
        if residual is not None and not torch.jit.is_tracing() and tuple(residual.shape) != tuple(shape):
            raise ShapeError(f"Shrinkage: residual of shape {tuple(residual.shape)} does not match x {tuple(shape)}")
        if self.mode == "cs":
            x = x.reshape(shape[0], self.stack, -1)
            residual = residual.reshape(x.shape) if residual is not None else None
        tau_b = tau.to(x.dtype).reshape(tau.shape + (1,) * (x.dim() - 2))
        if residual is None:
            y = soft_threshold(x, tau_b)
        else:
            y = shrink_add(x, tau_b, residual.to(x.dtype))
        if self.record:
            with torch.no_grad():
                zero = (x.abs() <= tau_b).flatten(1).float().mean(1)
            self.last_record = ThresholdRecord(tau.detach(), zero)
        return y.reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.channels}, mode={self.mode!r}"


class SqueezeExcite(nn.Module):
    """Squeeze-and-Excitation (Hu et al. 2018): scale each channel by a learned weight in (0, 1).

    The SE-ResNet baseline of the study uses the same sub-network as :class:`Shrinkage`
    (hidden width ``channels``, BatchNorm) so that the only difference between SE-ResNet and
    DRSN-CW is what the coefficients do: rescale features, or set a soft threshold. Pass
    ``reduction=16, norm_layer=None`` for the classic SENet gate.

    Args:
        channels: number of input channels C.
        reduction: hidden width is ``channels / reduction``.
        hidden_channels: explicit hidden width, overrides ``reduction``.
        norm_layer: normalisation inside the sub-network, or None.
        act_layer: activation inside the sub-network.
        stack: number of independent networks side by side.
        device, dtype: where to create the parameters (timm passes them to ``attn_layer``).
    """

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
        hidden = _check_gate_args("SqueezeExcite", channels, reduction, hidden_channels, norm_layer, act_layer, stack)
        self.channels = channels
        self.stack = stack
        self.gate = GateMLP(channels, channels, hidden, norm_layer, act_layer, stack)
        _to(self, "SqueezeExcite", device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        _check_input("SqueezeExcite", x, self.channels * self.stack)
        w = self.gate(x.flatten(2).mean(-1))
        return x * w.to(x.dtype).reshape(w.shape + (1,) * (x.dim() - 2))

    def extra_repr(self) -> str:
        return f"{self.channels}"


@contextmanager
def record_thresholds(model: nn.Module) -> Iterator[dict[str, Shrinkage]]:
    """Keep the thresholds of every :class:`Shrinkage` layer of ``model`` while inside.

    Yields a dict of qualified module name → layer; after a forward pass each layer's
    ``last_record`` holds the thresholds and zero fraction of that pass::

        with record_thresholds(model) as layers:
            model(x)
            taus = {name: layer.last_record.tau for name, layer in layers.items()}
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"record_thresholds: model must be a torch module, got {type(model).__name__}")
    layers = {name: m for name, m in model.named_modules() if isinstance(m, Shrinkage)}
    for layer in layers.values():
        layer.record = True
    try:
        yield layers
    finally:
        for layer in layers.values():
            layer.record = False
            layer.last_record = None
