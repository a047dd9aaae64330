"""Start a run from another run's weights (``deepshrink train --init-from RUN``): fine-tuning.

Weights only: the new run has its own optimiser, schedule, epochs and folder. Every tensor of the
new model is taken from the saved one, which must be the same architecture; the classifier (the
last linear layer) is the exception when the numbers of classes differ: it keeps its fresh
initialisation, and the run says so in one line.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from deepshrink.checks import check_path
from deepshrink.errors import CheckpointError, ConfigError
from deepshrink.serialization import from_pretrained

__all__ = ["init_from"]


def _head(model: nn.Module) -> str | None:
    """The qualified name of the model's last linear layer (its classifier), or None."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return names[-1] if names else None


def init_from(model: nn.Module, source: str | os.PathLike) -> str:
    """Copy the weights of the run folder (or ``save_pretrained`` folder) ``source`` into ``model``.

    Returns:
        One line saying what was loaded and whether the head was re-created.

    Raises:
        CheckpointError: ``source`` is not a readable model folder.
        ConfigError: its architecture differs from ``model``'s (beyond the number of classes).
    """
    path = check_path(source, "--init-from", CheckpointError)
    if not path.is_dir():
        raise CheckpointError(f"{path}: --init-from needs a run folder (with config.json and model.safetensors)")
    saved = from_pretrained(path).state_dict()
    target = model.state_dict()
    head = _head(model)
    if set(saved) != set(target):
        extra, missing = sorted(set(saved) - set(target)), sorted(set(target) - set(saved))
        raise ConfigError(f"--init-from {path}: its model is another architecture (it has {extra[:2]} that this one "
                          f"lacks, and lacks {missing[:2]}); start from a run of the same model")  # fmt: skip
    head_keys = {k for k in target if head is not None and k.rpartition(".")[0] == head}
    mismatched = sorted(k for k in target if saved[k].shape != target[k].shape)
    if any(k not in head_keys for k in mismatched):
        k = next(k for k in mismatched if k not in head_keys)
        raise ConfigError(f"--init-from {path}: {k} is {tuple(saved[k].shape)} there and {tuple(target[k].shape)} "
                          "here (another width or number of input channels); start from a run of the same model")  # fmt: skip
    keep = set(mismatched)  # the head, when the classes differ
    with torch.no_grad():
        for k, value in target.items():
            if k not in keep:
                value.copy_(saved[k])
    loaded = len(target) - len(keep)
    line = f"init from {path}: {loaded} of {len(target)} tensors from its model.safetensors"
    if keep:
        before, now = saved[f"{head}.weight"].shape[0], target[f"{head}.weight"].shape[0]
        line += f"; the head ({head}) re-created: {before} classes there, {now} here"
    return line

