"""How much a network's forward pass touches per sample: its largest feature map.

On a CPU the time of a training step depends on whether its feature maps stay in the cache, so
the study runner sizes its CPU cohorts by this number (:func:`deepshrink.study.plan.default_stack`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["largest_feature_map"]


def largest_feature_map(model: nn.Module, sample_shape: Sequence[int]) -> int:
    """Elements of the largest tensor any layer of ``model`` outputs for one sample of ``sample_shape``.

    Args:
        model: an unstacked network (its ``stack`` is 1).
        sample_shape: one observation's shape, ``(channels, length)`` or ``(channels, H, W)``.

    One forward pass of a zero sample in eval mode, without gradients; the model's mode is
    restored. The input itself counts as a feature map.
    """
    shape = tuple(int(d) for d in sample_shape)
    largest = [int(torch.Size(shape).numel())]

    def note(_module: nn.Module, _inputs: tuple, output: object) -> None:
        if isinstance(output, Tensor) and output.dim() > 0:
            largest[0] = max(largest[0], output[0].numel())

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(note) for m in leaves]
    training = model.training
    try:
        ref = next(model.parameters(), None)
        x = torch.zeros((1, *shape), device=ref.device if ref is not None else None)
        with torch.no_grad():
            model.eval()(x)
    finally:
        model.train(training)
        for h in handles:
            h.remove()
    return largest[0]
