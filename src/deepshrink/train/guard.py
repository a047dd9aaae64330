"""The divergence check of a training loop, kept on the device so the hot loop never waits.

Each step the loss (and, with clipping, the gradient norm) of every slice goes through
:meth:`DivergenceGuard.note`, which records on the device the first step where a slice's value
was not finite. The host reads those flags only now and then (:meth:`DivergenceGuard.read`),
and gets back, for each slice that went bad since the last read, where and how.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from deepshrink.train.distributed import DistContext

__all__ = ["LOSS", "GRAD", "Divergence", "DivergenceGuard", "slices_finite"]

LOSS, GRAD = 1, 2
"""What became non-finite: the loss or the gradient norm."""

_NONE = 2**62  # "no bad step" while taking the minimum over processes


@dataclass(frozen=True)
class Divergence:
    """Slice ``slice`` first went non-finite at optimiser step ``step`` (0-based, whole run)."""

    slice: int
    step: int
    what: str  # "loss" or "gradient norm"
    value: float  # NaN when another process saw it first

    def where(self, steps_per_epoch: int) -> str:
        spe = steps_per_epoch
        return f"at epoch {self.step // spe + 1}, step {self.step % spe + 1} of {spe} (global step {self.step + 1})"


class DivergenceGuard:
    """Device-side flags of ``stack`` slices: the first bad step, its value and its kind."""

    def __init__(self, stack: int, device: torch.device) -> None:
        self.stack, self.device = stack, device
        self.reset(0)

    def reset(self, global_step: int) -> None:
        """Forget every flag; steps are counted on from ``global_step``."""
        self._clear()
        self._now = torch.tensor(global_step, dtype=torch.int64, device=self.device)

    def _clear(self) -> None:
        S, device = self.stack, self.device
        self._step = torch.full((S,), -1, dtype=torch.int64, device=device)
        self._value = torch.zeros(S, dtype=torch.float64, device=device)
        self._kind = torch.zeros(S, dtype=torch.int64, device=device)

    def advance(self) -> None:
        """One optimiser step done (on the device: no sync)."""
        self._now += 1

    def note(self, values: Tensor, kind: int) -> None:
        """Record (on the device, no sync) the first step where a slice's ``values`` are not finite."""
        new = ~torch.isfinite(values.detach()) & (self._step < 0)
        self._step = torch.where(new, self._now, self._step)
        self._value = torch.where(new, values.detach().to(torch.float64), self._value)
        self._kind = torch.where(new, torch.full_like(self._kind, kind), self._kind)

    def read(self, ctx: DistContext) -> list[Divergence]:
        """The slices that went bad (every process agrees on the first bad step); the flags are then cleared."""
        steps = self._step.clone()
        if ctx.distributed:
            steps = torch.where(steps < 0, torch.full_like(steps, _NONE), steps)
            torch.distributed.all_reduce(steps, op=torch.distributed.ReduceOp.MIN)
            steps = torch.where(steps == _NONE, torch.full_like(steps, -1), steps)
        bad = steps.cpu().tolist()
        if max(bad) < 0:
            return []
        values, kinds, local = self._value.cpu().tolist(), self._kind.cpu().tolist(), self._step.cpu().tolist()
        out = [
            Divergence(i, g, "loss" if kinds[i] != GRAD else "gradient norm", values[i] if local[i] == g else float("nan"))
            for i, g in enumerate(bad)
            if g >= 0
        ]
        self._clear()  # the step counter runs on: no read of it from the device
        return out


def slices_finite(model: nn.Module, stack: int) -> list[bool]:
    """For each slice of a stacked model: every parameter is finite (one read of the device)."""
    ok = torch.ones(stack, dtype=torch.bool, device=next(model.parameters()).device)
    for p in model.parameters():
        ok &= torch.isfinite(p.detach()).reshape(stack, -1).all(1)
    return ok.cpu().tolist()
