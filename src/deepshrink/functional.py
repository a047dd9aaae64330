"""Pure functions behind the shrinkage layers.

Soft thresholding (Donoho 1995; Zhao et al. 2020, eq. 1):

    y = x - tau   if x >  tau
    y = 0         if -tau <= x <= tau
    y = x + tau   if x < -tau

    dy/dx   = 1 outside [-tau, tau], 0 inside
    dy/dtau = -sign(x) outside [-tau, tau], 0 inside

The authors' code computes ``sign(x) * max(|x| - tau, 0)`` and lets gradients reach ``tau``;
so do we. What we change is memory: autograd through that expression keeps ``x``, ``|x|`` and
``|x| - tau`` alive for the backward pass (three full-size float tensors). Both functions here
have their own backward that keeps one ``int8`` tensor instead: the sign of the output (for
soft thresholding) or of the input (for the mean of absolute values), which is all their
gradients need. When no gradient is needed, and whenever a graph is being traced or exported
(``torch.jit.trace``, ``torch.onnx.export`` with either exporter, ``torch.export``), they run
plain tensor ops, so the exporters see ordinary operators even with grad mode on.

The variants of the same family (FIELD.md, "Shrinkage variants"), with the same broadcasting of
``tau`` and the same fused ``+ residual`` form (:func:`shrink_add` with ``kind``):

    hard      y = x                              if |x| > tau, else 0
    garrote   y = x - tau^2 / x                  if |x| > tau, else 0   (Breiman 1995; Gao 1998)
    firm      y = 0                              if |x| <= tau
              y = sign(x) k tau (|x| - tau) / (k tau - tau)   if tau < |x| <= k tau  (Gao & Bruce 1997)
              y = x                              if |x| > k tau         (k = firm_ratio > 1)

Hard and firm thresholding have piecewise-constant derivatives, so they keep one ``int8`` code
per element like soft thresholding; the garrote's derivatives depend on ``x`` itself, so it keeps
its inputs ``x`` and ``tau`` (references, no new buffer) and recomputes the rest in backward.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from deepshrink.errors import ConfigError, ShapeError

__all__ = [
    "soft_threshold", "soft_threshold_reference", "shrink_add", "abs_mean",
    "SHRINKS", "HARD_SURROGATE_WIDTH", "hard_threshold", "garrote_threshold", "firm_threshold", "shrink",
    "mad_sigma", "universal_threshold", "MAD_SCALE", "parametric_relu",
]  # fmt: skip


def soft_threshold_reference(x: Tensor, tau: Tensor) -> Tensor:
    """``sign(x) * max(|x| - tau, 0)`` with plain autograd: the formula as the paper's code has it.

    Kept as the independent reference for tests and benchmarks; use :func:`soft_threshold`.
    """
    return torch.sign(x) * torch.clamp(x.abs() - tau, min=0)


def _sum_to_shape(grad: Tensor, shape: torch.Size) -> Tensor:
    """Reduce a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    if grad.shape == shape:
        return grad
    extra = grad.dim() - len(shape)
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad


def _soft_threshold_forward(x: Tensor, tau: Tensor, reuse_buffer: bool = False) -> Tensor:
    # x - clamp(x, -tau, tau) equals sign(x)·max(|x|-tau, 0) bit for bit when tau >= 0:
    # outside the dead zone it is x ∓ tau, inside it is x - x = 0. Inside our autograd
    # Functions one buffer is allocated and reused in place (on CPU, fresh large buffers cost
    # more than the arithmetic); elsewhere (tracing, export) only out-of-place ops are used.
    clamped = torch.maximum(x, -tau)
    if not reuse_buffer or clamped.shape != x.shape or clamped.dtype != x.dtype:
        return x - torch.minimum(clamped, tau)
    torch.minimum(clamped, tau, out=clamped)
    return torch.sub(x, clamped, out=clamped)


def _eager() -> bool:
    """True outside torch.compile / torch.export tracing, where in-place buffer reuse is safe."""
    return not (torch.compiler.is_compiling() or torch.compiler.is_exporting())


