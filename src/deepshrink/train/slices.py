"""What a training loop keeps for each run it trains: a cohort is S of them, a single run one.

A :class:`SliceRecord` holds a run's history (one row per epoch), its best epoch so far, the
weights of that epoch, and whether it is still training, stopped early or diverged. The
checkpoint layout is here too: one run keeps the layout single-run checkpoints always had
(a list of rows, one ``best``), a cohort stores one entry per slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

__all__ = ["SliceRecord", "records_state", "records_from_state"]


def _no_best() -> dict[str, Any]:
    return {"metric": None, "epoch": None, "bad_epochs": 0}


@dataclass
class SliceRecord:
    """One run of a cohort (or the run alone).

    ``status`` is ``training``, ``stopped`` (early) or ``diverged``; ``message`` says why a run
    stopped; ``final_state`` keeps the weights of a run frozen before the cohort's end.
    """

    seed: int
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=_no_best)
    best_state: dict[str, Tensor] | None = None
    status: str = "training"
    message: str | None = None
    final_state: dict[str, Tensor] | None = None

    @property
    def training(self) -> bool:
        return self.status == "training"

    def score(self, value: float, epoch: int, monitor: str) -> bool:
        """Compare an epoch's monitored ``value`` with the best so far: True (and it becomes the
        best) if it improves, else one more epoch without improvement."""
        best = self.best["metric"]
        better = best is None or (value < best if monitor == "val_loss" else value > best)
        if better and math.isfinite(value):
            self.best = {"metric": value, "epoch": epoch, "bad_epochs": 0}
            return True
        self.best["bad_epochs"] = int(self.best["bad_epochs"]) + 1
        return False


def records_state(records: list[SliceRecord]) -> dict[str, Any]:
    """The records as checkpoint entries (one run in the single-run layout)."""
    if len(records) == 1:
        r = records[0]
        return {"history": [dict(row) for row in r.history], "best": dict(r.best), "best_state": r.best_state,
                "stopped_early": r.status == "stopped"}  # fmt: skip
    return {
        "history": [[dict(row) for row in r.history] for r in records],
        "best": [dict(r.best) for r in records],
        "best_state": [r.best_state for r in records],
        "stopped_early": False,
        "stack": len(records),
        "seeds": [r.seed for r in records],
        "status": [r.status for r in records],
        "messages": [r.message or "" for r in records],
        "final_states": [r.final_state for r in records],
    }


def records_from_state(state: dict[str, Any], seeds: list[int]) -> list[SliceRecord]:
    """Undo :func:`records_state` for runs with ``seeds``."""
    if len(seeds) == 1:
        return [SliceRecord(seeds[0], [dict(row) for row in state["history"]], dict(state["best"]), state.get("best_state"),
                            "stopped" if state.get("stopped_early", False) else "training")]  # fmt: skip
    return [
        SliceRecord(seed, [dict(row) for row in history], dict(best), best_state, status, message or None, final)
        for seed, history, best, best_state, status, message, final in zip(
            seeds, state["history"], state["best"], state["best_state"], state["status"], state["messages"],
            state["final_states"],
        )
    ]  # fmt: skip
