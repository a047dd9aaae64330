"""Writing a model as ``config.json`` + ``model.safetensors`` (below the model classes, which
offer it as a method; reading it back, which needs them: :mod:`deepshrink.serialization`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetensors.torch import save
from torch import nn

from deepshrink.checks import check_path
from deepshrink.errors import ConfigError
from deepshrink.fileio import atomic_write

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "FORMAT", "FORMAT_VERSION", "save_pretrained", "unwrap_model"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "deepshrink.model"
FORMAT_VERSION = 1


def save_pretrained(
    model: nn.Module,
    directory: str | os.PathLike,
    *,
    label_names: Sequence[str] | None = None,
    input_spec: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save a deepshrink model as ``config.json`` + ``model.safetensors`` in ``directory``.

    Args:
        model: a model made by :func:`deepshrink.create_model` (it carries ``config`` and
            ``model_name``); DDP or compiled wrappers are unwrapped.
        directory: created if missing.
        label_names: class names, in the order of the model's outputs.
        input_spec: what the model expects, e.g. ``{"in_channels": 1, "length": 2048,
            "sampling_rate": 12800}``.
        extra: more JSON-serialisable facts to keep (e.g. training data, metrics).

    Returns:
        The directory.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"save_pretrained: model must be a torch module, got {type(model).__name__}")
    model = unwrap_model(model)
    if not isinstance(getattr(model, "config", None), dict):
        raise ConfigError(f"save_pretrained needs a deepshrink model with a .config, got {type(model).__name__}")
    directory = check_path(directory, "directory")
    num_classes = model.config.get("num_classes")
    if label_names is not None:
        if isinstance(label_names, (str, bytes)) or not isinstance(label_names, Sequence):
            raise ConfigError(f"label_names: expected a list of class names, got {type(label_names).__name__} {label_names!r:.60}")
        label_names = [str(v) for v in label_names]
        if num_classes is not None and len(label_names) != num_classes:
            raise ConfigError(f"label_names has {len(label_names)} names but the model has {num_classes} outputs")
        if len(set(label_names)) != len(label_names):
            raise ConfigError(f"label_names has duplicate names: {label_names!r:.80}")
    for name, value in (("input_spec", input_spec), ("extra", extra)):
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping or None, got {type(value).__name__}")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{name}: must hold JSON values only (numbers, strings, lists, mappings): {err}") from None
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": getattr(model, "model_name", None),
        "model_args": model.config,
        "label_names": list(label_names) if label_names is not None else None,
        "input": dict(input_spec or {}, in_channels=model.config.get("in_channels"), spatial_dims=getattr(model, "spatial_dims", None)),
        "extra": extra or {},
    }
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS_NAME, save(state, metadata={"format": "pt"}))
    atomic_write(directory / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    return directory


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel and ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model
