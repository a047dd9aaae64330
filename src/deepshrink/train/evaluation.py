"""Evaluate a finished run on its test set (or other data / noise), and predict files of signals.

* :func:`evaluate_run`: what ``deepshrink evaluate RUN_DIR`` does: rebuild the run's test set
  from ``config.yaml`` (same split, same noise seeds, so it reproduces the test report of the
  run), or a set given by ``data`` / ``noise`` / ``snr`` overrides; write accuracy, macro-F1,
  per-class recall, the confusion matrix (CSV and PNG) and, with several SNRs, accuracy per SNR.
* :func:`predict_file`: classes and probabilities for windows in a ``.npy`` / ``.npz`` /
  ``.csv`` file (each of the model's length).
* :func:`predict_path`: what ``deepshrink predict RUN_DIR FILE`` does: windows as above, or
  one long recording cut into the model's window (:func:`~deepshrink.predict.recording.predict_recording`)
  with per-window probabilities, a per-recording decision and a plot.
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepshrink.checks import existing_file
from deepshrink.data import check_array_sizes
from deepshrink.data.dataset import SignalData
from deepshrink.data.formats.arrays import read_csv_table
from deepshrink.errors import CheckpointError, ConfigError, DatasetError
from deepshrink.fileio import atomic_write
from deepshrink.predict.batch import autocast_dtype, predict_logits, predict_proba
from deepshrink.predict.loading import load
from deepshrink.predict.recording import predict_recording, read_recording
from deepshrink.seeds import PART_NOISE, derive_seed
from deepshrink.train.config import NOISE_CHOICES, TrainConfig, load_config, parse_snr
from deepshrink.train.distributed import resolve_device
from deepshrink.train.metrics import classification_report, write_report
from deepshrink.train.prepare import add_noise_to, clean_parts, load_data_spec

__all__ = ["evaluate_run", "predict_file", "predict_path", "predict_proba", "predict_recording", "read_signals", "run_config"]


def run_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The ``config.yaml`` of a run folder."""
    path = Path(run_dir)
    if not path.is_dir():
        raise CheckpointError(f"{path}: run folder does not exist")
    if not (path / "config.yaml").is_file():
        raise CheckpointError(f"{path / 'config.yaml'}: missing (not a run folder written by deepshrink train?)")
    return load_config(path / "config.yaml")


def _match_labels(ds: SignalData, label_names: list[str] | None, where: str) -> SignalData:
    """``ds`` with labels coded in the model's class order (same class names required)."""
    if not label_names or list(ds.label_names) == list(label_names):
        return ds
    missing = sorted(set(ds.label_names) - set(label_names))
    if missing:
        raise DatasetError(f"{where}: classes {missing} are not classes of the model ({label_names})")
    mapping = torch.tensor([label_names.index(name) for name in ds.label_names])
    return ds.with_labels(mapping[ds.y.cpu()], label_names)  # the codes stay on the device of ds.y


def _noisy_inputs(part: SignalData, kind: str, snr_spec: Any, seed: int, *, every_snr: bool) -> tuple[Any, Any, Any]:
    """Signals, labels and SNRs to evaluate: ``part`` with ``kind`` noise; with ``every_snr`` and a
    discrete set, every observation at every SNR (accuracy per SNR on identical signals)."""
    parsed = parse_snr(snr_spec, "snr") if kind != "none" else None
    if every_snr and isinstance(parsed, list) and len(parsed) > 1:
        noisy = [add_noise_to(part, kind, value, seed=seed) for value in parsed]
        return torch.cat([n.x for n in noisy]), torch.cat([n.y for n in noisy]), torch.cat([n.snr_db for n in noisy])
    noisy = add_noise_to(part, kind, snr_spec, seed=seed) if kind != "none" else part
    return noisy.x, noisy.y, getattr(noisy, "snr_db", None)


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
    dataset: SignalData | None = None,
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
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if data_args and data is None:
        raise ConfigError("data_args need data: name the dataset they are for")
    if output is not None and Path(output).exists() and not Path(output).is_dir():
        raise ConfigError(f"{output}: output must be a folder for the report files, and this is an existing file")
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
            raise ConfigError("split 'val': the run has no validation set (val_fraction is 0)")
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
    noise_seed = derive_seed(int(cfg.seed if seed is None else seed), PART_NOISE[split])
    x, y, snr_db = _noisy_inputs(part, kind, snr_spec, noise_seed, every_snr=snr is not None)

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
    p = existing_file(path)
    suffix = p.suffix.lower()
    if suffix in (".npy", ".npz"):
        check_array_sizes(p)
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
            arr = read_csv_table(p, "one observation per row")[1].astype(np.float32)
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


def _check_window_length(file: Any, length: int, spec: dict[str, Any]) -> None:
    """Windows of another length than the model's are an error, never a silent prediction."""
    expected = spec.get("length")
    if expected is not None and length != expected:
        rate = spec.get("sampling_rate")
        at = f" at {rate:g} Hz" if rate else ""
        raise DatasetError(
            f"{file}: observations of {length} samples, but the model expects windows of {expected} samples{at} "
            "(its config.json 'input'); a file of one long recording, (T,) or (C, T), is cut into windows"
        )


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
    _check_window_length(file, x.shape[-1], spec)
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


