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
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from deepshrink.data.dataset import TrainingData
from deepshrink.errors import CheckpointError, DeepshrinkError
from deepshrink.models.registry import build_model
from deepshrink.models.stacked import slice_cross_entropy, unstack_state_dict
from deepshrink.predict.batch import autocast, autocast_dtype, full_precision, param_dtype
from deepshrink.seeds import Purpose, derive_seed, seed_everything
from deepshrink.train.averaging import WeightAverage
from deepshrink.train.checkpoint import check_resumable, gather_rng, restore_process_rng
from deepshrink.train.compiling import maybe_compile
from deepshrink.train.config import TrainConfig, config_hash, resolve
from deepshrink.train.distributed import DistContext, convert_sync_batchnorm
from deepshrink.train.feed import BatchFeed, cohort_parts
from deepshrink.train.guard import GRAD, LOSS, DivergenceGuard, slices_finite
from deepshrink.train.schedule import build_optimizer, clip_grad_norms, lr_at
from deepshrink.train.slices import SliceRecord, records_from_state, records_state
from deepshrink.train.validation import Precision, cohort_scores, dataset_scores, pad_stack

__all__ = ["Trainer", "TrainingDiverged", "epoch_line"]

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")

HOST_CHECK_EVERY = 32
"""Optimiser steps between two reads of the device-side finiteness flags (and progress-bar
updates): the hot loop never waits for the device in between. Checkpoints and epoch ends
always check first."""


class TrainingDiverged(DeepshrinkError):
    """The loss (or the weights) became NaN or infinite; the run stopped before saving them."""


class Writer(Protocol):
    def checkpoint(self, state: dict[str, Any]) -> None: ...
    def metrics(self, history: list[dict[str, Any]]) -> None: ...
    def model(self, model: nn.Module, state: dict[str, Tensor] | None = None) -> None: ...


