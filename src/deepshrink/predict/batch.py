"""A model's outputs for a batch of signals: the input normalisation every model of a run shares,
logits in eval mode in chunks, class probabilities; the precision rules training uses too."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from deepshrink.errors import ConfigError

__all__ = ["autocast", "autocast_dtype", "full_precision", "normalize_batch", "param_dtype", "predict_logits", "predict_proba"]


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """bf16 for ``amp: bf16``, or ``auto`` on CUDA; None (full precision) otherwise."""
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast(device: torch.device, amp_dtype: torch.dtype | None) -> torch.autocast:
    """The autocast context of a forward pass: ``amp_dtype`` on ``device``, or off when None."""
    return torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None)


def param_dtype(model: nn.Module) -> torch.dtype:
    """The dtype the model computes in: that of its first floating-point parameter (float32 if none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def full_precision(t: Tensor) -> Tensor:
    """``t`` in float32, or float64 when the model computes in float64 (never downcast)."""
    return t if t.dtype == torch.float64 else t.float()


def normalize_batch(x: Tensor, mode: str) -> Tensor:
    """``per_sample``: zero mean and unit variance per observation and channel; ``none``: as is."""
    if mode == "none":
        return x
    if mode == "per_sample":
        flat = x.flatten(2)
        mean = flat.mean(-1, keepdim=True)
        std = flat.std(-1, keepdim=True, unbiased=False).clamp_min(1e-8)
        return ((flat - mean) / std).view_as(x)
    raise ConfigError(f"normalize must be 'none' or 'per_sample', got {mode!r}")


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    x: Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    normalize: str = "none",
    amp_dtype: torch.dtype | None = None,
) -> Tensor:
    """Logits (float32, or float64 for a float64 model; on the CPU) of ``model`` in eval mode for signals ``x`` ``(N, C, ...)``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, x.shape[0], batch_size):
            xb = normalize_batch(x[start : start + batch_size].to(device, param_dtype(model)), normalize)
            with autocast(device, amp_dtype):
                out.append(full_precision(model(xb)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def predict_proba(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 512, device: str | torch.device = "cpu",
    normalize: str | None = None,
) -> np.ndarray:
    """Class probabilities ``(N, K)`` of a loaded model (normalisation from its ``input_spec``)."""
    if normalize is None:
        normalize = (getattr(model, "input_spec", None) or {}).get("normalize", "none")
    dev = torch.device(device)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    logits = predict_logits(model.to(dev), xt, batch_size=batch_size, device=dev, normalize=normalize)
    return torch.softmax(logits, dim=1).numpy()
