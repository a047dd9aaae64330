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
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from deepshrink.errors import ConfigError, ShapeError

__all__ = ["soft_threshold", "soft_threshold_reference", "shrink_add", "abs_mean"]


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
        grad_tau = _sum_to_shape(grad_signed, ctx.tau_shape).neg_().to(ctx.tau_dtype)
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
