"""Evaluate a finished run on its test set (or other data / noise), and predict files of signals.

* :func:`evaluate_run`: what ``deepshrink evaluate RUN_DIR`` does: rebuild the run's test set
  from ``config.yaml`` (same split, same noise seeds, so it reproduces the test report of the
  run), or a set given by ``data`` / ``noise`` / ``snr`` overrides; write accuracy, macro-F1,
  per-class recall, the confusion matrix (CSV and PNG) and, with several SNRs, accuracy per SNR.
* :func:`predict_file`: what ``deepshrink predict RUN_DIR FILE`` does: classes and
  probabilities for the signals in a ``.npy`` / ``.npz`` / ``.csv`` file.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepshrink.errors import CheckpointError, ConfigError, DatasetError
from deepshrink.serialization import atomic_write
from deepshrink.train.config import NOISE_CHOICES, TrainConfig, load_config, parse_snr
from deepshrink.train.distributed import resolve_device
from deepshrink.train.engine import autocast_dtype, predict_logits
from deepshrink.train.loading import load

__all__ = ["evaluate_run", "predict_file", "predict_proba", "read_signals", "run_config"]


def run_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The ``config.yaml`` of a run folder."""
    path = Path(run_dir)
    if not path.is_dir():
        raise CheckpointError(f"{path}: run folder does not exist")
    if not (path / "config.yaml").is_file():
        raise CheckpointError(f"{path / 'config.yaml'}: missing (not a run folder written by deepshrink train?)")
    return load_config(path / "config.yaml")


def _match_labels(ds: Any, label_names: list[str] | None, where: str) -> Any:
    """``ds`` with labels coded in the model's class order (same class names required)."""
    if not label_names or list(ds.label_names) == list(label_names):
        return ds
    missing = sorted(set(ds.label_names) - set(label_names))
    if missing:
        raise DatasetError(f"{where}: classes {missing} are not classes of the model ({label_names})")
    mapping = torch.tensor([label_names.index(name) for name in ds.label_names])
    ds = ds.subset(np.arange(len(ds)))
    ds.y = mapping[ds.y.cpu()].to(ds.y.device)
    ds.label_names = list(label_names)
    return ds


