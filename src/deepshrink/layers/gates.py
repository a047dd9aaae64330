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

Variants (FIELD.md, "Shrinkage variants"), each a drop-in option of the same gate:

- ``shrink``: the function applied under tau: ``soft`` (the paper's), ``hard``, ``garrote`` or
  ``firm`` (see :mod:`deepshrink.functional`).
- ``threshold="mad"``: the scale ``a`` in ``tau = alpha * a`` is Donoho & Johnstone's universal
  threshold ``median(|x|) / 0.6745 * sqrt(2 ln n)`` of each channel (n = its positions; CS: of each
  sample, n = channels x positions) instead of ``mean|x|``; alpha still comes from the
  sub-network fed with ``GAP(|x|)``. The "classical prior vs learned" ablation.
- ``mode="ew"``: one threshold per sample, channel and position::

      alpha_map = sigmoid(Conv1x1(ReLU(BN(Conv1x1(|x|)))))     (N, C, *spatial), 1x1 convs C->C->C
      tau       = alpha_map * a                                 a = GAP(|x|) per channel (or its MAD scale)

  so 0 < tau < mean|x| of the channel everywhere, like CW, while the head can raise or lower the
  threshold where the signal is (a "pixel-wise" DRSN).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor, nn

from deepshrink.checks import MAX_CHANNELS, positive_int
from deepshrink.errors import ConfigError, ShapeError
from deepshrink.functional import SHRINKS, abs_mean, mad_sigma, shrink, shrink_add, soft_threshold

__all__ = [
    "GateMLP", "GateConv", "StackedLinear", "linear", "Shrinkage", "SqueezeExcite", "record_thresholds",
    "ThresholdRecord", "SHRINKAGE_MODES", "THRESHOLDS", "GATES", "gate_layer", "build_gate",
]  # fmt: skip

SHRINKAGE_MODES = ("cw", "cs", "ew")
"""Where thresholds vary: per sample and channel, per sample, per sample, channel and position."""

THRESHOLDS = ("mean", "mad")
"""The scale a learned alpha in (0, 1) multiplies: the paper's ``mean|x|``, or the MAD universal threshold."""

GATES = (*SHRINKAGE_MODES, "se")
"""What a network's ``gate`` argument may name (None: no gate): a shrinkage mode, or squeeze-and-excitation."""


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


class GateConv(nn.Module):
    """The element-wise sub-network ``sigmoid(conv(act(norm(conv(v)))))`` of 1x1 convolutions.

    Works on (N, C, P) maps (the spatial dims flattened to P, so one class serves 1-D, 2-D and
    3-D inputs); with ``stack`` > 1 the convolutions are grouped, one group per network.

    Args:
        in_features, out_features, hidden_features: channels in, out and of the hidden layer.
        norm_layer: normalisation of the hidden layer (BatchNorm1d: over samples and positions), or None.
        act_layer: activation of the hidden layer.
        stack: number of independent networks side by side.
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
        self.conv1 = nn.Conv1d(in_features * stack, hidden_features * stack, 1, groups=stack)
        self.norm = norm_layer(hidden_features * stack) if norm_layer is not None else nn.Identity()
        self.act = act_layer()
        self.conv2 = nn.Conv1d(hidden_features * stack, out_features * stack, 1, groups=stack)

    def forward(self, v: Tensor) -> Tensor:
        return torch.sigmoid(self.conv2(self.act(self.norm(self.conv1(v)))))


def check_gate_args(owner: str, channels: object, reduction: object, hidden_channels: object,
                     norm_layer: object, act_layer: object, stack: object) -> int:
    """Validate the arguments gates share; returns the hidden width."""
    positive_int(f"{owner}: channels", channels, MAX_CHANNELS)
    positive_int(f"{owner}: stack", stack, 4096)
    if norm_layer is not None and not callable(norm_layer):
        raise ConfigError(f"{owner}: norm_layer must be a layer class (e.g. nn.BatchNorm1d) or None, got {norm_layer!r}")
    if not callable(act_layer):
        raise ConfigError(f"{owner}: act_layer must be a layer class (e.g. nn.ReLU), got {act_layer!r}")
    if hidden_channels is not None:
        return positive_int(f"{owner}: hidden_channels", hidden_channels, MAX_CHANNELS)
    if isinstance(reduction, bool) or not isinstance(reduction, (int, float)) or not (0 < reduction < float("inf")):
        raise ConfigError(f"{owner}: reduction must be a number > 0, got {type(reduction).__name__} {reduction!r}")
    return max(1, int(round(channels / reduction)))  # type: ignore[operator]


def move_gate(module: nn.Module, owner: str, device: object, dtype: object) -> None:
    """Move a new gate's parameters (timm passes device and dtype); bad values are a ConfigError."""
    if device is None and dtype is None:
        return
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ConfigError(f"{owner}: dtype must be a floating-point torch.dtype, got {dtype!r}")
    try:
        module.to(device=device, dtype=dtype)
    except (RuntimeError, TypeError, ValueError, AssertionError) as err:
        raise ConfigError(f"{owner}: cannot create the parameters on device {device!r} ({str(err).strip()[:120]})") from None


def check_input(owner: str, x: Tensor, channels: int) -> None:
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

    def __init__(self, tau: Tensor, zero_fraction: Tensor, tau_map: Tensor | None = None) -> None:
        self.tau = tau  # (N, C) for CW and EW (EW: the mean over positions), (N, 1) for CS
        self.zero_fraction = zero_fraction  # (N,): share of features zeroed (|x| <= tau)
        self.tau_map = tau_map  # EW only: the full (N, C, *spatial) thresholds

    def __repr__(self) -> str:
        return f"ThresholdRecord(tau={tuple(self.tau.shape)}, zero_fraction={tuple(self.zero_fraction.shape)})"


class Shrinkage(nn.Module):
    """Learned thresholding: the gate that turns a ResNet block into an RSBU.

    Args:
        channels: number of input channels C.
        mode: ``"cw"`` for one threshold per sample and channel (DRSN-CW), ``"cs"`` for one
            threshold per sample shared by all channels (DRSN-CS), or ``"ew"`` for one per
            sample, channel and position from a 1x1-convolution head (see the module docstring).
        reduction: hidden width of the sub-network is ``channels / reduction``; the paper and
            its 1-D code use 1, the authors' 2-D CIFAR demo uses 4.
        hidden_channels: explicit hidden width, overrides ``reduction``.
        norm_layer: normalisation inside the sub-network (the paper: BatchNorm1d).
        act_layer: activation inside the sub-network (the paper: ReLU).
        stack: number of independent networks side by side; the input then has
            ``stack * channels`` channels (see :mod:`deepshrink.models.stacked`).
        device, dtype: where to create the parameters (timm passes them to ``attn_layer``).
        shrink: the function under the threshold, one of ``"soft"`` (the paper's), ``"hard"``,
            ``"garrote"``, ``"firm"`` (:data:`deepshrink.functional.SHRINKS`).
        firm_ratio: ``tau2 / tau1 > 1`` of firm thresholding (fixed, not learned).
        threshold: ``"mean"`` (the paper's ``tau = alpha * mean|x|``) or ``"mad"``
            (``tau = alpha * median(|x|) / 0.6745 * sqrt(2 ln n)``).

    Set ``record = True`` (or use :func:`record_thresholds`) to keep the thresholds of the last
    forward pass in ``last_record``; the normal path pays one attribute check for it. In EW mode
    ``last_record.tau`` is each channel's mean threshold over positions, (N, C), so it reads like
    CW's, and ``last_record.tau_map`` holds the full map.
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
        shrink: str = "soft",
        firm_ratio: float = 2.0,
        threshold: str = "mean",
    ) -> None:
        super().__init__()
        if not isinstance(mode, str) or mode.lower() not in SHRINKAGE_MODES:
            raise ConfigError(f"Shrinkage: mode must be 'cw', 'cs' or 'ew', got {mode!r}")
        if not isinstance(shrink, str) or shrink not in SHRINKS:
            raise ConfigError(f"Shrinkage: shrink must be one of {list(SHRINKS)}, got {shrink!r}")
        if isinstance(firm_ratio, bool) or not isinstance(firm_ratio, (int, float)) or not (
            math.isfinite(firm_ratio) and 1 < firm_ratio <= 1e3
        ):
            raise ConfigError(f"Shrinkage: firm_ratio must be a number in (1, 1000], got {firm_ratio!r}")
        if not isinstance(threshold, str) or threshold not in THRESHOLDS:
            raise ConfigError(f"Shrinkage: threshold must be one of {list(THRESHOLDS)}, got {threshold!r}")
        mode = mode.lower()
        hidden = check_gate_args("Shrinkage", channels, reduction, hidden_channels, norm_layer, act_layer, stack)
        self.channels = channels
        self.mode = mode
        self.stack = stack
        self.shrink, self.firm_ratio, self.threshold = shrink, float(firm_ratio), threshold
        if mode == "ew":
            self.gate: nn.Module = GateConv(channels, channels, hidden, norm_layer, act_layer, stack)
        else:
            self.gate = GateMLP(channels, channels if mode == "cw" else 1, hidden, norm_layer, act_layer, stack)
        self.record = False
        self.last_record: ThresholdRecord | None = None
        move_gate(self, "Shrinkage", device, dtype)

    def _scale(self, x: Tensor, a: Tensor) -> Tensor:
        """What alpha multiplies: ``a = GAP(|x|)`` (N, S*C) or the MAD universal threshold, per channel (CS: per sample)."""
        if self.mode == "cs":
            if self.threshold == "mean":
                return a.reshape(a.shape[0], self.stack, self.channels).mean(dim=2)
            flat = x.reshape(x.shape[0], self.stack, -1)
        else:
            if self.threshold == "mean":
                return a
            flat = x.flatten(2)
        count = flat.shape[-1]
        return mad_sigma(flat).to(a.dtype) * math.sqrt(2 * math.log(count))

    def thresholds(self, x: Tensor) -> Tensor:
        """Thresholds for ``x``: (N, C) in CW mode, (N, 1) in CS mode ((N, S*C) or (N, S) stacked),
        (N, C, P) in EW mode (P = the product of the spatial dims)."""
        a = abs_mean(x)  # (N, S*C)
        if self.mode == "ew":
            alpha = self.gate(x.flatten(2).abs())  # (N, S*C, P)
            return alpha.to(a.dtype) * self._scale(x, a).unsqueeze(-1)
        alpha = self.gate(a)  # (N, S*C) or (N, S)
        if self.mode == "cs" or self.threshold != "mean":
            a = self._scale(x, a)
        return alpha.to(a.dtype) * a

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        """Threshold ``x``; with ``residual`` return ``shrink(x, tau) + residual``.

        Passing the shortcut as ``residual`` fuses the unit's addition into the thresholding
        (one output tensor, nothing more kept for backward).
        """
        check_input("Shrinkage", x, self.channels * self.stack)
        tau = self.thresholds(x)
        # CW: one threshold per channel, (N, C, 1...); CS: one per sample (and stacked network),
        # applied to x viewed as (N, S, C*spatial) so that it is shared by the channels;
        # EW: x viewed as (N, C, P) like its threshold map.
        shape = x.shape
        if residual is not None and not torch.jit.is_tracing() and tuple(residual.shape) != tuple(shape):
            raise ShapeError(f"Shrinkage: residual of shape {tuple(residual.shape)} does not match x {tuple(shape)}")
        if self.mode != "cw":
            x = x.reshape(shape[0], self.stack, -1) if self.mode == "cs" else x.flatten(2)
            residual = residual.reshape(x.shape) if residual is not None else None
        tau_b = tau.to(x.dtype).reshape(tau.shape + (1,) * (x.dim() - tau.dim()))
        if self.shrink != "soft":
            y = shrink(x, tau_b, self.shrink, self.firm_ratio, residual.to(x.dtype) if residual is not None else None)
        elif residual is None:
            y = soft_threshold(x, tau_b)
        else:
            y = shrink_add(x, tau_b, residual.to(x.dtype))
        if self.record:
            with torch.no_grad():
                zero = (x.abs() <= tau_b).flatten(1).float().mean(1)
                tau_map = tau.detach().reshape(shape) if self.mode == "ew" else None
                tau = tau.mean(-1) if self.mode == "ew" else tau
            self.last_record = ThresholdRecord(tau.detach(), zero, tau_map)
        return y.reshape(shape)

    def extra_repr(self) -> str:
        extra = "" if self.shrink == "soft" else f", shrink={self.shrink!r}"
        extra += f", firm_ratio={self.firm_ratio:g}" if self.shrink == "firm" else ""
        extra += "" if self.threshold == "mean" else f", threshold={self.threshold!r}"
        return f"{self.channels}, mode={self.mode!r}{extra}"


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
        hidden = check_gate_args("SqueezeExcite", channels, reduction, hidden_channels, norm_layer, act_layer, stack)
        self.channels = channels
        self.stack = stack
        self.gate = GateMLP(channels, channels, hidden, norm_layer, act_layer, stack)
        move_gate(self, "SqueezeExcite", device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        check_input("SqueezeExcite", x, self.channels * self.stack)
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


def gate_layer(
    gate: str | None, reduction: float = 1.0, shrink: str = "soft", firm_ratio: float = 2.0, threshold: str = "mean"
) -> Callable[..., nn.Module] | None:
    """The layer a network's ``gate`` argument names, as ``factory(channels, stack=S)``; None for no gate.

    One vocabulary for every network that takes a gate (the paper's skeleton and the field's
    baselines): ``"cw"`` / ``"cs"`` / ``"ew"`` are :class:`Shrinkage` modes, ``"se"`` is
    :class:`SqueezeExcite`.
    """
    if gate is None:
        return None
    if gate in SHRINKAGE_MODES:
        return partial(Shrinkage, mode=gate, reduction=reduction, shrink=shrink, firm_ratio=firm_ratio, threshold=threshold)
    if gate == "se":
        return partial(SqueezeExcite, reduction=reduction)
    raise ConfigError(f"gate must be one of {', '.join(repr(g) for g in GATES)} or None, got {gate!r}")


def build_gate(factory: Callable[..., nn.Module] | None, channels: int, stack: int) -> nn.Module:
    """A gate of ``channels`` (per stacked network) from :func:`gate_layer`'s factory; an identity for None."""
    if factory is None:
        return nn.Identity()
    return factory(channels) if stack == 1 else factory(channels, stack=stack)
