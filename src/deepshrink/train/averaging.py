"""Weight averaging: an exponential moving average (EMA) of a model's weights, the model that is
validated, kept and saved when ``ema_decay`` is set.

The average follows every optimiser step, ``avg <- d * avg + (1 - d) * w``, with the usual
warm-up of the decay, ``d = min(ema_decay, (1 + n) / (10 + n))`` after n updates, so early
weights (still far from any solution) fade quickly. BatchNorm's running statistics are averaged
the same way (integer buffers are copied). A stacked cohort is averaged as one network: each
slice's average is exactly the average its run alone would have.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """The running average of ``model``'s state; ``model`` (this object's copy) holds it.

    Args:
        model: the network being trained (its state is read after each optimiser step).
        decay: the longest-run decay per step, e.g. 0.999 (about the last 1,000 steps).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        live, averaged = model.state_dict(), self.model.state_dict()
        self._floats = [(averaged[k], live[k]) for k in live if live[k].is_floating_point()]
        self._others = [(averaged[k], live[k]) for k in live if not live[k].is_floating_point()]

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Fold in the live model's state after an optimiser step."""
        weight = 1.0 - self.current_decay()
        self.updates += 1
        if self._floats:
            averaged, live = zip(*self._floats)
            torch._foreach_lerp_(list(averaged), list(live), weight)
        for averaged_t, live_t in self._others:
            averaged_t.copy_(live_t)

    def state_dict(self) -> dict[str, Any]:
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        return {"updates": self.updates, "state": state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["state"])

    def copy_to(self, model: nn.Module) -> None:
        """Put the averaged state into ``model`` (the end of training)."""
        model.load_state_dict(self.model.state_dict())