def _state_dict_cpu(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _single_template(model: nn.Module) -> dict[str, Tensor]:
    """Shapes of the state dict of one slice of a stacked model (built on the meta device)."""
    config = {k: v for k, v in model.config.items() if k != "stack"}
    with torch.device("meta"):
        return build_model(config).state_dict()


def _wrap(model: nn.Module, cfg: TrainConfig, ctx: DistContext, compile_mode: str | None, steps: int,
          log: Callable[[str], None]) -> Any:  # fmt: skip
    """The module a step calls: ``model`` under DDP across processes, compiled as ``cfg.compile`` says
    (:mod:`~deepshrink.train.compiling`) for a run of ``steps`` optimiser steps."""
    forward = model
    if ctx.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # With synced BatchNorm every process already holds the same running statistics:
        # no need to broadcast buffers before every forward (newer torch renamed the option).
        params = inspect.signature(DDP).parameters
        sync_kw = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        forward = DDP(model, device_ids=device_ids, **{sync_kw: not cfg.sync_bn})
    return maybe_compile(forward, cfg.compile, ctx.device, steps, log, compile_mode)


def epoch_line(row: dict[str, Any], epochs: int, validating: bool) -> str:
    """One log line for an epoch's row of metrics."""
    parts = [f"epoch {row['epoch']}/{epochs}", f"train_loss {row['train_loss']:.4f}", f"train_acc {row['train_acc']:.4f}"]
    if validating:
        parts += [f"val_loss {row['val_loss']:.4f}", f"val_acc {row['val_acc']:.4f}"]
    parts += [f"lr {row['lr']:.3g}", f"{row['seconds']:.1f}s"]
    return "  ".join(parts)


def _last_good(writer: Writer | None, last_saved: tuple[int, int] | None) -> str:
    """Where a run that diverged can restart from."""
    if writer is None:
        return "nothing was saved (no run folder)"
    if last_saved is None:
        return "no checkpoint had been written yet"
    epoch, step = last_saved
    return f"last.ckpt keeps the last good state (epoch {epoch}" + (f", step {step})" if step else ")")


def _progress_bar(cfg: TrainConfig, ctx: DistContext, steps: int, done: int, epoch: int) -> Any:
    """A tqdm bar over an epoch's steps on a terminal (``progress: auto``) or always (``bar``); else None."""
    if not ctx.is_main or cfg.progress in ("log", "off"):
        return None
    if cfg.progress == "auto" and not (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=done, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, file=sys.stdout,
                dynamic_ncols=True)  # fmt: skip


def _epoch_progress(state: dict[str, Any], stack: int, ctx: DistContext,
                    log: Callable[[str], None]) -> tuple[Tensor, float, dict[str, Any] | None]:  # fmt: skip
    """A checkpoint's unfinished epoch: the sums so far, its seconds and this process's RNG states
    (None at an epoch end, or when the number of processes changed: then dropout restarts)."""
    partial = state["partial"].to(torch.float64).reshape(stack, 3)
    if not ctx.is_main:
        partial = torch.zeros(stack, 3, dtype=torch.float64)
    seconds = float(state.get("partial_seconds", 0.0)) if ctx.is_main else 0.0
    rng = state.get("rng") or []
    if int(state["step_in_epoch"]) == 0:
        return partial, seconds, None
    if len(rng) != ctx.world_size:
        log(f"note: checkpoint from {len(rng)} process(es), now {ctx.world_size}: "
            "RNG streams restart from the seed (only dropout is affected)")  # fmt: skip
        return partial, seconds, None
    return partial, seconds, rng[ctx.rank]


class Trainer:
    """Train a model on a training set, validating each epoch; or a cohort of S runs at once.

    With an ordinary model (``stack == 1``) this is one run. With a stacked model
    (:mod:`deepshrink.models.stacked`, ``model.stack == S``) it trains S independent runs as one
    network (:mod:`~deepshrink.train.feed`): each slice with its own data, shuffle, loss, best
    epoch, early stopping and divergence check (:class:`~deepshrink.train.slices.SliceRecord`),
    all on one learning-rate schedule, so (without dropout) a slice ends with the weights the run
    alone would have. A slice that diverges or stops early is frozen as of that moment and the
    others go on; a run alone that diverges raises :class:`TrainingDiverged`.

    Args:
        cfg: the run's configuration; for a cohort the training settings its runs share.
        model: a deepshrink model (it keeps ``config`` / ``model_name`` for saving).
        train_set: a :class:`~deepshrink.data.dataset.TrainingData` (e.g. a
            :class:`~deepshrink.data.SignalDataset`, or a noisy one with ``set_epoch``); S of them for a cohort.
        val_set: the validation set (S of them for a cohort), or None: the last epoch is kept, no early stopping.
        seeds: the runs' seeds (a cohort only; one run uses ``cfg.seed``).
        ctx: the process context (:class:`~deepshrink.train.distributed.DistContext`).
        writer: where checkpoints, metrics and weights go (rank 0 writes; None: nowhere). A cohort's
            writer gets ``checkpoint`` and ``metrics`` (S histories) only.
        log: called with each log line (rank 0 only).
        compile_mode: where ``cfg.compile`` compiles, the ``torch.compile`` mode (e.g. ``reduce-overhead``).
        on_epoch: called with the number of epochs done after each epoch (a study's progress).

    After :meth:`fit`, ``history`` holds one dict per epoch (:data:`METRIC_COLUMNS`), ``model``
    the final weights (their average with ``ema_decay``), ``best_state`` the best ones when
    validating; for a cohort ``slices`` and :meth:`slice_result` give each run's.
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
        self._on_epoch = on_epoch
        self.ctx = ctx = ctx or DistContext()
        self.device = ctx.device
        self.writer = writer
        self._log = log or (lambda message: None)
        self.stack = S = int(getattr(model, "stack", 1) or 1)
        self.train_sets, self.val_sets, seeds = cohort_parts(S, train_set, val_set, seeds, cfg, ctx)
        self.slices = [SliceRecord(seed) for seed in seeds]
        if S > 1 and float(model.config.get("drop_rate", 0.0) or 0.0) > 0:
            self.log("note: dropout in a stacked cohort draws from one random stream: slices are "
                     "statistically, not bit-for-bit, the runs alone")  # fmt: skip
        if self.device.type != "cpu" and S == 1:  # keep the data resident on the accelerator (moved once, in place)
            for part in (self.train_sets[0], self.val_sets[0]):
                if part is not None and hasattr(part, "to"):
                    part.to(self.device)
        self.amp_dtype = autocast_dtype(cfg.amp, self.device)
        self.model = model.to(self.device)
        self._precision = Precision(param_dtype(self.model), self.amp_dtype, cfg.normalize, cfg.eval_batch_size)
        self.feed = BatchFeed(self.train_sets, seeds, cfg, ctx, self._precision.dtype)
        self.steps_per_epoch = self.feed.steps_per_epoch
        if ctx.distributed and cfg.sync_bn:
            self.model = convert_sync_batchnorm(self.model, self.device, ctx.bn_group)
        self.optimizer = build_optimizer(cfg, self.model)
        self.average = WeightAverage(self.model, cfg.ema_decay) if cfg.ema_decay is not None else None
        self.forward_model = _wrap(self.model, cfg, ctx, compile_mode, cfg.epochs * self.steps_per_epoch, self.log)

        self._val: tuple[Tensor, Tensor, Tensor] | None = None  # a cohort's validation sets on the device
        self._template = _single_template(self.model) if S > 1 else None

        self.epoch = 0  # epochs completed
        self.step_in_epoch = 0
        self.global_step = 0
        self.partial = torch.zeros(S, 3, dtype=torch.float64)  # loss sum, correct, count of the current epoch
        self.partial_seconds = 0.0
        self._resumed_rng: dict[str, Any] | None = None
        self.last_saved: tuple[int, int] | None = None  # (epochs done, step in epoch) of the last checkpoint
        self.guard = DivergenceGuard(S, self.device)

    # ------------------------------------------------------------------ one run's view
    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.slices]

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.slices[0].history

    @property
    def best(self) -> dict[str, Any]:
        return self.slices[0].best

    @property
    def best_state(self) -> dict[str, Tensor] | None:
        return self.slices[0].best_state

    @property
    def stopped_early(self) -> bool:
        return self.stack == 1 and self.slices[0].status == "stopped"

    @property
    def eval_model(self) -> nn.Module:
        """The network validated, kept and saved: the weights, or their average (``ema_decay``)."""
        return self.average.model if self.average is not None else self.model

    @property
    def validating(self) -> bool:
        return all(v is not None for v in self.val_sets)

    def keeps_best(self, i: int = 0) -> bool:
        """Run ``i`` ends with the weights of its best epoch (``keep: best``, validated, one kept)."""
        return self.cfg.keep == "best" and self.validating and self.slices[i].best_state is not None

    @property
    def done(self) -> bool:
        return self.epoch >= self.cfg.epochs or not any(r.training for r in self.slices)

    def log(self, message: str) -> None:
        if self.ctx.is_main:
            self._log(message)

    def _who(self, i: int) -> str:
        return "" if self.stack == 1 else f"slice {i} (seed {self.slices[i].seed}): "

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (collective under DDP), in the layout of :func:`records_state`."""
        rng = gather_rng(self.ctx)
        partial = self.partial.clone()
        if self.ctx.distributed:
            partial = self.ctx.all_reduce_sum(partial.to(self.device)).cpu()
        records = records_state(self.slices)
        return {
            "config_hash": config_hash(self.cfg),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.ctx.world_size,
            "model": _state_dict_cpu(self.model),
            "average": self.average.state_dict() if self.average is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"recipe": self.cfg.recipe, "step": self.global_step},
            "rng": rng,
            "history": records.pop("history"),
            "best": records.pop("best"),
            "best_state": records.pop("best_state"),
            "partial": partial[0] if self.stack == 1 else partial,
            "partial_seconds": float(self.partial_seconds),
            **records,  # stopped_early; a cohort's stack, seeds, status, messages, final states
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint", extended_from: int | None = None) -> None:
        """Resume from :meth:`state_dict` output (read with :func:`~deepshrink.train.checkpoint.load_checkpoint`).

        Args:
            extended_from: the run's former number of epochs, when this resume extends it (the
                checkpoint then matches the configuration with that number).

        Raises:
            CheckpointError: the checkpoint was made with another configuration or model.
        """
        cfg = self.cfg if extended_from is None else self.cfg.replace(epochs=extended_from)
        check_resumable(state, source, config_hash(cfg), self.steps_per_epoch, self.seeds)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.average is not None:
                self.average.load_state_dict(state["average"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            first = (str(err).strip().splitlines() or [""])[0][:200]
            raise CheckpointError(f"{source}: does not fit this model/optimizer ({first})") from None
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state["step_in_epoch"])
        self.global_step = int(state["global_step"])
        self.slices = records_from_state(state, self.seeds)
        self.last_saved = (self.epoch, self.step_in_epoch)
        self.partial, self.partial_seconds, self._resumed_rng = _epoch_progress(state, self.stack, self.ctx, self.log)

    # ------------------------------------------------------------------ slices
    def slice_states(self) -> list[dict[str, Tensor]]:
        """The current weights of every slice as ordinary (non-stacked) CPU state dicts."""
        if self.stack == 1:
            return [_state_dict_cpu(self.eval_model)]
        return unstack_state_dict(_state_dict_cpu(self.eval_model), self.stack, self._template)

    def slice_result(self, i: int) -> dict[str, Any]:
        """Run ``i`` of the cohort: ``status`` (``finished``, ``stopped`` early or ``diverged``),
        ``message``, ``history``, ``best``, ``state``: the weights to keep (best epoch with
        ``keep: best`` and validation, else the last; None for a diverged run) and ``kept_best``."""
        r = self.slices[i]
        if r.status == "diverged":
            state = None
        elif self.keeps_best(i):
            state = r.best_state
        elif r.final_state is not None:
            state = r.final_state
        else:
            state = self.slice_states()[i]
        return {"status": "finished" if r.training else r.status, "message": r.message, "history": r.history,
                "best": r.best, "state": state, "kept_best": self.keeps_best(i)}  # fmt: skip

    def _freeze(self, i: int, status: str, message: str | None = None) -> None:
        self.slices[i].status, self.slices[i].message = status, message
        if status == "stopped" and self.stack > 1:
            self.slices[i].final_state = self.slice_states()[i]

    def _diverged(self, i: int, message: str) -> None:
        """Run ``i`` went non-finite: a run alone raises, a cohort freezes it and goes on."""
        if self.stack == 1:
            raise TrainingDiverged(f"{message}; stopped without saving the weights after it; {_last_good(self.writer, self.last_saved)}; "
                                   "try a lower lr or --grad-clip")  # fmt: skip
        self._freeze(i, "diverged", f"{message}; try a lower lr or --grad-clip")
        self.log(f"{self._who(i)}diverged: {self.slices[i].message}; the other runs go on")

    def _check(self) -> None:
        """Read the finiteness flags of the steps since the last read."""
        for bad in self.guard.read(self.ctx):
            if self.slices[bad.slice].training:
                self._diverged(bad.slice, f"{bad.what} became {bad.value} {bad.where(self.steps_per_epoch)}")

    # ------------------------------------------------------------------ saving
    def _save(self, *, epoch_end: bool) -> None:
        self._check()
        for i, ok in enumerate(slices_finite(self.model, self.stack)):
            if not ok and (self.stack == 1 or self.slices[i].training):
                during = self.epoch + (0 if epoch_end else 1)
                self._diverged(i, f"the weights became NaN or infinite during epoch {during}")
        state = self.state_dict()  # collective
        if self.writer is not None and self.ctx.is_main:
            self.writer.checkpoint(state)
        self.last_saved = (self.epoch, self.step_in_epoch)
        if epoch_end:
            self._write_results()
        self.ctx.barrier()

    def _write_results(self) -> None:
        """The metrics so far (and a run alone's weights) to the writer."""
        if self.writer is None or not self.ctx.is_main:
            return
        if self.stack == 1:
            self.writer.metrics(self.history)
            self.writer.model(self.eval_model, self.best_state if self.keeps_best() else None)
        else:
            self.writer.metrics([r.history for r in self.slices])

    # ------------------------------------------------------------------ loop
    def fit(self) -> list[dict[str, Any]]:
        """Train until ``epochs`` (or early stopping); returns the per-epoch history (of run 0)."""
        if self.done:
            self.log(f"nothing to do: the run already finished ({self.epoch} epoch(s))")
        elif self.cfg.early_stopping and not self.validating:
            self.log("note: early_stopping needs a validation set (val_fraction > 0); it is off")
        if not self.done:
            while not self.done:
                self._train_epoch()
            if self.stack == 1:
                self._write_results()
            self.ctx.barrier()
        if self.average is not None:  # from here on ``model`` is the averaged network
            self.average.copy_to(self.model)
        return self.history

    def _reseed(self, epoch: int) -> None:
        """Epoch start: the global RNGs from (seed, epoch, rank), or mid-epoch the checkpoint's states."""
        seed_everything(derive_seed(self.slices[0].seed, Purpose.EPOCH_RNG, int(epoch), int(self.ctx.rank)))
        saved, self._resumed_rng = self._resumed_rng, None
        if saved is not None:
            restore_process_rng(saved, self.device)

    def _step(self, xb: Tensor, yb: Tensor, lr: float) -> tuple[Tensor, Tensor, Tensor]:
        """One optimiser step on a batch: the per-slice mean losses ``(S,)``, the same as the guard
        sees them (all-reduced under DDP) and the correct counts ``(S,)``."""
        cfg, ctx = self.cfg, self.ctx
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.device, self.amp_dtype):
            logits = self.forward_model(xb)
        if self.stack > 1:
            logits = logits.reshape(yb.shape[0], self.stack, -1)
        logits = full_precision(logits)
        correct = (logits.detach().argmax(-1) == yb).reshape(len(yb), -1).sum(0)
        losses = slice_cross_entropy(logits, yb, cfg.label_smoothing)
        checked = losses.detach().reshape(1).to(torch.float64) if self.stack == 1 else losses.detach()
        if ctx.distributed:  # one run under DDP: every process sees the summed loss
            checked = ctx.all_reduce_sum(checked.clone())
        self.guard.note(checked, LOSS)
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        if cfg.grad_clip is not None:
            self.guard.note(clip_grad_norms(self.model, self.stack, cfg.grad_clip), GRAD)
        self.optimizer.step()
        if self.average is not None:
            self.average.update()
        self.global_step += 1
        self.guard.advance()
        return losses, checked, correct

    def _train_epoch(self) -> None:
        cfg, ctx, S = self.cfg, self.ctx, self.stack
        epoch = self.epoch  # 0-based index of the epoch being trained
        started = time.perf_counter()
        self._reseed(epoch)
        x_all, y_all, perm = self.feed.epoch(epoch)
        self.forward_model.train()
        acc = self.partial.to(self.device) if self.step_in_epoch else torch.zeros(S, 3, dtype=torch.float64, device=self.device)
        if not self.step_in_epoch:
            self.partial_seconds = 0.0
        self.guard.reset(self.global_step)
        counts = torch.full((S,), float(cfg.batch_size // ctx.world_size), dtype=torch.float64, device=self.device)
        bar = _progress_bar(self.cfg, self.ctx, self.steps_per_epoch, self.step_in_epoch, epoch)
        lr = lr_at(cfg, self.global_step, self.steps_per_epoch)
        try:
            for step in range(self.step_in_epoch, self.steps_per_epoch):
                xb, yb = self.feed.batch(x_all, y_all, perm, step)
                lr = lr_at(cfg, self.global_step, self.steps_per_epoch)
                losses, checked, correct = self._step(xb, yb, lr)
                acc += torch.stack([losses.detach().to(torch.float64) * counts, correct.to(torch.float64), counts], 1)
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
                if not any(r.training for r in self.slices):
                    break
        finally:
            if bar is not None:
                bar.close()
        self._end_epoch(epoch, acc, lr, started)

    def _end_epoch(self, epoch: int, acc: Tensor, lr: float, started: float) -> None:
        """Validate, append each training run's row, keep its best, save, report progress."""
        self._check()
        totals = self.ctx.all_reduce_sum(acc.clone()).cpu()
        vals = self._validate() if self.validating else None
        self.partial_seconds += time.perf_counter() - started
        seconds = round(self.partial_seconds / self.stack, 3)  # a cohort's time, shared equally by its runs
        rows: list[dict[str, Any] | None] = []
        for i, r in enumerate(self.slices):
            if not r.training:
                rows.append(None)
                continue
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": float(totals[i, 0] / totals[i, 2]),
                                   "train_acc": float(totals[i, 1] / totals[i, 2]), "val_loss": float("nan"),
                                   "val_acc": float("nan"), "lr": lr, "seconds": seconds}  # fmt: skip
            if vals is not None:
                row["val_loss"], row["val_acc"] = vals[i]["loss"], vals[i]["accuracy"]
            r.history.append(row)
            rows.append(row)
        self.epoch = epoch + 1
        self.step_in_epoch = 0
        self.partial = torch.zeros(self.stack, 3, dtype=torch.float64)
        self.partial_seconds = 0.0
        for i, row in enumerate(rows):
            if row is not None:
                self._update_best(i, row)
                self.log(self._who(i) + epoch_line(row, self.cfg.epochs, self.validating))
        self._save(epoch_end=True)
        if self._on_epoch is not None:
            self._on_epoch(self.epoch)

    def _update_best(self, i: int, row: dict[str, Any]) -> None:
        if not self.validating:
            return
        r, monitor = self.slices[i], self.cfg.monitor
        before = r.best["metric"]
        if r.score(row[monitor], row["epoch"], monitor):
            if self.cfg.keep == "best":
                r.best_state = self.slice_states()[i]
        elif self.cfg.early_stopping and r.best["bad_epochs"] >= self.cfg.early_stopping:
            self._freeze(i, "stopped")
            self.log(
                f"{self._who(i)}early stopping: {monitor} has not improved for {r.best['bad_epochs']} "
                f"epoch(s) (best {before:.4f} at epoch {r.best['epoch']})"
            )

    # ------------------------------------------------------------------ evaluation
    def _validate(self) -> list[dict[str, float]]:
        if self.stack == 1:
            return [self.evaluate(self.val_sets[0])]
        if self._val is None:  # the validation sets on the device, once
            vx, counts = pad_stack([ds.x for ds in self.val_sets], self.device)
            vy, _ = pad_stack([ds.y for ds in self.val_sets], self.device)
            self._val = (vx, vy, counts)
        return cohort_scores(self.eval_model, *self._val, self._precision)

    def evaluate(self, dataset: TrainingData) -> dict[str, float]:
        """Mean loss and accuracy on ``dataset`` (sharded across processes, then all-reduced)."""
        return dataset_scores(self.eval_model, dataset, self.ctx, self._precision)
