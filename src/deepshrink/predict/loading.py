"""``deepshrink.load(run_dir)``: a trained model, ready for inference (light: torch + safetensors)."""

from __future__ import annotations

import os

import torch
from torch import nn

from deepshrink.checks import check_path
from deepshrink.errors import CheckpointError
from deepshrink.serialization import from_pretrained

__all__ = ["load"]


def load(run_dir: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load the model of a run folder (or any ``save_pretrained`` folder) in eval mode.

    Reads ``config.json`` + ``model.safetensors`` only (no pickle). The model carries
    ``label_names`` and ``input_spec`` (``length``, ``sampling_rate``, ``normalize``, ...): if
    ``input_spec["normalize"] == "per_sample"``, standardise each observation and channel
    before calling it, as :func:`deepshrink.predict.batch.normalize_batch` does.

    Args:
        run_dir: the run folder written by ``deepshrink train``.
        map_location: device for the weights.

    Raises:
        CheckpointError: the folder, ``config.json`` or ``model.safetensors`` is missing or broken.
    """
    path = check_path(run_dir, "run_dir", CheckpointError)
    if not path.is_dir():
        raise CheckpointError(f"{path}: run folder does not exist")
    model = from_pretrained(path, map_location=map_location)
    return model.eval()
