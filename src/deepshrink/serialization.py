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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepshrink.errors import CheckpointError, ConfigError, DatasetError
from deepshrink.fileio import atomic_write, named_os_error  # re-exported, see __all__
from deepshrink.models.registry import check_model_args

__all__ = [
    "save_pretrained", "from_pretrained", "read_model_config", "check_device", "check_path", "CONFIG_NAME",
    "WEIGHTS_NAME",
    "atomic_write", "named_os_error",  # defined in deepshrink.fileio; import them from there
]  # fmt: skip

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "deepshrink.model"
FORMAT_VERSION = 1


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path`; a DatasetError if it does not exist or is not a file."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: file does not exist")
    if not p.is_file():
        raise DatasetError(f"{p}: not a file")
    return p


def check_path(value: Any, argument: str, error: type[Exception] = ConfigError) -> Path:
    """``value`` as a :class:`Path`, or ``error`` naming ``argument`` if it is no path at all.

    Public functions that take a file or folder call this first, so that ``None`` or a number
    is a one-line deepshrink error instead of a TypeError from ``os.fspath``.
    """
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip() and "\0" not in text:
            return Path(text).expanduser()
    raise error(f"{argument}: expected a file or folder path, got {type(value).__name__} {value!r:.60}")


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


def check_device(device: Any, where: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine.

    Raises:
        ConfigError: not a device name, or a CUDA/MPS device this machine does not have.
    """
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError, ValueError):
        raise ConfigError(f"{where}: {device!r} is not a device (use 'cpu', 'cuda' or 'cuda:N')") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{where}: {device!r} asked for, but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"{where}: {device!r} does not exist; this machine has {count} CUDA device(s)")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"{where}: {device!r} asked for, but MPS is not available on this machine")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{where}: device type {dev.type!r} is not supported (use 'cpu', 'cuda' or 'cuda:N')")
    return dev


def from_pretrained(directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model from ``config.json`` + ``model.safetensors``, in eval mode.

    The returned model has ``label_names`` and ``input_spec`` attributes from the config.

    Raises:
        CheckpointError: a file is missing, malformed, or the weights don't fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from deepshrink.models.skeleton import ResidualNet

    device = check_device(map_location, "map_location")
    config = read_model_config(directory)
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    try:
        model = ResidualNet(**config["model_args"])
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
