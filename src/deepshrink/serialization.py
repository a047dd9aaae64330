"""Self-describing, pickle-free model files: ``config.json`` + ``model.safetensors``.

A folder written by :func:`save_pretrained` (a run folder has the same two files) rebuilds
the model with nothing but deepshrink: ``config.json`` holds the model name and every
constructor argument, the label names and the input the model expects; the weights are
safetensors, which cannot run code when loaded. Files are written to a temporary name and
renamed, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepshrink.errors import CheckpointError, ConfigError

__all__ = ["save_pretrained", "from_pretrained", "read_model_config", "atomic_write", "CONFIG_NAME", "WEIGHTS_NAME"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "deepshrink.model"
FORMAT_VERSION = 1


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    from safetensors.torch import save

    model = unwrap_model(model)
    if not hasattr(model, "config"):
        raise ConfigError(f"save_pretrained needs a deepshrink model with a .config, got {type(model).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    num_classes = model.config.get("num_classes")
    if label_names is not None and num_classes is not None and len(label_names) != num_classes:
        raise ConfigError(f"label_names has {len(label_names)} names but the model has {num_classes} outputs")
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": getattr(model, "model_name", None),
        "model_args": model.config,
        "label_names": list(label_names) if label_names is not None else None,
        "input": dict(input_spec or {}, in_channels=model.config.get("in_channels"), spatial_dims=model.config.get("spatial_dims")),
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


def read_model_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model or run folder."""
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
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer deepshrink (format {config['format_version']})")
    return config


def from_pretrained(directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model from ``config.json`` + ``model.safetensors``, in eval mode.

    The returned model has ``label_names`` and ``input_spec`` attributes from the config.

    Raises:
        CheckpointError: a file is missing, malformed, or the weights don't fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from deepshrink.models.skeleton import ResidualNet

    config = read_model_config(directory)
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    try:
        model = ResidualNet(**config["model_args"])
    except (TypeError, ConfigError) as err:
        raise CheckpointError(f"{Path(directory) / CONFIG_NAME}: model_args do not build a model ({err})") from None
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from None
    missing, unexpected = set(model.state_dict()) - set(state), set(state) - set(model.state_dict())
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: weights do not match the model in config.json "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{weights}: weights do not match the model in config.json ({str(err).splitlines()[-1].strip()})") from None
    model.model_name = config.get("model_name")
    model.label_names = config.get("label_names")
    model.input_spec = config.get("input", {})
    return model.to(map_location).eval()
