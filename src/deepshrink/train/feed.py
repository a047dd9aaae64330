"""The training batches of a run, or of S runs trained together, straight from tensors on the device.

No ``DataLoader``: a batch is an index into tensors already in memory. One run shuffles its set
with the permutation of ``(seed, epoch)`` and, under DDP, takes its process's share of each
batch. A cohort of S runs pads their sets into one ``(S, N, C, ...)`` tensor (put on the device
once, or each epoch for fresh noise), draws each run's shuffle from its own seed, and gathers a
batch ``(B, S*C, ...)`` for the stacked network: slice ``i`` sees only run ``i``'s data.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepshrink.data.dataset import TrainingData
from deepshrink.errors import ConfigError
from deepshrink.predict.batch import normalize_batch
from deepshrink.train.config import TrainConfig
from deepshrink.train.distributed import DistContext, epoch_permutation, shard_batch
from deepshrink.train.schedule import check_batch_size
from deepshrink.train.validation import pad_stack

__all__ = ["BatchFeed", "cohort_parts"]


def cohort_parts(stack: int, train_set: Any, val_set: Any, seeds: list[int] | None, cfg: TrainConfig,
                 ctx: DistContext) -> tuple[list[TrainingData], list[TrainingData | None], list[int]]:  # fmt: skip
    """The training sets, validation sets (None where empty) and seeds of ``stack`` runs (one run:
    ``train_set``, ``val_set`` and ``cfg.seed``; a cohort: S of each)."""
    if stack == 1:
        trains, vals, seeds = [train_set], [val_set], [int(cfg.seed)]
    else:
        trains, vals = list(train_set), list(val_set) if val_set is not None else [None] * stack
        seeds = [int(s) for s in (seeds if seeds is not None else [])]
        if len(trains) != stack or len(vals) != stack or len(seeds) != stack:
            raise ConfigError(
                f"a stacked model of {stack} slices needs {stack} training sets, validation sets and seeds, got "
                f"{len(trains)}, {len(vals)} and {len(seeds)}"
            )
        if ctx.distributed:
            raise ConfigError("stacked training runs in one process; shard the study across processes instead")
    return trains, [v if v is not None and len(v) > 0 else None for v in vals], seeds


class BatchFeed:
    """Each epoch's shuffled batches of ``train_sets`` (one per run) for a model computing in ``dtype``.

    Raises:
        ConfigError: the batch size does not fit a training set or the processes, or the runs
            of a cohort would take different numbers of steps per epoch.
    """

    def __init__(self, train_sets: list[TrainingData], seeds: list[int], cfg: TrainConfig, ctx: DistContext,
                 dtype: torch.dtype) -> None:  # fmt: skip
        self.train_sets, self.seeds, self.ctx, self.dtype = train_sets, seeds, ctx, dtype
        self.batch_size, self.normalize = cfg.batch_size, cfg.normalize
        self.stack = len(train_sets)
        steps = {check_batch_size(cfg.batch_size, len(ds), ctx.world_size) for ds in train_sets}
        if len(steps) != 1:
            raise ConfigError(
                f"the runs of a cohort must have the same number of steps per epoch, got {sorted(steps)} "
                f"(training sets of {[len(ds) for ds in train_sets]} observations at batch {cfg.batch_size})"
            )
        self.steps_per_epoch = steps.pop()
        self._stacked: tuple[Tensor, Tensor] | None = None
        self._rows = torch.arange(self.stack, device=ctx.device).unsqueeze(1)  # slice index of each row of a batch

    def epoch(self, epoch: int) -> tuple[Tensor, Tensor, Tensor]:
        """Training signals, labels and this epoch's batches of indices, on the device.

        One run: ``(N, C, L)``, ``(N,)`` and the shuffled indices. A cohort: ``(S, N, C, L)``,
        ``(S, N)`` (zero padded to the largest set) and ``(S, steps * batch)``, slice ``i``'s
        shuffle drawn from its own seed.
        """
        device = self.ctx.device
        for ds in self.train_sets:
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)
        if self.stack == 1:
            ds = self.train_sets[0]
            x_all, y_all = ds.x, ds.y
            if x_all.device != device:
                x_all, y_all = x_all.to(device), y_all.to(device)
            return x_all, y_all, epoch_permutation(len(ds), self.seeds[0], epoch).to(device)
        fresh = any(getattr(ds, "fresh_per_epoch", False) for ds in self.train_sets)
        if self._stacked is None or fresh:
            x, _ = pad_stack([ds.x for ds in self.train_sets], device)
            y, _ = pad_stack([ds.y for ds in self.train_sets], device)
            self._stacked = (x, y)
        used = self.steps_per_epoch * self.batch_size
        perms = torch.stack([epoch_permutation(len(ds), s, epoch)[:used] for ds, s in zip(self.train_sets, self.seeds)])
        return *self._stacked, perms.to(device)

    def batch(self, x_all: Tensor, y_all: Tensor, perm: Tensor, step: int) -> tuple[Tensor, Tensor]:
        """The inputs ``(B, S*C, ...)`` and labels (``(B,)``, or ``(B, S)`` for a cohort) of a step."""
        b = self.batch_size
        if self.stack == 1:
            idx = shard_batch(perm[step * b : (step + 1) * b], self.ctx.rank, self.ctx.world_size)
            xb, yb = x_all.index_select(0, idx), y_all.index_select(0, idx)
        else:
            idx = perm[:, step * b : (step + 1) * b]  # (S, B)
            xs = x_all[self._rows, idx]  # (S, B, C, ...)
            xb = xs.transpose(0, 1).reshape((b, -1) + tuple(xs.shape[3:]))
            yb = y_all[self._rows, idx].transpose(0, 1)
        if xb.dtype != self.dtype:
            xb = xb.to(self.dtype)
        return normalize_batch(xb, self.normalize), yb
