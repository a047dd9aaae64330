"""The optimiser and its learning-rate schedule, and the batch arithmetic a run is checked against.

Two recipes (:data:`~deepshrink.train.config.RECIPES`): ``paper`` is SGD with momentum and a step
schedule (the lr divided at fixed fractions of the epochs, as in the authors' code); ``adamw`` is
AdamW with a linear warm-up then a cosine to 0. Weight decay falls on convolution and linear
weights only, never on biases or normalisation layers.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from deepshrink.errors import ConfigError
from deepshrink.layers.gates import StackedLinear
from deepshrink.train.config import RECIPES, TrainConfig, resolve

__all__ = ["param_groups", "build_optimizer", "milestone_epochs", "lr_at", "check_batch_size", "clip_grad_norms"]

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


def clip_grad_norms(model: nn.Module, stack: int, max_norm: float) -> Tensor:
    """Clip each slice's gradient norm to ``max_norm`` (one run: the global norm); the ``(S,)`` norms before."""
    if stack == 1:
        return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).reshape(1)
    rows = [p.grad.view(stack, -1) for p in model.parameters() if p.grad is not None]
    norm = torch.stack([torch.linalg.vector_norm(r, 2.0, dim=1) for r in rows]).norm(2.0, dim=0)
    coef = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    for r in rows:
        r.mul_(coef.unsqueeze(1).to(r.dtype))
    return norm