def _exporting() -> bool:
    """True while a graph is traced or exported for use outside PyTorch's autograd.

    The custom autograd Functions then step aside: TorchScript tracing and the TorchScript
    ONNX exporter (``dynamo=False``) cannot record them, and ``torch.export`` does not need them.
    """
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting())


def _check_operands(name: str, x: object, tau: object, residual: object = None) -> Tensor:
    """Type and broadcast checks of the public functions (skipped while compiling or tracing)."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ShapeError(f"{name}: x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if isinstance(tau, Tensor):
        pass
    elif isinstance(tau, (int, float)) and not isinstance(tau, bool):
        if not (math.isfinite(tau) and tau >= 0):
            raise ConfigError(f"{name}: tau must be a finite number >= 0, got {tau!r}")
        tau = torch.as_tensor(tau, dtype=x.dtype, device=x.device)
    else:
        raise ConfigError(f"{name}: tau must be a tensor or a number >= 0, got {type(tau).__name__}")
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return tau
    xs, ts = x.shape, tau.shape
    offset = len(xs) - len(ts)
    if offset < 0 or any(t != 1 and t != xs[offset + i] for i, t in enumerate(ts)):
        raise ShapeError(f"{name}: tau of shape {tuple(tau.shape)} does not broadcast to x of shape {tuple(x.shape)}")
    if residual is not None and (not isinstance(residual, Tensor) or residual.shape != x.shape):
        got = tuple(residual.shape) if isinstance(residual, Tensor) else type(residual).__name__
        raise ShapeError(f"{name}: residual must be a tensor of x's shape {tuple(x.shape)}, got {got}")
    return tau


def _use_function(*tensors: Tensor) -> bool:
    """Whether to run the memory-lean autograd Function (a gradient is needed, eager or compiled)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors) and not _exporting()


def _soft_threshold_backward(ctx, grad_y: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """Gradients from the saved int8 sign of the output: dy/dx = |sign(y)|, dy/dtau = -sign(y)."""
    (sign_y,) = ctx.saved_tensors
    grad_signed = grad_y * sign_y  # promotes to grad's dtype; the only full-size buffer
    grad_tau = None
    if ctx.needs_input_grad[1]:
        grad_tau = _sum_to_shape(grad_signed, ctx.tau_shape)
        # a tau of x's full shape (element-wise thresholds) gets grad_signed itself: negate a copy
        grad_tau = (grad_tau.neg() if grad_tau is grad_signed else grad_tau.neg_()).to(ctx.tau_dtype)
    grad_x = grad_signed.mul_(sign_y) if ctx.needs_input_grad[0] else None  # g·sign² = g·|sign|
    return grad_x, grad_tau


class _SoftThreshold(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, tau: Tensor) -> Tensor:  # type: ignore[override]
        y = _soft_threshold_forward(x, tau, reuse_buffer=_eager())
        ctx.save_for_backward(torch.sign(y).to(torch.int8))
        ctx.tau_shape = tau.shape
        ctx.tau_dtype = tau.dtype
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):  # type: ignore[override]
        return _soft_threshold_backward(ctx, grad_y)


def soft_threshold(x: Tensor, tau: Tensor | float) -> Tensor:
    """Soft thresholding ``sign(x) * max(|x| - tau, 0)`` with a memory-lean backward.

    Args:
        x: input of any shape, e.g. (N, C, L) or (N, C, H, W).
        tau: non-negative threshold broadcastable to ``x``: a scalar, (N, 1, 1) for one
            threshold per sample or (N, C, 1) for one per sample and channel. Gradients flow
            into ``tau`` as in the paper's code.

    Returns:
        A tensor shaped like ``x``.

    Raises:
        ShapeError: ``x`` is not a floating-point tensor or ``tau`` does not broadcast to it.
        ConfigError: ``tau`` is a negative or non-finite number (a negative tensor ``tau`` is
            not checked: that would cost a device synchronisation on every call).
    """
    tau = _check_operands("soft_threshold", x, tau)
    if _use_function(x, tau):
        return _SoftThreshold.apply(x, tau)
    return _soft_threshold_forward(x, tau)


