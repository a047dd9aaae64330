"""Self-describing, pickle-free model files: ``config.json`` + ``model.safetensors``.

A folder written by :func:`save_pretrained` (a run folder has the same two files) rebuilds
the model with nothing but deepshrink: ``config.json`` holds the model name and every
constructor argument, the label names and the input the model expects; the weights are
safetensors, which cannot run code when loaded. Files are written with
:func:`deepshrink.fileio.atomic_write`, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from deepshrink.checks import check_device, check_path
from deepshrink.errors import CheckpointError, ConfigError
from deepshrink.models.registry import build_model, check_model_args
from deepshrink.models.saving import (  # re-exported: the public names of a saved model
    CONFIG_NAME,
    FORMAT,
    FORMAT_VERSION,
    WEIGHTS_NAME,
    save_pretrained,
    unwrap_model,
)

__all__ = [
    "save_pretrained", "from_pretrained", "read_model_config", "CONFIG_NAME", "WEIGHTS_NAME", "FORMAT",
    "FORMAT_VERSION", "unwrap_model",
]  # fmt: skip


def read_model_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model or run folder."""
    directory = check_path(directory, "directory", CheckpointError)
    path = Path(directory) / CONFIG_NAME
    if not Path(directory).is_dir():
        raise CheckpointError(f"{directory}: not a folder with a saved model")
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (not a deepshrink model folder?)")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or not isinstance(config.get("model_args"), dict):
        raise CheckpointError(f"{path}: not a deepshrink model config (missing format or model_args)")
    version = config.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: 'format_version' must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer deepshrink (format {version}; this one reads {FORMAT_VERSION})")
    try:
        check_model_args(config["model_args"], f"{path}: 'model_args'")
    except ConfigError as err:
        raise CheckpointError(str(err)) from None
    if config.get("model_name") is not None and not isinstance(config["model_name"], str):
        raise CheckpointError(f"{path}: 'model_name' must be a string or null, got {config['model_name']!r}")
    labels = config.get("label_names")
    if labels is not None:
        num_classes = config["model_args"].get("num_classes")
        if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            raise CheckpointError(f"{path}: 'label_names' must be a list of strings or null, got {labels!r:.80}")
        if num_classes is not None and len(labels) != num_classes:
            raise CheckpointError(
                f"{path}: 'label_names' has {len(labels)} names but the model has {num_classes} outputs"
            )
        if len(set(labels)) != len(labels):
            raise CheckpointError(f"{path}: 'label_names' has duplicate names {labels!r:.80}")
    if config.get("input") is not None and not isinstance(config["input"], dict):
        raise CheckpointError(f"{path}: 'input' must be a mapping or null, got {config['input']!r:.80}")
    return config


def from_pretrained(directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model from ``config.json`` + ``model.safetensors``, in eval mode.

    The returned model has ``label_names`` and ``input_spec`` attributes from the config.

    Raises:
        CheckpointError: a file is missing, malformed, or the weights don't fit the config.
    """

    device = check_device(map_location, "map_location")
    config = read_model_config(directory)
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    try:
        model = build_model(config["model_args"])
    except (TypeError, ConfigError) as err:
        raise CheckpointError(f"{Path(directory) / CONFIG_NAME}: model_args do not build a model ({err})") from None
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from None
    missing, unexpected = set(model.state_dict()) - set(state), set(state) - set(model.state_dict())
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: weights do not match the model in config.json "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{weights}: weights hold NaN or infinite values ({', '.join(bad[:3])}); the model would predict nonsense")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{weights}: weights do not match the model in config.json ({str(err).splitlines()[-1].strip()})") from None
    model.model_name = config.get("model_name")
    model.label_names = config.get("label_names")
    model.input_spec = config.get("input", {})
    return model.to(device).eval()
