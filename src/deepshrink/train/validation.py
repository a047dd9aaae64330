"""Mean loss and accuracy of a model on labelled data, as the training loop validates each epoch.

:func:`dataset_scores` covers one model (its dataset sharded over the processes of a DDP run,
the sums all-reduced); :func:`cohort_scores` a stacked model whose slices each have their own
dataset, padded to one ``(S, N, ...)`` tensor (:func:`pad_stack`) and masked where a slice's set
is shorter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepshrink.data.dataset import TrainingData
from deepshrink.predict.batch import autocast, full_precision, normalize_batch
from deepshrink.train.distributed import DistContext

__all__ = ["Precision", "pad_stack", "dataset_scores", "cohort_scores"]


@dataclass(frozen=True)
class Precision:
    """How a model's inputs are prepared: the dtype it computes in, autocast (None: off), the
    normalisation of each batch and the batch size of a pass without gradients."""

    dtype: torch.dtype
    amp_dtype: torch.dtype | None
    normalize: str
    batch_size: int


def pad_stack(tensors: list[Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
    """S tensors ``(N_i, ...)`` -> ``(S, max N_i, ...)`` (zero padded) and the ``(S,)`` counts."""
    n_max = max(t.shape[0] for t in tensors)
    out = torch.zeros((len(tensors), n_max) + tuple(tensors[0].shape[1:]), dtype=tensors[0].dtype, device=device)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t.to(device)
    return out, torch.tensor([t.shape[0] for t in tensors], device=device)


def _scores(loss: float, correct: float, count: float) -> dict[str, float]:
    return {"loss": loss / count if count else float("nan"), "accuracy": correct / count if count else float("nan"),
            "count": count}  # fmt: skip


@torch.no_grad()
def dataset_scores(model: nn.Module, dataset: TrainingData, ctx: DistContext, how: Precision) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``dataset`` (sharded across processes, then all-reduced)."""
    device = ctx.device
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    idx_all = torch.arange(ctx.rank, len(dataset), ctx.world_size)
    x_all, y_all = dataset.x, dataset.y
    try:
        for start in range(0, idx_all.numel(), how.batch_size):
            idx = idx_all[start : start + how.batch_size].to(x_all.device)
            xb = normalize_batch(x_all.index_select(0, idx).to(device, how.dtype), how.normalize)
            yb = y_all.index_select(0, idx).to(device)
            with autocast(device, how.amp_dtype):
                logits = full_precision(model(xb))
            sums += torch.stack([
                F.cross_entropy(logits, yb, reduction="sum").to(torch.float64),
                (logits.argmax(1) == yb).sum().to(torch.float64),
                torch.tensor(float(yb.shape[0]), dtype=torch.float64, device=device),
            ])  # fmt: skip
    finally:
        model.train(was_training)
    ctx.all_reduce_sum(sums)
    return _scores(float(sums[0]), float(sums[1]), float(sums[2]))


@torch.no_grad()
def cohort_scores(model: nn.Module, x: Tensor, y: Tensor, counts: Tensor, how: Precision) -> list[dict[str, float]]:
    """Mean loss and accuracy of each slice of a stacked model on its own data: ``x`` ``(S, N, C, ...)``
    and ``y`` ``(S, N)`` from :func:`pad_stack`, of which slice ``i`` holds ``counts[i]`` rows."""
    S, device = x.shape[0], x.device
    was_training = model.training
    model.eval()
    sums = torch.zeros(S, 2, dtype=torch.float64, device=device)
    try:
        for start in range(0, x.shape[1], how.batch_size):
            xs = x[:, start : start + how.batch_size]
            b = xs.shape[1]
            xb = normalize_batch(xs.transpose(0, 1).reshape((b, -1) + tuple(xs.shape[3:])).to(how.dtype), how.normalize)
            yb = y[:, start : start + b].transpose(0, 1)
            valid = torch.arange(start, start + b, device=device).unsqueeze(1) < counts.unsqueeze(0)
            with autocast(device, how.amp_dtype):
                logits = full_precision(model(xb)).reshape(b, S, -1)
            ce = F.cross_entropy(logits.permute(0, 2, 1), yb, reduction="none")
            hit = logits.argmax(-1) == yb
            sums += torch.stack([torch.where(valid, ce, 0).sum(0).to(torch.float64),
                                 (hit & valid).sum(0).to(torch.float64)], 1)  # fmt: skip
    finally:
        model.train(was_training)
    sums, n = sums.cpu(), counts.cpu().to(torch.float64)
    return [_scores(float(sums[i, 0]), float(sums[i, 1]), float(n[i])) for i in range(S)]