class _ShrinkAdd(torch.autograd.Function):
    """soft_threshold(x, tau) + residual in one node: the epilogue of a residual shrinkage unit."""

    @staticmethod
    def forward(ctx, x: Tensor, tau: Tensor, residual: Tensor) -> Tensor:  # type: ignore[override]
        y = _soft_threshold_forward(x, tau, reuse_buffer=_eager())
        ctx.save_for_backward(torch.sign(y).to(torch.int8))
        ctx.tau_shape = tau.shape
        ctx.tau_dtype = tau.dtype
        ctx.residual_shape = residual.shape
        return y.add_(residual)

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        grad_residual = _sum_to_shape(grad_out, ctx.residual_shape) if ctx.needs_input_grad[2] else None
        grad_x, grad_tau = _soft_threshold_backward(ctx, grad_out)
        return grad_x, grad_tau, grad_residual


def shrink_add(x: Tensor, tau: Tensor, residual: Tensor) -> Tensor:
    """``soft_threshold(x, tau) + residual``, fused: one output tensor, one int8 kept for backward.

    ``residual`` must have the shape of ``x`` (the shortcut of a residual unit).
    """
    tau = _check_operands("shrink_add", x, tau, residual)
    if _use_function(x, tau, residual):
        return _ShrinkAdd.apply(x, tau, residual)
    return _soft_threshold_forward(x, tau) + residual


SHRINKS = ("soft", "hard", "garrote", "firm")
"""The shrink functions a :class:`~deepshrink.layers.Shrinkage` gate can apply under its threshold."""

HARD_SURROGATE_WIDTH = 0.1
"""Half-width ``w`` of the band around ``tau`` where hard thresholding's surrogate tau-gradient lives."""