def evaluate_run(
    run_dir: str | os.PathLike,
    *,
    data: str | None = None,
    data_args: dict[str, Any] | None = None,
    noise: str | None = None,
    snr: Any = None,
    split: str | None = None,
    output: str | os.PathLike | None = None,
    prefix: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    seed: int | None = None,
    dataset: Any | None = None,
) -> dict[str, Any]:
    """Evaluate the model of a run folder; writes ``{prefix}_*`` report files.

    Args:
        run_dir: the run folder.
        data, data_args: another dataset (spec and loader arguments); default the run's.
        noise: noise kind (or ``none``); default the run's.
        snr: SNR spec (see :func:`~deepshrink.train.config.parse_snr`); a discrete set such as
            ``"-5:5:1"`` evaluates every observation at every SNR and reports accuracy per SNR.
        split: ``test`` (default for the run's data), ``val``, ``train`` or ``all`` (default for
            other data).
        output: folder for the report files (default: the run folder).
        prefix: file name prefix (default ``test`` for the run's own test set, else ``eval``).
        device, batch_size: where and how to compute.
        seed: noise seed (default: the run's, so the run's test noise is reproduced).
        dataset: evaluate on this :class:`~deepshrink.data.SignalDataset` (instead of ``data``).

    Returns:
        The report (see :func:`~deepshrink.train.metrics.classification_report`), plus
        ``files`` (paths written) and ``description`` (what was evaluated).
    """
    from deepshrink.train.metrics import classification_report, write_report
    from deepshrink.train.run import _seed_for, add_noise_to, clean_parts, load_data_spec

    cfg = run_config(run_dir)
    dev = resolve_device(device)
    model = load(run_dir, map_location=dev)
    label_names = list(getattr(model, "label_names", None) or [])
    own_data = data is None and dataset is None
    split = split or ("test" if own_data else "all")
    if split not in ("test", "val", "train", "all"):
        raise ConfigError(f"split must be one of test, val, train, all; got {split!r}")
    if noise is not None and noise not in NOISE_CHOICES:
        raise ConfigError(f"noise must be one of {', '.join(NOISE_CHOICES)}; got {noise!r}")
    if data is not None:
        ds = load_data_spec(data, data_args or {}, cfg.split)
        where = str(data)
    elif dataset is not None:
        ds, where = dataset, getattr(dataset, "name", "dataset")
    else:
        ds = load_data_spec(cfg.data, cfg.data_args, cfg.split)
        where = cfg.data
    if split == "all":
        part = ds
    else:
        parts = dict(zip(("train", "val", "test"), clean_parts(cfg, ds)))
        part = parts[split]
        if part is None:
            raise ConfigError(f"split 'val': the run has no validation set (val_fraction is 0)")
    part = _match_labels(part, label_names, where)
    if part.num_channels != model.in_channels:
        raise DatasetError(f"{where}: {part.num_channels} channel(s), the model expects {model.in_channels}")

    kind = cfg.noise if noise is None else noise
    snr_spec = cfg.snr if snr is None else snr
    if snr is not None:
        parse_snr(snr, "--snr")
        if kind == "none":
            raise ConfigError("--snr needs a noise kind: the run was trained without noise (give --noise gaussian, ...)")
    if kind != "none" and snr_spec is None:
        raise ConfigError("snr is required with noise (give --snr)")
    purpose = {"train": 11, "val": 12, "test": 13, "all": 14}[split]
    noise_seed = _seed_for(cfg.seed if seed is None else seed, purpose)
    parsed = parse_snr(snr_spec, "snr") if kind != "none" else None
    if snr is not None and isinstance(parsed, list) and len(parsed) > 1:
        # every observation at every SNR: accuracy per SNR on identical signals
        xs, ys, snrs = [], [], []
        for value in parsed:
            noisy = add_noise_to(part, kind, value, seed=noise_seed)
            xs.append(noisy.x)
            ys.append(noisy.y)
            snrs.append(noisy.snr_db)
        x, y, snr_db = torch.cat(xs), torch.cat(ys), torch.cat(snrs)
    else:
        noisy = add_noise_to(part, kind, snr_spec, seed=noise_seed) if kind != "none" else part
        x, y, snr_db = noisy.x, noisy.y, getattr(noisy, "snr_db", None)

    normalize = (getattr(model, "input_spec", None) or {}).get("normalize", cfg.normalize)
    logits = predict_logits(model, x, batch_size=batch_size or cfg.eval_batch_size, device=dev,
                            normalize=normalize, amp_dtype=autocast_dtype(cfg.amp, dev))  # fmt: skip
    y_cpu = y.cpu()
    loss = float(torch.nn.functional.cross_entropy(logits, y_cpu))
    report = classification_report(y_cpu.numpy(), logits.argmax(1).numpy(), label_names or part.label_names,
                                   None if snr_db is None else snr_db.cpu().numpy(), loss=loss)  # fmt: skip
    description = {"data": where, "split": split, "noise": kind, "snr": None if kind == "none" else snr_spec}
    report["evaluated"] = description
    is_default = own_data and split == "test" and noise is None and snr is None and seed is None
    prefix = prefix or ("test" if is_default else "eval")
    title = f"{getattr(model, 'model_name', '')} on {where} ({split}, noise {kind}" + (
        f" {snr_spec} dB)" if kind != "none" else ")"
    )
    report["files"] = [str(p) for p in write_report(report, Path(output) if output else Path(run_dir), prefix=prefix, title=title)]
    return report