# ---------------------------------------------------------------------- predict: whole recordings
def _holds_windows(file: Path, model: nn.Module) -> bool:
    """Whether a .npy / .npz / .csv file (no recording option given) holds windows, not one recording.

    A file is one recording when it holds one signal: ``(T,)``, or 2-D with one axis equal to
    the model's channel count and the other not the model's window; a .csv whose rows are not
    of the model's window length is read as columns (one per channel). Anything else is windows.
    """
    spec = getattr(model, "input_spec", None) or {}
    window, channels = spec.get("length"), getattr(model, "in_channels", 1)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        try:
            x = read_signals(file)
        except DatasetError:
            return False  # ragged or headed columns: a recording (read_recording says what is wrong)
        return x.shape[-1] == window
    if suffix in (".npy", ".npz"):
        check_array_sizes(file)
    try:
        if suffix == ".npy":
            shape = np.load(file, mmap_mode="r", allow_pickle=False).shape
        elif suffix == ".npz":
            with np.load(file, allow_pickle=False) as archive:
                keys = list(archive.files)
                key = "x" if "x" in keys else "X" if "X" in keys else keys[0] if len(keys) == 1 else None
                if key is None:
                    return False  # several arrays (a signal and its rate): a recording
                shape = archive[key].shape
        else:
            return False
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        return True  # unreadable: predict_file's reader says what is wrong
    if len(shape) == 1:
        return False
    if len(shape) == 2:
        if shape[-1] == window and (channels == 1 or shape[0] != channels):
            return True
        return channels not in shape
    return True


def predict_path(
    run_dir: str | os.PathLike,
    file: str | os.PathLike,
    *,
    output: str | os.PathLike | None = None,
    recording: bool | None = None,
    hop: int | None = None,
    key: str | None = None,
    columns: list[str] | None = None,
    sampling_rate: float | None = None,
    resample: bool = False,
    plot: str | os.PathLike | None = None,
    summary: str | os.PathLike | None = None,
    device: str = "auto",
    batch_size: int = 512,
) -> dict[str, Any]:
    """Predict a file of windows, or one long recording, with the model of a run folder.

    The file is one recording if ``recording`` is True, if any recording option is given
    (``hop``, ``key``, ``columns``, ``sampling_rate``, ``resample``, ``plot``, ``summary``),
    if it is a ``.wav`` or ``.mat`` file, or if it holds one signal (see :func:`_holds_windows`);
    otherwise it holds windows of the model's length (:func:`predict_file`).

    Returns:
        ``{"mode": "windows" | "recording", "csv": text, "prediction": RecordingPrediction or
        None, "files": [written paths], "notes": [lines for the user]}``.

    Raises:
        DatasetError: unreadable file, wrong channels, window length or sampling rate (the
            message says what the model expects).
        ConfigError: bad options; an output folder that does not exist.
        CheckpointError: the run folder has no readable model.
    """
    path = Path(file)
    for name, target in (("--output", output), ("--plot", plot), ("--summary", summary)):
        if target is not None and not Path(target).parent.is_dir():
            raise ConfigError(f"{name} {target}: the folder {Path(target).parent} does not exist")
    dev = resolve_device(device)
    model = load(run_dir, map_location=dev)
    wants_recording = recording or any(v not in (None, False, [], "") for v in (hop, key, columns, sampling_rate, resample, plot, summary))
    if recording is False and wants_recording:
        raise ConfigError("--windows: the file is read as windows; --hop, --key, --columns, --sampling-rate, "
                          "--resample, --plot and --summary are for one recording")  # fmt: skip
    if not wants_recording and recording is not False:
        if not path.is_file():
            read_signals(path)  # the usual 'does not exist' message
        wants_recording = path.suffix.lower() in (".wav", ".mat") or not _holds_windows(path, model)
    if not wants_recording:
        text = predict_file(run_dir, path, output, device=device, batch_size=batch_size)
        return {"mode": "windows", "csv": text, "prediction": None, "files": [str(output)] if output else [], "notes": []}

    signal, file_rate = read_recording(path, key=key, columns=columns)
    notes = []
    if sampling_rate is not None:
        if not (isinstance(sampling_rate, (int, float)) and math.isfinite(sampling_rate) and sampling_rate > 0):
            raise ConfigError(f"--sampling-rate: must be a positive number of Hz, got {sampling_rate!r}")
        if file_rate is not None and not math.isclose(file_rate, sampling_rate, rel_tol=1e-4):
            raise DatasetError(f"{path}: the file says {file_rate:g} Hz, --sampling-rate says {sampling_rate:g} Hz")
    rate = sampling_rate if sampling_rate is not None else file_rate
    spec = getattr(model, "input_spec", None) or {}
    if rate is None and spec.get("sampling_rate"):
        notes.append(f"note: {path} carries no sampling rate; taken to be the model's {spec['sampling_rate']:g} Hz "
                     "(give --sampling-rate to check it)")  # fmt: skip
    in_channels = getattr(model, "in_channels", 1)
    if signal.shape[0] != in_channels:
        how = {".csv": "one column per channel; pick them with --columns",
               ".npz": "a (C, T) array", ".npy": "a (C, T) array"}.get(path.suffix.lower(), "its channels")  # fmt: skip
        window = spec.get("length")
        also = f"; a file of windows needs rows of {window} samples" if window and path.suffix.lower() in (".csv", ".npy", ".npz") else ""
        raise DatasetError(f"{path}: read as one recording with {signal.shape[0]} channel(s) ({how}), "
                           f"the model expects {in_channels}{also}")  # fmt: skip
    prediction = predict_recording(model, signal, hop=hop, sampling_rate=rate, resample=resample, batch_size=batch_size,
                                    device=dev, name=str(path))  # fmt: skip
    text = prediction.to_csv()
    files = []
    if output is not None:
        atomic_write(Path(output), text.encode())
        files.append(str(output))
    if plot is not None:
        files.append(str(prediction.plot(plot)))
    if summary is not None:
        files.append(str(prediction.write_summary(summary)))
    return {"mode": "recording", "csv": text, "prediction": prediction, "files": files, "notes": notes}
