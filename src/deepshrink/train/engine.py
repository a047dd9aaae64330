"""The training loop: plain PyTorch, one process or many under ``torchrun`` (DDP), one run or a
cohort of runs trained together as one stacked network.

:class:`Trainer` owns the model, optimiser and learning-rate schedule and runs epochs over
in-memory :class:`~deepshrink.data.SignalDataset` tensors (no ``DataLoader``: a batch is an
index into tensors already on the device). It is reproducible: the model is initialised from
``seed``, the shuffle of epoch ``e`` is a permutation drawn from a ``torch.Generator`` seeded by
``(seed, e)``, and the global RNGs (used by dropout) are re-seeded at the start of each epoch
from ``(seed, e, rank)`` (both rules in :mod:`deepshrink.seeds`), so a CPU run gives
bit-identical weights every time, and a resumed run equals an uninterrupted one. With a stacked
model (:mod:`deepshrink.models.stacked`) it trains S runs at once, each slice with its own data,
shuffle, loss, best epoch and early stopping.

The loss (all-reduced across processes) and, with ``grad_clip``, the gradient norm are checked
for NaN/Inf on the device at every step; the host reads the flags every
:data:`HOST_CHECK_EVERY` steps, before every checkpoint and at each epoch end, so the hot loop
never waits for the device. A non-finite value raises :class:`TrainingDiverged` naming the
epoch and step where it first happened, with no checkpoint written after it, so ``last.ckpt``
stays the last good state (in a cohort only that slice stops). Parameters are checked again
before every checkpoint.
"""

from __future__ import annotations

import inspect
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepshrink.data.dataset import TrainingData
from deepshrink.errors import CheckpointError, ConfigError, DeepshrinkError
from deepshrink.layers.gates import StackedLinear
from deepshrink.models.registry import build_model
from deepshrink.models.stacked import slice_cross_entropy, unstack_state_dict
from deepshrink.predict.batch import autocast_dtype, full_precision, normalize_batch, param_dtype
from deepshrink.seeds import Purpose, derive_seed
from deepshrink.train.checkpoint import capture_rng, restore_rng
from deepshrink.train.config import RECIPES, TrainConfig, config_hash, resolve
from deepshrink.train.distributed import DistContext, convert_sync_batchnorm, epoch_permutation, shard_batch

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "param_groups",
    "build_optimizer",
    "lr_at",
    "milestone_epochs",
    "seed_everything",
    "check_batch_size",
]

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


class TrainingDiverged(DeepshrinkError):
    """The loss (or the weights) became NaN or infinite; the run stopped before saving them."""


class Writer(Protocol):
    def checkpoint(self, state: dict[str, Any]) -> None: ...
    def metrics(self, history: list[dict[str, Any]]) -> None: ...
    def model(self, model: nn.Module, state: dict[str, Tensor] | None = None) -> None: ...