# ---------------------------------------------------------------------- predict
def read_signals(path: str | os.PathLike) -> np.ndarray:
    """Signals from ``.npy``, ``.npz`` (key ``x``, or its only array) or ``.csv`` (one row per
    observation, numbers only, an optional header row), as float32 ``(N, C, L)``.

    ``(N, L)`` becomes ``(N, 1, L)`` and a single ``(L,)`` signal ``(1, 1, L)``.

    Raises:
        DatasetError: missing file, unknown suffix, unreadable, not numeric, NaN/Inf, bad shape.
    """
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: file does not exist")
    if not p.is_file():
        raise DatasetError(f"{p}: not a file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as archive:
                keys = list(archive.files)
                key = "x" if "x" in keys else "X" if "X" in keys else keys[0] if len(keys) == 1 else None
                if key is None:
                    raise DatasetError(f"{p}: no array 'x' among {keys} (and more than one array)")
                arr = archive[key]
        elif suffix == ".csv":
            arr = _read_csv_matrix(p)
        else:
            raise DatasetError(f"{p}: unknown file type {p.suffix!r}; use .npy, .npz or .csv")
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"{p}: cannot be read as {suffix} signals ({first[:200]})") from None
    if arr.dtype.kind not in "fiub":
        raise DatasetError(f"{p}: signals must be numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, None, :]
    elif arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3 or 0 in arr.shape:
        raise DatasetError(f"{p}: expected signals of shape (N, L) or (N, C, L), got {arr.shape}")
    bad = ~np.isfinite(arr).reshape(arr.shape[0], -1).all(1)
    if bad.any():
        raise DatasetError(f"{p}: observation {int(np.flatnonzero(bad)[0])} contains NaN or infinite values")
    return arr


def _read_csv_matrix(p: Path) -> np.ndarray:
    text = p.read_text(encoding="utf-8")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise DatasetError(f"{p}: empty CSV file")

    def numbers(row: list[str], line: int) -> list[float]:
        try:
            return [float(c) for c in row]
        except ValueError:
            raise DatasetError(f"{p}: line {line}: not a number in {','.join(row)[:60]!r}") from None

    start = 0
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        start = 1  # a header row
    values = [numbers(r, i + 1) for i, r in enumerate(rows) if i >= start]
    if not values:
        raise DatasetError(f"{p}: no data rows")
    widths = {len(v) for v in values}
    if len(widths) != 1:
        raise DatasetError(f"{p}: rows have different lengths {sorted(widths)}; one observation per row expected")
    return np.asarray(values, dtype=np.float32)


def predict_proba(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 512, device: str | torch.device = "cpu",
    normalize: str | None = None,
) -> np.ndarray:
    """Class probabilities ``(N, K)`` of a loaded model (normalisation from its ``input_spec``)."""
    if normalize is None:
        normalize = (getattr(model, "input_spec", None) or {}).get("normalize", "none")
    dev = torch.device(device)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    logits = predict_logits(model.to(dev), xt, batch_size=batch_size, device=dev, normalize=normalize)
    return torch.softmax(logits, dim=1).numpy()


def predict_file(
    run_dir: str | os.PathLike,
    file: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    device: str = "auto",
    batch_size: int = 512,
) -> str:
    """Predict the signals in ``file`` with the run's model; CSV text (also written to ``output``).

    Columns: ``index``, ``predicted`` (class name), then ``p_<class>`` for every class.

    Raises:
        DatasetError: the file is unreadable or its channel count differs from the model's.
        CheckpointError: the run folder has no readable model.
    """
    dev = resolve_device(device)
    model = load(run_dir, map_location=dev)
    x = read_signals(file)
    if x.shape[1] != model.in_channels:
        raise DatasetError(
            f"{file}: signals have {x.shape[1]} channel(s), the model expects {model.in_channels} "
            f"(shape (N, C, L) with C = {model.in_channels})"
        )
    spec = getattr(model, "input_spec", None) or {}
    probs = predict_proba(model, x, batch_size=batch_size, device=dev, normalize=spec.get("normalize", "none"))
    names = list(getattr(model, "label_names", None) or [str(i) for i in range(probs.shape[1])])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "predicted", *[f"p_{n}" for n in names]])
    for i, row in enumerate(probs):
        writer.writerow([i, names[int(row.argmax())], *[f"{v:.6f}" for v in row]])
    text = out.getvalue()
    if output is not None:
        out_path = Path(output)
        if out_path.parent and not out_path.parent.exists():
            raise ConfigError(f"{out_path}: the folder {out_path.parent} does not exist")
        atomic_write(out_path, text.encode())
    return text
