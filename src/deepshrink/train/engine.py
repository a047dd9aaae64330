"""The training loop: plain PyTorch, one process or many under ``torchrun`` (DDP).

:class:`Trainer` owns the model, optimiser and learning-rate schedule and runs epochs over
in-memory :class:`~deepshrink.data.SignalDataset` tensors (no ``DataLoader``: a batch is an
index into tensors already on the device). It is reproducible: the model is initialised from
``seed``, the shuffle of epoch ``e`` is a permutation drawn from a ``torch.Generator`` seeded by
``(seed, e)``, and the global RNGs (used by dropout) are re-seeded at the start of each epoch
from ``(seed, e, rank)``, so a CPU run gives bit-identical weights every time, and a resumed run
equals an uninterrupted one.

Every step checks the loss (all-reduced across processes) before ``backward``: a NaN or
infinite loss raises :class:`TrainingDiverged` naming the epoch and step, with no optimiser step
and no checkpoint written after it, so ``last.ckpt`` stays the last good state. Parameters are
checked again before every checkpoint.
"""

from __future__ import annotations

import inspect
import math
import random
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepshrink.layers.gates import StackedLinear
from deepshrink.errors import CheckpointError, ConfigError, DeepshrinkError
from deepshrink.train.checkpoint import capture_rng, restore_rng
from deepshrink.train.config import RECIPES, TrainConfig, config_hash
from deepshrink.train.distributed import DistContext, convert_sync_batchnorm, epoch_permutation, shard_batch

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "param_groups",
    "build_optimizer",
    "lr_at",
    "milestone_epochs",
    "seed_everything",
    "normalize_batch",
    "autocast_dtype",
    "predict_logits",
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


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank), 0xD5]).generate_state(1)[0])


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
    """SGD with momentum (``paper``) or AdamW (``adamw``), weight decay on weights only."""
    recipe = RECIPES[cfg.recipe]
    lr = recipe["lr"] if cfg.lr is None else cfg.lr
    wd = recipe["weight_decay"] if cfg.weight_decay is None else cfg.weight_decay
    groups = param_groups(model, wd)
    if recipe["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=lr)


def milestone_epochs(cfg: TrainConfig) -> list[int]:
    """0-based epochs where the ``paper`` schedule divides the lr: 40 and 80 for 100 epochs."""
    return [max(1, int(round(m * cfg.epochs))) for m in cfg.milestones]


def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based, counted over the whole run).

    ``paper``: ``lr * lr_decay ** (number of milestones reached)``, constant within an epoch.
    ``adamw``: linear warm-up over ``warmup_epochs``, then cosine from ``lr`` down to 0.
    """
    base = RECIPES[cfg.recipe]["lr"] if cfg.lr is None else cfg.lr
    if RECIPES[cfg.recipe]["schedule"] == "step":
        epoch = step // steps_per_epoch
        return base * cfg.lr_decay ** sum(epoch >= m for m in milestone_epochs(cfg))
    total = cfg.epochs * steps_per_epoch
    warm = min(int(round(cfg.warmup_epochs * steps_per_epoch)), max(total - 1, 0))
    if step < warm:
        return base * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """bf16 for ``amp: bf16``, or ``auto`` on CUDA; None (full precision) otherwise."""
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


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
    """Logits (float32, on the CPU) of ``model`` in eval mode for signals ``x`` ``(N, C, ...)``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, x.shape[0], batch_size):
            xb = normalize_batch(x[start : start + batch_size].to(device, torch.float32), normalize)
            with torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
                out.append(model(xb).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def check_batch_size(batch_size: int, n_train: int, world_size: int) -> int:
    """Steps per epoch for a global ``batch_size``; a ConfigError if it cannot work."""
    if batch_size % world_size:
        raise ConfigError(
            f"batch_size {batch_size} is the global batch and must be divisible by the number of "
            f"processes ({world_size}); each process takes batch_size / {world_size}"
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
class Trainer:
    """Train a model on a training set, validating each epoch.

    Args:
        cfg: the run's configuration (recipe, epochs, batch, seed, ...).
        model: a deepshrink model (it keeps ``config`` / ``model_name`` for saving).
        train_set: a :class:`~deepshrink.data.SignalDataset` (or noisy one with ``set_epoch``).
        val_set: validation set, or None (then the last epoch is kept and there is no early stopping).
        ctx: the process context (:class:`~deepshrink.train.distributed.DistContext`).
        writer: where checkpoints, metrics and weights go (rank 0 writes); None writes nothing.
        log: called with each log line (rank 0 only).

    After :meth:`fit`, ``history`` holds one dict per epoch (:data:`METRIC_COLUMNS`), and
    ``model`` the final weights (``best_state`` the best ones when validating).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        train_set: Any,
        val_set: Any | None = None,
        *,
        ctx: DistContext | None = None,
        writer: Writer | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.ctx = ctx or DistContext()
        self.device = self.ctx.device
        self.writer = writer
        self._log = log or (lambda message: None)
        self.train_set = train_set
        self.val_set = val_set if val_set is not None and len(val_set) > 0 else None
        if self.device.type != "cpu":  # keep the data resident on the accelerator (moved once, in place)
            for part in (self.train_set, self.val_set):
                if part is not None and hasattr(part, "to"):
                    part.to(self.device)
        self.amp_dtype = autocast_dtype(cfg.amp, self.device)
        self.steps_per_epoch = check_batch_size(cfg.batch_size, len(train_set), self.ctx.world_size)

        self.model = model.to(self.device)
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
            forward = torch.compile(forward)
        self.forward_model = forward

        # progress
        self.epoch = 0  # epochs completed
        self.step_in_epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"metric": None, "epoch": None, "bad_epochs": 0}
        self.best_state: dict[str, Tensor] | None = None
        self.partial = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count of the current epoch
        self.partial_seconds = 0.0
        self.stopped_early = False
        self._resumed_rng: dict[str, Any] | None = None
        self.last_saved: tuple[int, int] | None = None  # (epochs done, step in epoch) of the last checkpoint

    # ------------------------------------------------------------------ logging
    def log(self, message: str) -> None:
        if self.ctx.is_main:
            self._log(message)

    @property
    def validating(self) -> bool:
        return self.val_set is not None

    @property
    def done(self) -> bool:
        return self.stopped_early or self.epoch >= self.cfg.epochs

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
        """Everything needed to resume (collective under DDP: every process must call it)."""
        rng = self._gather_rng()
        partial = self.partial.clone()
        if self.ctx.distributed:
            partial = self.ctx.all_reduce_sum(partial.to(self.device)).cpu()
        return {
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
            "history": [dict(row) for row in self.history],
            "best": dict(self.best),
            "best_state": self.best_state,
            "partial": partial,
            "partial_seconds": float(self.partial_seconds),
            "stopped_early": bool(self.stopped_early),
        }

    def load_state_dict(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        """Resume from :meth:`state_dict` output (read with :func:`~deepshrink.train.checkpoint.load_checkpoint`).

        Raises:
            CheckpointError: the checkpoint was made with another configuration or model.
        """
        want = config_hash(self.cfg)
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
        self.history = [dict(row) for row in state["history"]]
        self.best = dict(state["best"])
        self.best_state = state.get("best_state")
        self.stopped_early = bool(state.get("stopped_early", False))
        self.last_saved = (self.epoch, self.step_in_epoch)
        self.partial = state["partial"].to(torch.float64).clone() if self.ctx.is_main else torch.zeros(3, dtype=torch.float64)
        self.partial_seconds = float(state.get("partial_seconds", 0.0)) if self.ctx.is_main else 0.0
        rng = state.get("rng") or []
        if self.step_in_epoch > 0 and len(rng) == self.ctx.world_size:
            self._resumed_rng = rng[self.ctx.rank]
        elif self.step_in_epoch > 0:
            self.log(
                f"note: checkpoint from {len(rng)} process(es), now {self.ctx.world_size}: "
                "RNG streams restart from the seed (only dropout is affected)"
            )

    # ------------------------------------------------------------------ saving
    def _save(self, *, epoch_end: bool) -> None:
        if not _all_finite(self.model):
            raise TrainingDiverged(
                f"the weights became NaN or infinite during epoch {self.epoch + (0 if epoch_end else 1)}; "
                f"stopped without saving them; {self._last_good()}; try a lower lr or --grad-clip"
            )
        state = self.state_dict()  # collective
        if self.writer is not None and self.ctx.is_main:
            self.writer.checkpoint(state)
        self.last_saved = (self.epoch, self.step_in_epoch)
        if self.writer is not None and self.ctx.is_main:
            if epoch_end:
                self.writer.metrics(self.history)
                self.writer.model(self.model, self.best_state if self._keep_best else None)
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
        """Train until ``epochs`` (or early stopping); returns the per-epoch history."""
        cfg = self.cfg
        if self.done:
            self.log(f"nothing to do: the run already finished ({self.epoch} epoch(s))")
            return self.history
        if cfg.early_stopping and not self.validating:
            self.log("note: early_stopping needs a validation set (val_fraction > 0); it is off")
        while not self.done:
            self._train_epoch()
        if self.writer is not None and self.ctx.is_main:
            self.writer.metrics(self.history)
            self.writer.model(self.model, self.best_state if self._keep_best else None)
        self.ctx.barrier()
        return self.history

    def _reseed(self, epoch: int) -> None:
        """Epoch start: seed the global RNGs from (seed, epoch, rank), or, resuming mid-epoch,
        restore the states saved in the checkpoint (rank 0 also numpy's and python's)."""
        seed_everything(_epoch_seed(self.cfg.seed, epoch, self.ctx.rank))
        saved, self._resumed_rng = self._resumed_rng, None
        if saved is None:
            return
        if "numpy" in saved:
            restore_rng(saved)  # torch, numpy, python
        else:
            torch.set_rng_state(saved["torch"])
        if "cuda_device" in saved and self.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_device"], self.device)

    def _train_epoch(self) -> None:
        cfg, ctx = self.cfg, self.ctx
        epoch = self.epoch  # 0-based index of the epoch being trained
        started = time.perf_counter()
        self._reseed(epoch)
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        x_all, y_all = self.train_set.x, self.train_set.y
        if x_all.device != self.device:
            x_all, y_all = x_all.to(self.device), y_all.to(self.device)
        perm = epoch_permutation(len(self.train_set), cfg.seed, epoch)
        self.forward_model.train()
        acc = self.partial.to(self.device) if self.step_in_epoch else torch.zeros(3, dtype=torch.float64, device=self.device)
        if not self.step_in_epoch:
            self.partial_seconds = 0.0
        bar = self._progress_bar(epoch)
        lr = lr_at(cfg, self.global_step, self.steps_per_epoch)
        try:
            for step in range(self.step_in_epoch, self.steps_per_epoch):
                batch = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                idx = shard_batch(batch, ctx.rank, ctx.world_size).to(self.device)
                xb = normalize_batch(x_all.index_select(0, idx), cfg.normalize)
                yb = y_all.index_select(0, idx)
                lr = lr_at(cfg, self.global_step, self.steps_per_epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None):
                    logits = self.forward_model(xb)
                loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.label_smoothing)
                check = loss.detach().reshape(1).to(torch.float64)
                if ctx.distributed:
                    ctx.all_reduce_sum(check)
                value = float(check)
                if not math.isfinite(value):
                    raise TrainingDiverged(
                        f"loss became {value} at epoch {epoch + 1}, step {step + 1} of {self.steps_per_epoch} "
                        f"(global step {self.global_step + 1}); stopped before updating the weights; "
                        f"{self._last_good()}; try a lower lr or --grad-clip"
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    if not bool(torch.isfinite(norm)):
                        raise TrainingDiverged(
                            f"gradient norm became {float(norm)} at epoch {epoch + 1}, step {step + 1} "
                            f"(global step {self.global_step + 1}); stopped before updating the weights; "
                            f"{self._last_good()}"
                        )
                self.optimizer.step()
                n = yb.shape[0]
                acc += torch.stack([
                    loss.detach().to(torch.float64) * n,
                    (logits.detach().argmax(1) == yb).sum().to(torch.float64),
                    torch.tensor(float(n), dtype=torch.float64, device=self.device),
                ])  # fmt: skip
                self.global_step += 1
                self.step_in_epoch = step + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value / ctx.world_size:.4f}", lr=f"{lr:.3g}", refresh=False)
                if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0 and step + 1 < self.steps_per_epoch:
                    self.partial = acc.detach().cpu()
                    self.partial_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self._save(epoch_end=False)
        finally:
            if bar is not None:
                bar.close()
        totals = ctx.all_reduce_sum(acc.clone())
        train_loss = float(totals[0] / totals[2])
        train_acc = float(totals[1] / totals[2])
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                               "val_loss": float("nan"), "val_acc": float("nan"), "lr": lr}  # fmt: skip
        if self.validating:
            val = self.evaluate(self.val_set)
            row["val_loss"], row["val_acc"] = val["loss"], val["accuracy"]
        self.partial_seconds += time.perf_counter() - started
        row["seconds"] = round(self.partial_seconds, 3)
        self.history.append(row)
        self.epoch = epoch + 1
        self.step_in_epoch = 0
        self.partial = torch.zeros(3, dtype=torch.float64)
        self.partial_seconds = 0.0
        self._update_best(row)
        self.log(self._epoch_line(row))
        self._save(epoch_end=True)

    def _update_best(self, row: dict[str, Any]) -> None:
        if not self.validating:
            return
        value = row[self.cfg.monitor]
        best = self.best["metric"]
        better = best is None or (value < best if self.cfg.monitor == "val_loss" else value > best)
        if better and math.isfinite(value):
            self.best = {"metric": value, "epoch": row["epoch"], "bad_epochs": 0}
            if self.cfg.keep == "best":
                self.best_state = _state_dict_cpu(self.model)
        else:
            self.best["bad_epochs"] = int(self.best["bad_epochs"]) + 1
            if self.cfg.early_stopping and self.best["bad_epochs"] >= self.cfg.early_stopping:
                self.stopped_early = True
                self.log(
                    f"early stopping: {self.cfg.monitor} has not improved for {self.best['bad_epochs']} epoch(s) "
                    f"(best {best:.4f} at epoch {self.best['epoch']})"
                )

    def _epoch_line(self, row: dict[str, Any]) -> str:
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
    @torch.no_grad()
    def evaluate(self, dataset: Any) -> dict[str, float]:
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
                xb = normalize_batch(x_all.index_select(0, idx).to(self.device), self.cfg.normalize)
                yb = y_all.index_select(0, idx).to(self.device)
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None):
                    logits = model(xb).float()
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