# ---------------------------------------------------------------------- building blocks
def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global RNG and ``random``."""
    seed = int(seed) % (2**32)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


_DECAY_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, StackedLinear)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimiser groups: convolution and linear weights decay; biases and norm layers don't."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (decay if isinstance(module, _DECAY_TYPES) and name == "weight" else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD with momentum (``paper``) or AdamW (``adamw``), weight decay on weights only; the
    recipe's lr and weight decay where ``cfg`` leaves them unset (:func:`resolve`)."""
    cfg = resolve(cfg)
    groups = param_groups(model, cfg.weight_decay)
    if RECIPES[cfg.recipe]["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def milestone_epochs(cfg: TrainConfig) -> list[int]:
    """0-based epochs where the ``paper`` schedule divides the lr: 40 and 80 for 100 epochs."""
    return [max(1, int(round(m * cfg.epochs))) for m in cfg.milestones]


def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based, counted over the whole run).

    ``paper``: ``lr * lr_decay ** (number of milestones reached)``, constant within an epoch.
    ``adamw``: linear warm-up over ``warmup_epochs``, then cosine from ``lr`` down to 0.
    """
    base = cfg.lr if cfg.lr is not None else resolve(cfg).lr  # the Trainer's config is resolved: no copy per step
    if RECIPES[cfg.recipe]["schedule"] == "step":
        epoch = step // steps_per_epoch
        return base * cfg.lr_decay ** sum(epoch >= m for m in milestone_epochs(cfg))
    total = cfg.epochs * steps_per_epoch
    warm = min(int(round(cfg.warmup_epochs * steps_per_epoch)), max(total - 1, 0))
    if step < warm:
        return base * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def check_batch_size(batch_size: int, n_train: int, world_size: int) -> int:
    """Steps per epoch for a global ``batch_size``; a ConfigError if it cannot work."""
    if batch_size % world_size:
        raise ConfigError(
            f"batch_size {batch_size} is the global batch and must be divisible by the number of "
            f"processes ({world_size}); each process takes batch_size / {world_size}"
        )
    if batch_size // world_size < 2:
        raise ConfigError(
            f"batch_size {batch_size} gives {batch_size // world_size} observation per process and step: BatchNorm "
            "(in the units and in the shrinkage gates, over one value per channel) needs at least 2 to normalise; "
            "use --batch-size 2 or more"
        )
    if n_train < batch_size:
        raise ConfigError(
            f"batch_size {batch_size} is larger than the training set ({n_train} observations); "
            f"lower --batch-size (the last partial batch of an epoch is dropped)"
        )
    return n_train // batch_size


def _state_dict_cpu(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


# ---------------------------------------------------------------------- the trainer
HOST_CHECK_EVERY = 32
"""Optimiser steps between two reads of the device-side finiteness flags (and progress-bar
updates): the hot loop never waits for the device in between. Checkpoints and epoch ends
always check first."""

_LOSS, _GRAD = 1, 2  # what became non-finite


def _single_template(model: nn.Module) -> dict[str, Tensor]:
    """Shapes of the state dict of one slice of a stacked model (built on the meta device)."""
    config = {k: v for k, v in model.config.items() if k != "stack"}
    with torch.device("meta"):
        return build_model(config).state_dict()


def _pad_stack(tensors: list[Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
    """S tensors ``(N_i, ...)`` -> ``(S, max N_i, ...)`` (zero padded) and the ``(S,)`` counts."""
    n_max = max(t.shape[0] for t in tensors)
    out = torch.zeros((len(tensors), n_max) + tuple(tensors[0].shape[1:]), dtype=tensors[0].dtype, device=device)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t.to(device)
    return out, torch.tensor([t.shape[0] for t in tensors], device=device)


class Trainer:
    """Train a model on a training set, validating each epoch; or a cohort of S runs at once.

    With an ordinary model (``stack == 1``) this is one run. With a stacked model
    (:mod:`deepshrink.models.stacked`, ``model.stack == S``) it trains S independent runs as one
    network: ``train_set`` / ``val_set`` are then sequences of S datasets and ``seeds`` the S
    runs' seeds. Every slice draws its own shuffle from its own seed, sees its own data (split,
    noise), has its own loss, accuracy, best epoch, early stopping and divergence check, and
    follows the same learning-rate schedule, so (without dropout) it ends with the weights
    the run alone would have. A slice that diverges (NaN/Inf loss or gradient norm) or stops
    early is frozen: its result is kept as of that moment (see :meth:`slice_result`) and the
    others go on. Stacked training runs in one process (shard a study across processes).

    The cohort's data are put on the device once ((S, N, C, L) tensors) and each batch is
    gathered there; the loop reads device values only every :data:`HOST_CHECK_EVERY` steps,
    at checkpoints and at epoch ends.

    Args:
        cfg: the run's configuration (recipe, epochs, batch, seed, ...); for a cohort the
            training settings shared by its runs.
        model: a deepshrink model (it keeps ``config`` / ``model_name`` for saving).
        train_set: a :class:`~deepshrink.data.dataset.TrainingData` (``x``, ``y``, ``len``; e.g. a
            :class:`~deepshrink.data.SignalDataset`, or a noisy one with ``set_epoch``); S of them
            for a stacked model.
        val_set: validation set (S of them for a stacked model), or None (then the last epoch
            is kept and there is no early stopping).
        seeds: the runs' seeds (stacked model only; one run uses ``cfg.seed``).
        ctx: the process context (:class:`~deepshrink.train.distributed.DistContext`).
        writer: where checkpoints, metrics and weights go (rank 0 writes); None writes nothing.
            For a cohort only ``checkpoint`` and ``metrics`` (with S histories) are called.
        log: called with each log line (rank 0 only).
        compile_mode: with ``cfg.compile``, the ``torch.compile`` mode (e.g. ``reduce-overhead``:
            CUDA graphs; the step has fixed shapes and no host reads between checks).

    After :meth:`fit`, ``history`` holds one dict per epoch (:data:`METRIC_COLUMNS`), and
    ``model`` the final weights (``best_state`` the best ones when validating); for a cohort
    ``histories``, ``status`` and :meth:`slice_result` give each run's.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        train_set: TrainingData | Sequence[TrainingData],
        val_set: TrainingData | Sequence[TrainingData | None] | None = None,
        *,
        seeds: list[int] | None = None,
        ctx: DistContext | None = None,
        writer: Writer | None = None,
        log: Callable[[str], None] | None = None,
        compile_mode: str | None = None,
        on_epoch: Callable[[int], None] | None = None,
    ) -> None:
        self.cfg = cfg = resolve(cfg)  # the recipe's lr and weight decay filled in, once
        self._on_epoch = on_epoch  # called with the epochs done after each epoch (a study's progress)
        self.ctx = ctx or DistContext()
        self.device = self.ctx.device
        self.writer = writer
        self._log = log or (lambda message: None)
        self.stack = S = int(getattr(model, "stack", 1) or 1)
        if S == 1:
            self.train_sets = [train_set]
            self.val_sets = [val_set if val_set is not None and len(val_set) > 0 else None]
            self.seeds = [int(cfg.seed)]
        else:
            self.train_sets = list(train_set)
            vals = list(val_set) if val_set is not None else [None] * S
            self.val_sets = [v if v is not None and len(v) > 0 else None for v in vals]
            self.seeds = [int(s) for s in (seeds if seeds is not None else [])]
            if len(self.train_sets) != S or len(self.val_sets) != S or len(self.seeds) != S:
                raise ConfigError(
                    f"a stacked model of {S} slices needs {S} training sets, validation sets and seeds, got "
                    f"{len(self.train_sets)}, {len(self.val_sets)} and {len(self.seeds)}"
                )
            if self.ctx.distributed:
                raise ConfigError("stacked training runs in one process; shard the study across processes instead")
            if float(model.config.get("drop_rate", 0.0) or 0.0) > 0:
                self.log("note: dropout in a stacked cohort draws from one random stream: slices are "
                         "statistically, not bit-for-bit, the runs alone")  # fmt: skip
        if self.device.type != "cpu" and S == 1:  # keep the data resident on the accelerator (moved once, in place)
            for part in (self.train_set, self.val_set):
                if part is not None and hasattr(part, "to"):
                    part.to(self.device)
        self.amp_dtype = autocast_dtype(cfg.amp, self.device)
        steps = {check_batch_size(cfg.batch_size, len(ds), self.ctx.world_size) for ds in self.train_sets}
        if len(steps) != 1:
            raise ConfigError(
                f"the runs of a cohort must have the same number of steps per epoch, got {sorted(steps)} "
                f"(training sets of {[len(ds) for ds in self.train_sets]} observations at batch {cfg.batch_size})"
            )
        self.steps_per_epoch = steps.pop()

        self.model = model.to(self.device)
        self._dtype = param_dtype(self.model)
        if self.ctx.distributed and cfg.sync_bn:
            self.model = convert_sync_batchnorm(self.model, self.device, self.ctx.bn_group)
        self.optimizer = build_optimizer(cfg, self.model)
        forward: nn.Module = self.model
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            # With synced BatchNorm every process already holds the same running statistics:
            # no need to broadcast buffers before every forward (newer torch renamed the option).
            params = inspect.signature(DDP).parameters
            sync_kw = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
            forward = DDP(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                **{sync_kw: not cfg.sync_bn},
            )
        if cfg.compile:
            forward = torch.compile(forward, mode=compile_mode)
        self.forward_model = forward

        # the cohort's data on the device, once (a fresh-noise set is re-stacked each epoch)
        self._train_x: Tensor | None = None
        self._train_y: Tensor | None = None
        self._val: tuple[Tensor, Tensor, Tensor] | None = None
        self._template = _single_template(self.model) if S > 1 else None
        self._rows = torch.arange(S, device=self.device).unsqueeze(1)  # slice index of each row of a batch

        # progress (lists: one entry per slice)
        self.epoch = 0  # epochs completed
        self.step_in_epoch = 0
        self.global_step = 0
        self.histories: list[list[dict[str, Any]]] = [[] for _ in range(S)]
        self.bests: list[dict[str, Any]] = [{"metric": None, "epoch": None, "bad_epochs": 0} for _ in range(S)]
        self.best_states: list[dict[str, Tensor] | None] = [None] * S
        self.status: list[str] = ["training"] * S  # training, stopped (early), diverged
        self.messages: list[str | None] = [None] * S
        self.final_states: list[dict[str, Tensor] | None] = [None] * S  # slices frozen before the end
        self.partial = torch.zeros(S, 3, dtype=torch.float64)  # loss sum, correct, count of the current epoch
        self.partial_seconds = 0.0
        self._resumed_rng: dict[str, Any] | None = None
        self.last_saved: tuple[int, int] | None = None  # (epochs done, step in epoch) of the last checkpoint
        self._reset_flags()

    # ------------------------------------------------------------------ one run's view
    @property
    def train_set(self) -> TrainingData:
        return self.train_sets[0]

    @property
    def val_set(self) -> TrainingData | None:
        return self.val_sets[0]

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.histories[0]

    @history.setter
    def history(self, value: list[dict[str, Any]]) -> None:
        self.histories[0] = value

    @property
    def best(self) -> dict[str, Any]:
        return self.bests[0]

    @best.setter
    def best(self, value: dict[str, Any]) -> None:
        self.bests[0] = value

    @property
    def best_state(self) -> dict[str, Tensor] | None:
        return self.best_states[0]

    @best_state.setter
    def best_state(self, value: dict[str, Tensor] | None) -> None:
        self.best_states[0] = value

    @property
    def stopped_early(self) -> bool:
        return self.stack == 1 and self.status[0] == "stopped"

    # ------------------------------------------------------------------ logging
    def log(self, message: str) -> None:
        if self.ctx.is_main:
            self._log(message)

    @property
    def validating(self) -> bool:
        return all(v is not None for v in self.val_sets)

    @property
    def done(self) -> bool:
        return self.epoch >= self.cfg.epochs or "training" not in self.status

    def _who(self, i: int) -> str:
        return "" if self.stack == 1 else f"slice {i} (seed {self.seeds[i]}): "

    # ------------------------------------------------------------------ state
    def _gather_rng(self) -> list[dict[str, Any]]:
        """Each process's torch RNG states (rank order); rank 0's also numpy and python."""
        mine = torch.get_rng_state()
        states = self.ctx.all_gather_bytes(mine)
        cuda_states: list[Tensor] | None = None
        if self.device.type == "cuda":
            cuda_states = self.ctx.all_gather_bytes(torch.cuda.get_rng_state(self.device))
        out = []
        for r, s in enumerate(states):
            entry: dict[str, Any] = {"torch": s}
            if cuda_states is not None:
                entry["cuda_device"] = cuda_states[r]
            out.append(entry)
        main = capture_rng()
        out[0].update({"numpy": main["numpy"], "python": main["python"]})
        return out

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (collective under DDP: every process must call it).

        One run keeps the single-run layout (``history`` a list of rows, ``partial`` 3 numbers);
        a cohort stores lists with one entry per slice, and ``stack`` / ``seeds``.
        """
        rng = self._gather_rng()
        partial = self.partial.clone()
        if self.ctx.distributed:
            partial = self.ctx.all_reduce_sum(partial.to(self.device)).cpu()
        one = self.stack == 1
        state = {
            "config_hash": config_hash(self.cfg),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.ctx.world_size,
            "model": _state_dict_cpu(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"recipe": self.cfg.recipe, "step": self.global_step},
            "rng": rng,
            "history": [dict(r) for r in self.history] if one else [[dict(r) for r in h] for h in self.histories],
            "best": dict(self.best) if one else [dict(b) for b in self.bests],
            "best_state": self.best_state if one else list(self.best_states),
            "partial": partial[0] if one else partial,
            "partial_seconds": float(self.partial_seconds),
            "stopped_early": bool(self.stopped_early),
        }
        if not one:
            state.update(stack=self.stack, seeds=list(self.seeds), status=list(self.status),
                         messages=[m or "" for m in self.messages], final_states=list(self.final_states))  # fmt: skip
        return state

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint", extended_from: int | None = None) -> None:
        """Resume from :meth:`state_dict` output (read with :func:`~deepshrink.train.checkpoint.load_checkpoint`).

        Args:
            extended_from: the run's former number of epochs, when this resume extends it (the
                checkpoint then matches the configuration with that number).

        Raises:
            CheckpointError: the checkpoint was made with another configuration or model.
        """
        want = config_hash(self.cfg if extended_from is None else self.cfg.replace(epochs=extended_from))
        if state.get("config_hash") != want:
            raise CheckpointError(
                f"{source}: made with a different configuration (config hash {str(state.get('config_hash'))[:12]} "
                f"!= {want[:12]}); resume with the run's own config.yaml or start a new run"
            )
        if int(state.get("steps_per_epoch", -1)) != self.steps_per_epoch:
            raise CheckpointError(
                f"{source}: made with {state.get('steps_per_epoch')} steps per epoch, this run has "
                f"{self.steps_per_epoch} (the training data differ); start a new run"
            )
        one = self.stack == 1
        if int(state.get("stack", 1)) != self.stack or (not one and list(state.get("seeds", [])) != self.seeds):
            raise CheckpointError(
                f"{source}: made for {state.get('stack', 1)} stacked run(s) with seeds {state.get('seeds')}, "
                f"this cohort has {self.stack} with seeds {self.seeds}"
            )
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(
                f"{source}: does not fit this model/optimizer ({str(err).strip().splitlines()[0][:200]})"
            ) from None
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state["step_in_epoch"])
        self.global_step = int(state["global_step"])
        if one:
            self.histories = [[dict(row) for row in state["history"]]]
            self.bests = [dict(state["best"])]
            self.best_states = [state.get("best_state")]
            self.status = ["stopped" if state.get("stopped_early", False) else "training"]
            partial = state["partial"].to(torch.float64).reshape(1, 3)
        else:
            self.histories = [[dict(row) for row in h] for h in state["history"]]
            self.bests = [dict(b) for b in state["best"]]
            self.best_states = list(state["best_state"])
            self.status = list(state["status"])
            self.messages = [m or None for m in state["messages"]]
            self.final_states = list(state["final_states"])
            partial = state["partial"].to(torch.float64).reshape(self.stack, 3)
        self.last_saved = (self.epoch, self.step_in_epoch)
        self.partial = partial.clone() if self.ctx.is_main else torch.zeros(self.stack, 3, dtype=torch.float64)
        self.partial_seconds = float(state.get("partial_seconds", 0.0)) if self.ctx.is_main else 0.0
        rng = state.get("rng") or []
        if self.step_in_epoch > 0 and len(rng) == self.ctx.world_size:
            self._resumed_rng = rng[self.ctx.rank]
        elif self.step_in_epoch > 0:
            self.log(
                f"note: checkpoint from {len(rng)} process(es), now {self.ctx.world_size}: "
                "RNG streams restart from the seed (only dropout is affected)"
            )

    # ------------------------------------------------------------------ slices
    def slice_states(self) -> list[dict[str, Tensor]]:
        """The current weights of every slice as ordinary (non-stacked) CPU state dicts."""
        if self.stack == 1:
            return [_state_dict_cpu(self.model)]
        return unstack_state_dict(_state_dict_cpu(self.model), self.stack, self._template)

    def slice_result(self, i: int) -> dict[str, Any]:
        """Run ``i`` of the cohort: ``status`` (``finished``, ``stopped`` early or ``diverged``),
        ``message``, ``history``, ``best`` and ``state``: the weights to keep (best epoch with
        ``keep: best`` and validation, else the last; None for a diverged run)."""
        status = self.status[i]
        if status == "diverged":
            state = None
        elif self.cfg.keep == "best" and self.validating and self.best_states[i] is not None:
            state = self.best_states[i]
        elif self.final_states[i] is not None:
            state = self.final_states[i]
        else:
            state = self.slice_states()[i]
        return {"status": "finished" if status == "training" else status, "message": self.messages[i],
                "history": self.histories[i], "best": self.bests[i], "state": state}  # fmt: skip

    def _slice_finite(self) -> Tensor:
        """(S,) bool: every parameter of the slice is finite (one read of the device)."""
        ok = torch.ones(self.stack, dtype=torch.bool, device=self.device)
        for p in self.model.parameters():
            ok &= torch.isfinite(p.detach().reshape(self.stack, -1)).all(1)
        return ok.cpu()

    def _freeze(self, i: int, status: str, message: str | None = None) -> None:
        self.status[i] = status
        self.messages[i] = message
        if status == "stopped" and self.stack > 1:
            self.final_states[i] = self.slice_states()[i]

    # ------------------------------------------------------------------ finiteness, on the device
    def _reset_flags(self) -> None:
        S = self.stack
        self._bad_step = torch.full((S,), -1, dtype=torch.int64, device=self.device)
        self._bad_value = torch.zeros(S, dtype=torch.float64, device=self.device)
        self._bad_kind = torch.zeros(S, dtype=torch.int64, device=self.device)
        self._step_dev = torch.tensor(self.global_step, dtype=torch.int64, device=self.device)

    def _note_bad(self, values: Tensor, kind: int) -> None:
        """Record (on the device, no sync) the first step where a slice's ``values`` are not finite."""
        new = ~torch.isfinite(values.detach()) & (self._bad_step < 0)
        self._bad_step = torch.where(new, self._step_dev, self._bad_step)
        self._bad_value = torch.where(new, values.detach().to(torch.float64), self._bad_value)
        self._bad_kind = torch.where(new, torch.full_like(self._bad_kind, kind), self._bad_kind)

    def _check(self) -> None:
        """Read the finiteness flags: one run raises :class:`TrainingDiverged`; a cohort freezes
        the slices that diverged and goes on."""
        steps = self._bad_step.clone()
        if self.ctx.distributed:  # every process stops at the same first bad step
            steps = torch.where(steps < 0, torch.full_like(steps, 2**62), steps)
            torch.distributed.all_reduce(steps, op=torch.distributed.ReduceOp.MIN)
            steps = torch.where(steps == 2**62, torch.full_like(steps, -1), steps)
        bad = steps.cpu().tolist()
        if max(bad) < 0:
            return
        values, kinds = self._bad_value.cpu().tolist(), self._bad_kind.cpu().tolist()
        local = self._bad_step.cpu().tolist()
        spe = self.steps_per_epoch
        for i, g in enumerate(bad):
            if g < 0 or self.status[i] != "training":
                continue
            what = "loss" if kinds[i] != _GRAD else "gradient norm"
            value = values[i] if local[i] == g else float("nan")
            where = f"at epoch {g // spe + 1}, step {g % spe + 1} of {spe} (global step {g + 1})"
            if self.stack == 1:
                raise TrainingDiverged(
                    f"{what} became {value} {where}; stopped without saving the weights after it; "
                    f"{self._last_good()}; try a lower lr or --grad-clip"
                )
            message = f"{what} became {value} {where}; try a lower lr or --grad-clip"
            self._freeze(i, "diverged", message)
            self.log(f"{self._who(i)}diverged: {message}; the other runs go on")
        self._reset_flags()

    # ------------------------------------------------------------------ saving
    def _save(self, *, epoch_end: bool) -> None:
        self._check()
        if self.stack == 1:
            if not _all_finite(self.model):
                raise TrainingDiverged(
                    f"the weights became NaN or infinite during epoch {self.epoch + (0 if epoch_end else 1)}; "
                    f"stopped without saving them; {self._last_good()}; try a lower lr or --grad-clip"
                )
        else:
            finite = self._slice_finite().tolist()
            for i, ok in enumerate(finite):
                if not ok and self.status[i] == "training":
                    message = f"the weights became NaN or infinite during epoch {self.epoch + (0 if epoch_end else 1)}"
                    self._freeze(i, "diverged", message)
                    self.log(f"{self._who(i)}diverged: {message}; the other runs go on")
        state = self.state_dict()  # collective
        if self.writer is not None and self.ctx.is_main:
            self.writer.checkpoint(state)
        self.last_saved = (self.epoch, self.step_in_epoch)
        if self.writer is not None and self.ctx.is_main and epoch_end:
            if self.stack == 1:
                self.writer.metrics(self.history)
                self.writer.model(self.model, self.best_state if self._keep_best else None)
            else:
                self.writer.metrics(self.histories)
        self.ctx.barrier()

    def _last_good(self) -> str:
        if self.writer is None:
            return "nothing was saved (no run folder)"
        if self.last_saved is None:
            return "no checkpoint had been written yet"
        epoch, step = self.last_saved
        where = f"epoch {epoch}" + (f", step {step}" if step else "")
        return f"last.ckpt keeps the last good state ({where})"

    @property
    def _keep_best(self) -> bool:
        return self.cfg.keep == "best" and self.validating and self.best_state is not None

    # ------------------------------------------------------------------ loop
    def fit(self) -> list[dict[str, Any]]:
        """Train until ``epochs`` (or early stopping); returns the per-epoch history (of run 0)."""
        cfg = self.cfg
        if self.done:
            self.log(f"nothing to do: the run already finished ({self.epoch} epoch(s))")
            return self.history
        if cfg.early_stopping and not self.validating:
            self.log("note: early_stopping needs a validation set (val_fraction > 0); it is off")
        while not self.done:
            self._train_epoch()
        if self.writer is not None and self.ctx.is_main and self.stack == 1:
            self.writer.metrics(self.history)
            self.writer.model(self.model, self.best_state if self._keep_best else None)
        self.ctx.barrier()
        return self.history

    def _reseed(self, epoch: int) -> None:
        """Epoch start: seed the global RNGs from (seed, epoch, rank), or, resuming mid-epoch,
        restore the states saved in the checkpoint (rank 0 also numpy's and python's)."""
        seed_everything(derive_seed(self.seeds[0], Purpose.EPOCH_RNG, int(epoch), int(self.ctx.rank)))
        saved, self._resumed_rng = self._resumed_rng, None
        if saved is None:
            return
        if "numpy" in saved:
            restore_rng(saved)  # torch, numpy, python
        else:
            torch.set_rng_state(saved["torch"])
        if "cuda_device" in saved and self.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_device"], self.device)

    def _epoch_data(self, epoch: int) -> tuple[Tensor, Tensor, Tensor]:
        """Training signals, labels and this epoch's batches of indices, on the device.

        One run: ``(N, C, L)``, ``(N,)`` and the shuffled indices. A cohort: ``(S, N, C, L)``,
        ``(S, N)`` (zero padded to the largest set) and ``(S, steps * batch)``, slice ``i``'s
        shuffle drawn from its own seed.
        """
        for ds in self.train_sets:
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)
        if self.stack == 1:
            x_all, y_all = self.train_set.x, self.train_set.y
            if x_all.device != self.device:
                x_all, y_all = x_all.to(self.device), y_all.to(self.device)
            return x_all, y_all, epoch_permutation(len(self.train_set), self.cfg.seed, epoch).to(self.device)
        fresh = any(getattr(ds, "fresh_per_epoch", False) for ds in self.train_sets)
        if self._train_x is None or fresh:
            self._train_x, _ = _pad_stack([ds.x for ds in self.train_sets], self.device)
            self._train_y, _ = _pad_stack([ds.y for ds in self.train_sets], self.device)
        used = self.steps_per_epoch * self.cfg.batch_size
        perms = torch.stack([epoch_permutation(len(ds), s, epoch)[:used] for ds, s in zip(self.train_sets, self.seeds)])
        return self._train_x, self._train_y, perms.to(self.device)

    def _batch(self, x_all: Tensor, y_all: Tensor, perm: Tensor, step: int) -> tuple[Tensor, Tensor]:
        """The inputs ``(B, S*C, ...)`` and labels (``(B,)``, or ``(B, S)`` for a cohort) of a step."""
        b = self.cfg.batch_size
        if self.stack == 1:
            idx = shard_batch(perm[step * b : (step + 1) * b], self.ctx.rank, self.ctx.world_size)
            xb, yb = x_all.index_select(0, idx), y_all.index_select(0, idx)
        else:
            idx = perm[:, step * b : (step + 1) * b]  # (S, B)
            xs = x_all[self._rows, idx]  # (S, B, C, ...)
            xb = xs.transpose(0, 1).reshape((b, -1) + tuple(xs.shape[3:]))
            yb = y_all[self._rows, idx].transpose(0, 1)
        if xb.dtype != self._dtype:
            xb = xb.to(self._dtype)
        return normalize_batch(xb, self.cfg.normalize), yb

    def _losses(self, logits: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        """Per-slice mean loss ``(S,)`` and correct count ``(S,)`` (one run: a slice of one)."""
        logits = full_precision(logits)
        correct = (logits.detach().argmax(-1) == yb).reshape(len(yb), -1).sum(0)
        return slice_cross_entropy(logits, yb, self.cfg.label_smoothing), correct

    def _clip(self, max_norm: float) -> Tensor:
        """Clip each slice's gradient norm to ``max_norm`` (one run: the global norm); (S,) norms."""
        if self.stack == 1:
            return torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm).reshape(1)
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        rows = [g.view(self.stack, -1) for g in grads]
        norm = torch.stack([torch.linalg.vector_norm(r, 2.0, dim=1) for r in rows]).norm(2.0, dim=0)
        coef = (max_norm / (norm + 1e-6)).clamp(max=1.0)
        for r in rows:
            r.mul_(coef.unsqueeze(1).to(r.dtype))
        return norm

    def _train_epoch(self) -> None:
        cfg, ctx, S = self.cfg, self.ctx, self.stack
        epoch = self.epoch  # 0-based index of the epoch being trained
        started = time.perf_counter()
        self._reseed(epoch)
        x_all, y_all, perm = self._epoch_data(epoch)
        self.forward_model.train()
        acc = self.partial.to(self.device) if self.step_in_epoch else torch.zeros(S, 3, dtype=torch.float64, device=self.device)
        if not self.step_in_epoch:
            self.partial_seconds = 0.0
        self._reset_flags()
        counts = torch.full((S,), float(cfg.batch_size // ctx.world_size), dtype=torch.float64, device=self.device)
        bar = self._progress_bar(epoch)
        lr = lr_at(cfg, self.global_step, self.steps_per_epoch)
        try:
            for step in range(self.step_in_epoch, self.steps_per_epoch):
                xb, yb = self._batch(x_all, y_all, perm, step)
                lr = lr_at(cfg, self.global_step, self.steps_per_epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None):
                    logits = self.forward_model(xb)
                if S > 1:
                    logits = logits.reshape(yb.shape[0], S, -1)
                losses, correct = self._losses(logits, yb)
                checked = losses.detach().reshape(1).to(torch.float64) if S == 1 else losses.detach()
                if ctx.distributed:  # one run under DDP: every process sees the summed loss
                    checked = ctx.all_reduce_sum(checked.clone())
                self._note_bad(checked, _LOSS)
                self.optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                if cfg.grad_clip is not None:
                    self._note_bad(self._clip(cfg.grad_clip), _GRAD)
                self.optimizer.step()
                acc += torch.stack([losses.detach().to(torch.float64) * counts, correct.to(torch.float64), counts], 1)
                self.global_step += 1
                self._step_dev += 1
                self.step_in_epoch = step + 1
                if self.global_step % HOST_CHECK_EVERY == 0:
                    self._check()
                    if bar is not None:
                        bar.set_postfix(loss=f"{float(checked.sum()) / ctx.world_size:.4f}", lr=f"{lr:.3g}", refresh=False)
                if bar is not None:
                    bar.update(1)
                if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0 and step + 1 < self.steps_per_epoch:
                    self.partial = acc.detach().cpu()
                    self.partial_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self._save(epoch_end=False)
                if "training" not in self.status:
                    break
        finally:
            if bar is not None:
                bar.close()
        self._check()
        totals = ctx.all_reduce_sum(acc.clone()).cpu()
        vals = self._evaluate_slices() if self.validating else None
        self.partial_seconds += time.perf_counter() - started
        seconds = round(self.partial_seconds / S, 3)  # a cohort's time, shared equally by its runs
        rows: list[dict[str, Any] | None] = []
        for i in range(S):
            if self.status[i] != "training":
                rows.append(None)
                continue
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": float(totals[i, 0] / totals[i, 2]),
                                   "train_acc": float(totals[i, 1] / totals[i, 2]), "val_loss": float("nan"),
                                   "val_acc": float("nan"), "lr": lr, "seconds": seconds}  # fmt: skip
            if vals is not None:
                row["val_loss"], row["val_acc"] = vals[i]["loss"], vals[i]["accuracy"]
            self.histories[i].append(row)
            rows.append(row)
        self.epoch = epoch + 1
        self.step_in_epoch = 0
        self.partial = torch.zeros(S, 3, dtype=torch.float64)
        self.partial_seconds = 0.0
        for i, row in enumerate(rows):
            if row is not None:
                self._update_best(i, row)
                self.log(self._who(i) + self.epoch_line(row))
        self._save(epoch_end=True)
        if self._on_epoch is not None:
            self._on_epoch(self.epoch)

    def _update_best(self, i: int, row: dict[str, Any]) -> None:
        if not self.validating:
            return
        value = row[self.cfg.monitor]
        best = self.bests[i]["metric"]
        better = best is None or (value < best if self.cfg.monitor == "val_loss" else value > best)
        if better and math.isfinite(value):
            self.bests[i] = {"metric": value, "epoch": row["epoch"], "bad_epochs": 0}
            if self.cfg.keep == "best":
                self.best_states[i] = self.slice_states()[i]
        else:
            self.bests[i]["bad_epochs"] = int(self.bests[i]["bad_epochs"]) + 1
            if self.cfg.early_stopping and self.bests[i]["bad_epochs"] >= self.cfg.early_stopping:
                self._freeze(i, "stopped")
                self.log(
                    f"{self._who(i)}early stopping: {self.cfg.monitor} has not improved for {self.bests[i]['bad_epochs']} "
                    f"epoch(s) (best {best:.4f} at epoch {self.bests[i]['epoch']})"
                )

    def epoch_line(self, row: dict[str, Any]) -> str:
        """One log line for an epoch's row of metrics."""
        parts = [f"epoch {row['epoch']}/{self.cfg.epochs}", f"train_loss {row['train_loss']:.4f}",
                 f"train_acc {row['train_acc']:.4f}"]  # fmt: skip
        if self.validating:
            parts += [f"val_loss {row['val_loss']:.4f}", f"val_acc {row['val_acc']:.4f}"]
        parts += [f"lr {row['lr']:.3g}", f"{row['seconds']:.1f}s"]
        return "  ".join(parts)

    def _progress_bar(self, epoch: int) -> Any:
        mode = self.cfg.progress
        if not self.ctx.is_main or mode in ("log", "off"):
            return None
        if mode == "auto" and not (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.steps_per_epoch, initial=self.step_in_epoch, desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
                    leave=False, file=sys.stdout, dynamic_ncols=True)  # fmt: skip

    # ------------------------------------------------------------------ evaluation
    def _evaluate_slices(self) -> list[dict[str, float]]:
        if self.stack == 1:
            return [self.evaluate(self.val_set)]
        return self.evaluate_cohort(self.val_sets, cache=True)

    @torch.no_grad()
    def evaluate_cohort(self, datasets: Sequence[TrainingData], *, cache: bool = False) -> list[dict[str, float]]:
        """Mean loss and accuracy of each slice on its own dataset (a stacked model)."""
        S = self.stack
        if cache and self._val is not None:
            vx, vy, counts = self._val
        else:
            vx, counts = _pad_stack([ds.x for ds in datasets], self.device)
            vy, _ = _pad_stack([ds.y for ds in datasets], self.device)
            if cache:
                self._val = (vx, vy, counts)
        model = self.model
        was_training = model.training
        model.eval()
        sums = torch.zeros(S, 2, dtype=torch.float64, device=self.device)
        try:
            for start in range(0, vx.shape[1], self.cfg.eval_batch_size):
                xs = vx[:, start : start + self.cfg.eval_batch_size]
                b = xs.shape[1]
                xb = normalize_batch(xs.transpose(0, 1).reshape((b, -1) + tuple(xs.shape[3:])).to(self._dtype), self.cfg.normalize)
                yb = vy[:, start : start + b].transpose(0, 1)
                valid = (torch.arange(start, start + b, device=self.device).unsqueeze(1) < counts.unsqueeze(0))
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None):
                    logits = full_precision(model(xb)).reshape(b, S, -1)
                ce = F.cross_entropy(logits.permute(0, 2, 1), yb, reduction="none")
                hit = (logits.argmax(-1) == yb)
                sums += torch.stack([torch.where(valid, ce, 0).sum(0).to(torch.float64),
                                     (hit & valid).sum(0).to(torch.float64)], 1)  # fmt: skip
        finally:
            model.train(was_training)
        sums, n = sums.cpu(), counts.cpu().to(torch.float64)
        return [{"loss": float(sums[i, 0] / n[i]), "accuracy": float(sums[i, 1] / n[i]), "count": float(n[i])} for i in range(S)]

    @torch.no_grad()
    def evaluate(self, dataset: TrainingData) -> dict[str, float]:
        """Mean loss and accuracy on ``dataset`` (sharded across processes, then all-reduced)."""
        ctx = self.ctx
        model = self.model
        was_training = model.training
        model.eval()
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        idx_all = torch.arange(ctx.rank, len(dataset), ctx.world_size)
        x_all, y_all = dataset.x, dataset.y
        try:
            for start in range(0, idx_all.numel(), self.cfg.eval_batch_size):
                idx = idx_all[start : start + self.cfg.eval_batch_size].to(x_all.device)
                xb = normalize_batch(x_all.index_select(0, idx).to(self.device, self._dtype), self.cfg.normalize)
                yb = y_all.index_select(0, idx).to(self.device)
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None):
                    logits = full_precision(model(xb))
                sums += torch.stack([
                    F.cross_entropy(logits, yb, reduction="sum").to(torch.float64),
                    (logits.argmax(1) == yb).sum().to(torch.float64),
                    torch.tensor(float(yb.shape[0]), dtype=torch.float64, device=self.device),
                ])  # fmt: skip
        finally:
            model.train(was_training)
        ctx.all_reduce_sum(sums)
        count = float(sums[2])
        return {"loss": float(sums[0]) / count if count else float("nan"),
                "accuracy": float(sums[1]) / count if count else float("nan"), "count": count}  # fmt: skip
