"""Train many small networks at once: S copies of a model as one network of grouped convolutions.

The paper's network has about 12k parameters, so on a GPU one training step is bound by
kernel launches, not arithmetic. A study trains hundreds of such runs (models × noise × SNR ×
seeds/folds). Stacking S runs into one network with ``stack=S`` (grouped convolutions,
per-channel BatchNorm, :class:`~deepshrink.layers.gates.StackedLinear` heads and gates) turns
S small launches into one large one, while each slice stays exactly an independent network:
no weight, statistic or gradient crosses slices.

    nets = [create_model("drsn_cw_paper") for _ in range(8)]   # e.g. 8 seeds
    stacked = stack_models(nets)                                 # one network, stack=8
    logits = stacked(stack_inputs([x0, ..., x7]))                # (N, 8, num_classes)
    loss = stacked_cross_entropy(logits, torch.stack([y0, ..., y7], 1))
    nets = unstack_model(stacked)                                # back to 8 ordinary models

Each slice sees its own batch (its own data order, noise and labels). With per-slice mean
losses summed (:func:`stacked_cross_entropy`), SGD, momentum and weight decay act on every
slice exactly as on a separate run; global gradient-norm clipping would couple the slices, so
the Trainer clips each slice's norm on its own (:func:`slice_rows` gives a parameter's
per-slice view). :class:`deepshrink.train.Trainer` trains a stacked model as a cohort of runs,
and ``deepshrink study --stack S`` trains a study that way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from deepshrink.errors import ConfigError
from torch import nn

from deepshrink.models.registry import build_model

__all__ = [
    "stack_models",
    "unstack_model",
    "stack_inputs",
    "slice_cross_entropy",
    "stacked_cross_entropy",
    "stack_state_dicts",
    "unstack_state_dict",
    "slice_rows",
]


def _single_config(model: nn.Module) -> dict:
    return {k: v for k, v in model.config.items() if k != "stack"}


def stack_state_dicts(states: Sequence[dict[str, Tensor]], stacked: nn.Module) -> dict[str, Tensor]:
    """Merge S ordinary state dicts into the state dict of ``stacked`` (stack=S)."""
    out = {}
    s = len(states)
    for key, target in stacked.state_dict().items():
        parts = [st[key] for st in states]
        if target.dim() == 0:  # BatchNorm's num_batches_tracked: the same count in every slice
            out[key] = parts[0].clone()
        elif target.shape == (s,) + parts[0].shape:  # StackedLinear: one slice per network
            out[key] = torch.stack(parts)
        else:  # grouped convolution / per-channel norm: slices follow each other on dim 0
            out[key] = torch.cat(parts, dim=0)
        if out[key].shape != target.shape:
            raise ConfigError(f"cannot stack {key}: {tuple(parts[0].shape)} x {s} does not make {tuple(target.shape)}")
    return out


def stack_models(models: Sequence[nn.Module]) -> nn.Module:
    """One network with ``stack=len(models)`` whose slices are copies of ``models``."""
    if not models:
        raise ConfigError("stack_models needs at least one model")
    config = _single_config(models[0])
    for i, m in enumerate(models[1:], 1):
        if _single_config(m) != config:
            raise ConfigError(f"stack_models: model {i} has a different configuration from model 0")
    ref = next(models[0].parameters())
    stacked = build_model({**config, "stack": len(models)}).to(device=ref.device, dtype=ref.dtype)
    stacked.load_state_dict(stack_state_dicts([m.state_dict() for m in models], stacked))
    stacked.model_name = getattr(models[0], "model_name", None)
    return stacked.train(models[0].training)


def slice_rows(tensor: Tensor, stack: int) -> Tensor:
    """A ``(stack, -1)`` view of a stacked parameter or buffer: row ``i`` holds slice ``i``.

    Both layouts of a stacked network are contiguous per slice: grouped convolutions and
    per-channel norms put the slices one after the other on dim 0, :class:`StackedLinear`
    gives them a leading dim of size ``stack``.
    """
    return tensor.reshape(stack, -1)


def unstack_state_dict(state: dict[str, Tensor], stack: int, template: dict[str, Tensor]) -> list[dict[str, Tensor]]:
    """Split the state dict of a stacked network into ``stack`` ordinary state dicts.

    Args:
        state: ``stacked.state_dict()`` (any device).
        stack: the number of slices.
        template: the state dict of one ordinary network of the same configuration (its shapes).
    """
    out: list[dict[str, Tensor]] = [{} for _ in range(stack)]
    for key, target in template.items():
        value = state[key]
        for i in range(stack):
            if target.dim() == 0:  # num_batches_tracked: one count for all slices
                part = value
            elif value.shape == (stack,) + target.shape:
                part = value[i]
            else:
                n = target.shape[0]
                part = value[i * n : (i + 1) * n]
            if part.shape != target.shape:
                raise ConfigError(f"cannot unstack {key}: {tuple(value.shape)} / {stack} does not give {tuple(target.shape)}")
            out[i][key] = part.detach().clone()
    return out


def unstack_model(stacked: nn.Module) -> list[nn.Module]:
    """Split a stacked network back into ``stacked.stack`` ordinary models."""
    s = stacked.stack
    config = _single_config(stacked)
    ref = next(stacked.parameters())
    models = [build_model(config).to(device=ref.device, dtype=ref.dtype) for _ in range(s)]
    states = unstack_state_dict(stacked.state_dict(), s, models[0].state_dict())
    for model, single in zip(models, states):
        model.load_state_dict(single)
        model.model_name = getattr(stacked, "model_name", None)
        model.train(stacked.training)
    return models


def stack_inputs(inputs: Sequence[Tensor]) -> Tensor:
    """S batches (N, C, ...) -> one stacked input (N, S*C, ...)."""
    return torch.cat(list(inputs), dim=1)


def slice_cross_entropy(logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Each slice's mean cross-entropy, shape ``(S,)``.

    Args:
        logits: (N, S, K) from a stacked network, or (N, K) from an ordinary one (one slice).
        targets: (N, S) class indices, one column per slice, or (N,).
    """
    if logits.dim() == 2:  # stack=1: an ordinary (N, K) output, reduced as a plain run reduces it (bit for bit)
        return F.cross_entropy(logits, targets.reshape(-1), label_smoothing=label_smoothing).reshape(1)
    per_sample = F.cross_entropy(logits.permute(0, 2, 1), targets, reduction="none", label_smoothing=label_smoothing)
    return per_sample.mean(0)


def stacked_cross_entropy(logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Sum over slices of each slice's mean cross-entropy (:func:`slice_cross_entropy`).

    Args:
        logits: (N, S, K) from a stacked network.
        targets: (N, S) class indices, one column per slice.

    Summing (not averaging) the per-slice means gives every slice the gradient it would
    get in a run of its own.
    """
    return slice_cross_entropy(logits, targets, label_smoothing).sum()
