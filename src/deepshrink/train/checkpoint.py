"""``last.ckpt``: everything a run needs to resume, written atomically, read without unpickling code.

The checkpoint is a ``torch.save`` archive of tensors and plain Python values only (dicts,
lists, numbers, strings): model and optimiser state, the step of the learning-rate schedule,
the RNG states of every process, the epoch and step reached, the metrics so far and the hash
of the configuration. It is read back with ``torch.load(..., weights_only=True)``, whose
unpickler refuses anything but those types: a crafted file that would run code when
unpickled is rejected with a :class:`~deepshrink.errors.CheckpointError` before any of it runs.

Writing goes through :func:`deepshrink.fileio.atomic_write`: a temporary file in the run
folder, flushed and fsync'ed, then renamed over ``last.ckpt`` (``os.replace`` is atomic on
POSIX and Windows); the folder is fsync'ed too. A crash (even SIGKILL) at any moment leaves
either the old or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepshrink.checks import check_path
from deepshrink.errors import CheckpointError
from deepshrink.fileio import atomic_write
from deepshrink.train.distributed import DistContext

__all__ = ["CKPT_NAME", "CKPT_FORMAT", "save_checkpoint", "load_checkpoint", "capture_rng", "restore_rng", "gather_rng", "restore_process_rng", "check_resumable"]

CKPT_NAME = "last.ckpt"
CKPT_FORMAT = "deepshrink.checkpoint"
CKPT_VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Args:
        state: tensors and plain Python values only (anything else would be refused by
            :func:`load_checkpoint`).
        path: the checkpoint file, usually ``RUN_DIR/last.ckpt``.

    Raises:
        OSError: the write failed (a full disk, no permission); it names ``path``, the
            temporary file is gone and the previous checkpoint at ``path`` is untouched.
    """
    path = Path(path)
    payload = dict(state, format=CKPT_FORMAT, format_version=CKPT_VERSION)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(path, buffer.getvalue())
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, safely.

    Raises:
        CheckpointError: the file is missing, truncated, not a deepshrink checkpoint, or holds
            anything the restricted unpickler refuses (such a payload is never executed).
    """
    path = check_path(path, "checkpoint", CheckpointError)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint does not exist" if not path.exists() else f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            # a file that is not torch.save's (e.g. a plain pickle) makes torch warn about its
            # pickle protocol before refusing it: the refusal below says all there is to say
            warnings.filterwarnings("ignore", message=r".*pickle protocol", category=UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsupported content"
        raise CheckpointError(
            f"{path}: refused to load: the file holds objects other than tensors and plain values "
            f"(not a deepshrink checkpoint, or tampered with; {first[:160]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, AttributeError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT:
        raise CheckpointError(f"{path}: not a deepshrink checkpoint (no format marker)")
    version = state.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path}: 'format_version' must be an integer, got {version!r:.40}")
    if version > CKPT_VERSION:
        raise CheckpointError(f"{path}: written by a newer deepshrink (checkpoint format {version})")
    return state


# ---------------------------------------------------------------------- RNG states
def capture_rng() -> dict[str, Any]:
    """The RNG states of torch (CPU and CUDA), numpy's global RNG and ``random``, as tensors and lists."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(py_version), "state": list(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def gather_rng(ctx: DistContext) -> list[dict[str, Any]]:
    """Each process's torch RNG states (rank order, collective under DDP); rank 0's also numpy's and python's."""
    states = ctx.all_gather_bytes(torch.get_rng_state())
    cuda_states = ctx.all_gather_bytes(torch.cuda.get_rng_state(ctx.device)) if ctx.device.type == "cuda" else None
    out: list[dict[str, Any]] = []
    for r, s in enumerate(states):
        entry: dict[str, Any] = {"torch": s}
        if cuda_states is not None:
            entry["cuda_device"] = cuda_states[r]
        out.append(entry)
    main = capture_rng()
    out[0].update({"numpy": main["numpy"], "python": main["python"]})
    return out


def restore_process_rng(saved: dict[str, Any], device: torch.device) -> None:
    """Undo this process's entry of :func:`gather_rng` (rank 0's restores numpy and python too)."""
    if "numpy" in saved:
        restore_rng(saved)  # torch, numpy, python
    else:
        torch.set_rng_state(saved["torch"])
    if "cuda_device" in saved and device.type == "cuda":
        torch.cuda.set_rng_state(saved["cuda_device"], device)


def check_resumable(state: dict[str, Any], source: str, config_hash: str, steps_per_epoch: int, seeds: list[int]) -> None:
    """Refuse a checkpoint made with another configuration (``config_hash``), other training data
    (``steps_per_epoch``) or another cohort (the runs' ``seeds``).

    Raises:
        CheckpointError: naming ``source`` and what differs.
    """
    if state.get("config_hash") != config_hash:
        raise CheckpointError(
            f"{source}: made with a different configuration (config hash {str(state.get('config_hash'))[:12]} "
            f"!= {config_hash[:12]}); resume with the run's own config.yaml or start a new run"
        )
    if int(state.get("steps_per_epoch", -1)) != steps_per_epoch:
        raise CheckpointError(
            f"{source}: made with {state.get('steps_per_epoch')} steps per epoch, this run has "
            f"{steps_per_epoch} (the training data differ); start a new run"
        )
    stack = len(seeds)
    if int(state.get("stack", 1)) != stack or (stack > 1 and list(state.get("seeds", [])) != seeds):
        raise CheckpointError(
            f"{source}: made for {state.get('stack', 1)} stacked run(s) with seeds {state.get('seeds')}, "
            f"this cohort has {stack} with seeds {seeds}"
        )