def _check_kind(name: str, kind: object, firm_ratio: object, width: object = HARD_SURROGATE_WIDTH) -> None:
    if not isinstance(kind, str) or kind not in SHRINKS:
        raise ConfigError(f"{name}: kind must be one of {list(SHRINKS)}, got {kind!r}")
    if isinstance(firm_ratio, bool) or not isinstance(firm_ratio, (int, float)) or not (math.isfinite(firm_ratio) and firm_ratio > 1):
        raise ConfigError(f"{name}: firm_ratio must be a finite number > 1, got {firm_ratio!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width < 1:
        raise ConfigError(f"{name}: width must be a number in (0, 1), got {width!r}")


def _hard_forward(x: Tensor, tau: Tensor) -> Tensor:
    return torch.where(x.abs() > tau, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _garrote_forward(x: Tensor, tau: Tensor) -> Tensor:
    keep = x.abs() > tau
    safe = torch.where(keep, x, torch.ones((), dtype=x.dtype, device=x.device))  # no 0/0 in the dead zone
    return torch.where(keep, x - tau * tau / safe, torch.zeros((), dtype=x.dtype, device=x.device))


def _firm_forward(x: Tensor, tau: Tensor, ratio: float) -> Tensor:
    # sign(x) * min(k/(k-1) * max(|x| - tau, 0), |x|): the ramp meets |x| exactly at |x| = k tau
    ax = x.abs()
    return torch.sign(x) * torch.minimum(torch.clamp(ax - tau, min=0) * (ratio / (ratio - 1)), ax)


def _plain_shrink(kind: str, x: Tensor, tau: Tensor, param: float) -> Tensor:
    if kind == "hard":
        return _hard_forward(x, tau)
    if kind == "garrote":
        return _garrote_forward(x, tau)
    return _firm_forward(x, tau, param)


class _Shrink(torch.autograd.Function):
    """Hard, garrote or firm thresholding (optionally ``+ residual``) with a memory-lean backward.

    Saved for backward: hard and firm, one ``int8`` code ``sign(x) * region`` per element; garrote,
    the inputs ``x`` and ``tau`` themselves.
    """

    @staticmethod
    def forward(ctx, x: Tensor, tau: Tensor, residual: Tensor | None, kind: str, param: float):  # type: ignore[override]
        ctx.kind, ctx.param = kind, param
        ctx.tau_shape, ctx.tau_dtype = tau.shape, tau.dtype
        ctx.residual_shape = residual.shape if residual is not None else None
        if kind == "garrote":
            y = _garrote_forward(x, tau)
            ctx.save_for_backward(x, tau)
        else:
            ax = x.abs()
            if kind == "hard":  # region 1: kept; +2: inside the surrogate band
                y = torch.where(ax > tau, x, torch.zeros((), dtype=x.dtype, device=x.device))
                region = (ax > tau).to(torch.int8)
                region += 2 * ((ax > (1 - param) * tau) & (ax <= (1 + param) * tau)).to(torch.int8)
            else:  # firm; region 1: the ramp, 2: passed unchanged
                ramp = torch.clamp(ax - tau, min=0).mul_(param / (param - 1))
                region = (ax > tau).to(torch.int8) + (ramp > ax).to(torch.int8)
                y = torch.sign(x) * torch.minimum(ramp, ax)
            del ax
            ctx.save_for_backward(region.mul_(torch.sign(x).to(torch.int8)))
        return y if residual is None else y.add_(residual)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        kind, param = ctx.kind, ctx.param
        need_x, need_tau = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_x = grad_tau = None
        if kind == "garrote":
            x, tau = ctx.saved_tensors
            keep = x.abs() > tau
            q = tau / torch.where(keep, x, torch.ones((), dtype=x.dtype, device=x.device))
            q = torch.where(keep, q, torch.zeros((), dtype=q.dtype, device=q.device))  # tau/x outside, 0 inside
            if need_tau:
                grad_tau = _sum_to_shape(grad * q * -2, ctx.tau_shape).to(ctx.tau_dtype)
            if need_x:
                grad_x = grad * (keep.to(grad.dtype) + q * q)
        else:
            (code,) = ctx.saved_tensors
            region = code.abs()
            if kind == "hard":
                if need_x:
                    grad_x = grad * (region & 1)
                if need_tau:  # -sign(x) (1 - w^2) / (2w) inside the band |x| in ((1-w) tau, (1+w) tau]
                    band = (region >> 1) * code.sign()
                    grad_tau = _sum_to_shape(grad * band, ctx.tau_shape) * (-(1 - param * param) / (2 * param))
                    grad_tau = grad_tau.to(ctx.tau_dtype)
            else:
                slope = param / (param - 1)
                ramp = region == 1
                if need_x:
                    grad_x = grad * torch.where(ramp, slope, (region == 2).to(grad.dtype))
                if need_tau:
                    grad_tau = _sum_to_shape(grad * (ramp * code.sign()), ctx.tau_shape) * -slope
                    grad_tau = grad_tau.to(ctx.tau_dtype)
        grad_residual = None
        if ctx.residual_shape is not None and ctx.needs_input_grad[2]:
            grad_residual = _sum_to_shape(grad, ctx.residual_shape)
        return grad_x, grad_tau, grad_residual, None, None


def _shrink(name: str, kind: str, x: Tensor, tau: Tensor | float, residual: Tensor | None,
            firm_ratio: float, width: float) -> Tensor:  # fmt: skip
    _check_kind(name, kind, firm_ratio, width)
    tau = _check_operands(name, x, tau, residual)
    if kind == "soft":
        if residual is None:
            return soft_threshold(x, tau)
        return shrink_add(x, tau, residual)
    param = width if kind == "hard" else float(firm_ratio)
    tensors = (x, tau) if residual is None else (x, tau, residual)
    if _use_function(*tensors):
        return _Shrink.apply(x, tau, residual, kind, param)
    y = _plain_shrink(kind, x, tau, param)
    return y if residual is None else y + residual


def hard_threshold(x: Tensor, tau: Tensor | float, width: float = HARD_SURROGATE_WIDTH) -> Tensor:
    """Hard thresholding ``x * 1(|x| > tau)``, with a stated surrogate for the tau-gradient.

    The true derivative to ``tau`` is zero almost everywhere (a learned threshold would never
    move), so backward uses the tau-gradient of firm thresholding over a narrow band instead:
    firm with ``tau1 = (1 - w) tau`` and ``tau2 = (1 + w) tau`` tends to hard thresholding as
    ``w -> 0``, and its tau-gradient is

        dy/dtau = -sign(x) (1 - w^2) / (2 w)   if (1 - w) tau < |x| <= (1 + w) tau, else 0.

    Being piecewise constant, it needs only the one ``int8`` code per element that backward keeps
    (a sigmoid surrogate would need ``x`` itself). ``dy/dx = 1(|x| > tau)`` is exact.

    Args:
        x: input of any shape.
        tau: non-negative threshold broadcastable to ``x`` (as for :func:`soft_threshold`).
        width: the band's relative half-width ``w`` in (0, 1).
    """
    return _shrink("hard_threshold", "hard", x, tau, None, 2.0, width)


def garrote_threshold(x: Tensor, tau: Tensor | float) -> Tensor:
    """Non-negative garrote ``x - tau^2 / x`` for ``|x| > tau``, else 0: unbiased for large ``|x|``.

    Exact gradients: ``dy/dx = 1 + tau^2 / x^2`` and ``dy/dtau = -2 tau / x`` outside the dead
    zone, 0 inside. They depend on ``x``, so backward keeps ``x`` and ``tau`` (the inputs, no new
    buffer) and recomputes the rest. ``tau`` broadcasts as for :func:`soft_threshold`.
    """
    return _shrink("garrote_threshold", "garrote", x, tau, None, 2.0, HARD_SURROGATE_WIDTH)


def firm_threshold(x: Tensor, tau: Tensor | float, firm_ratio: float = 2.0) -> Tensor:
    """Firm (semi-soft) thresholding of Gao & Bruce (1997) with ``tau1 = tau``, ``tau2 = k tau``.

    ``0`` for ``|x| <= tau``, ``sign(x) k (|x| - tau) / (k - 1)`` for ``tau < |x| <= k tau``
    (the same as ``sign(x) tau2 (|x| - tau1) / (tau2 - tau1)``), ``x`` above: soft near the
    threshold, hard (unbiased) far from it. Exact piecewise gradients: ``dy/dx`` is 0, ``k/(k-1)``,
    1 and ``dy/dtau`` is 0, ``-sign(x) k/(k-1)``, 0 on the three pieces (``k`` is fixed, not learned);
    backward keeps one ``int8`` per element.

    Args:
        x: input of any shape.
        tau: non-negative threshold broadcastable to ``x`` (as for :func:`soft_threshold`).
        firm_ratio: ``k = tau2 / tau1 > 1``; large ``k`` approaches soft thresholding.
    """
    return _shrink("firm_threshold", "firm", x, tau, None, firm_ratio, HARD_SURROGATE_WIDTH)


def shrink(x: Tensor, tau: Tensor | float, kind: str = "soft", firm_ratio: float = 2.0,
           residual: Tensor | None = None) -> Tensor:  # fmt: skip
    """Apply the shrink function ``kind`` (one of :data:`SHRINKS`), optionally ``+ residual`` fused.

    ``kind="soft"`` is exactly :func:`soft_threshold` (or :func:`shrink_add` with ``residual``);
    the others are :func:`hard_threshold`, :func:`garrote_threshold` and :func:`firm_threshold`,
    whose fused form adds ``residual`` to the output in place and keeps nothing more for backward.
    """
    return _shrink("shrink", kind, x, tau, residual, firm_ratio, HARD_SURROGATE_WIDTH)


MAD_SCALE = 0.6745
"""median(|z|) of a standard normal z: ``median(|x|) / MAD_SCALE`` estimates the noise's sigma."""


def mad_sigma(x: Tensor, start_dim: int = 2) -> Tensor:
    """Noise level ``median(|x|) / 0.6745`` over every dim from ``start_dim`` on (Donoho & Johnstone 1994).

    The median is numpy's (the mean of the two middle values for an even count). It is found
    with ``torch.kthvalue`` under no_grad, a selection (on some devices a sort) over each row,
    so it costs much more than a mean (see ``benchmarks/``); the gradient then flows through
    the one or two middle elements only, and backward keeps their indices, not a sorted copy.

    Returns:
        ``x.shape[:start_dim]``.
    """
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ShapeError(f"mad_sigma: x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if isinstance(start_dim, bool) or not isinstance(start_dim, int) or not 0 <= start_dim < x.dim():
        raise ConfigError(f"mad_sigma: start_dim must be an integer in [0, {x.dim() - 1}] for a {x.dim()}-D x, got {start_dim!r}")
    flat = x.flatten(start_dim)
    count = flat.shape[-1]
    with torch.no_grad():
        mag = flat.abs()
        if torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting():  # ONNX has TopK, not kthvalue
            low = mag.topk(count // 2 + 1, dim=-1, largest=False, sorted=True).indices
            idx = low[..., (count + 1) // 2 - 1 :]  # the middle one, or the middle two
        else:  # kthvalue selects without sorting: cheaper than topk on a CPU
            idx = mag.kthvalue((count + 1) // 2, dim=-1, keepdim=True).indices
            if count % 2 == 0:
                idx = torch.cat([idx, mag.kthvalue(count // 2 + 1, dim=-1, keepdim=True).indices], dim=-1)
        del mag
    return flat.gather(-1, idx).abs().mean(-1) / MAD_SCALE


def universal_threshold(x: Tensor, start_dim: int = 2) -> Tensor:
    """Donoho & Johnstone's universal threshold ``mad_sigma(x) * sqrt(2 ln n)``, ``n`` the count per row.

    ``n = 1`` gives 0. Unlike ``mean|x|`` it can exceed ``max|x|`` (on pure noise that is its
    purpose), so a learned factor in (0, 1) in front of it still matters.
    """
    sigma = mad_sigma(x, start_dim)
    count = math.prod(x.shape[start_dim:])
    return sigma * math.sqrt(2 * math.log(count))


class _ParametricRelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, alpha: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, alpha)
        return torch.where(x > 0, x, alpha * x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, alpha = ctx.saved_tensors
        grad_x = grad_alpha = None
        if ctx.needs_input_grad[1]:
            grad_alpha = _sum_to_shape(grad * x.clamp(max=0), alpha.shape)
        if ctx.needs_input_grad[0]:
            grad_x = torch.where(x > 0, grad, grad * alpha)
        return grad_x, grad_alpha


def parametric_relu(x: Tensor, alpha: Tensor) -> Tensor:
    """``max(x, 0) + alpha * min(x, 0)`` with ``alpha`` broadcastable to ``x`` (APReLU's output).

    Backward keeps only its inputs ``x`` and ``alpha`` (references, no new buffer); autograd of
    the formula would also keep ``max(x, 0)`` and ``min(x, 0)``.
    """
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ShapeError(f"parametric_relu: x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if _use_function(x, alpha):
        return _ParametricRelu.apply(x, alpha)
    return torch.where(x > 0, x, alpha * x)


class _AbsMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, start_dim: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(torch.sign(x).to(torch.int8))
        ctx.start_dim = start_dim
        return x.abs().flatten(start_dim).mean(-1)

    @staticmethod
    def backward(ctx, grad_mean: Tensor):  # type: ignore[override]
        (sign_x,) = ctx.saved_tensors
        count = math.prod(sign_x.shape[ctx.start_dim:])
        view = grad_mean.reshape(grad_mean.shape + (1,) * (sign_x.dim() - ctx.start_dim))
        return (view / count) * sign_x, None  # promotes int8 to grad's dtype in the product


def abs_mean(x: Tensor, start_dim: int = 2) -> Tensor:
    """Mean of ``|x|`` over every dim from ``start_dim`` on: global average pooling of ``|x|``.

    For (N, C, *spatial) input and ``start_dim=2`` this is the (N, C) vector the shrinkage
    sub-network starts from. The backward keeps only ``sign(x)`` as ``int8``.
    """
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ShapeError(f"abs_mean: x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if isinstance(start_dim, bool) or not isinstance(start_dim, int) or not 0 <= start_dim < x.dim():
        raise ConfigError(f"abs_mean: start_dim must be an integer in [0, {x.dim() - 1}] for a {x.dim()}-D x, got {start_dim!r}")
    if _use_function(x):
        return _AbsMean.apply(x, start_dim)
    return x.abs().flatten(start_dim).mean(-1)
