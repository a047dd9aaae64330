"""Predictions on whole recordings: cut a long signal into the model's window, classify every
window, and decide per recording.

* :func:`read_recording`: one long signal from ``.npy`` / ``.npz``, ``.csv`` (one column per
  channel), ``.mat`` (a variable, a CWRU ``*_DE_time`` key or a Paderborn ``Y`` entry) or
  ``.wav``, as float32 ``(C, T)`` with its sampling rate where the file carries one.
* :func:`predict_recording`: windows of the model's length every ``hop`` samples, class
  probabilities per window, and the recording's decision both ways: the class of the mean
  probability, and the majority vote of the windows' classes.
* :class:`RecordingPrediction`: the result; ``to_csv()``, ``summary()``, ``plot(path)``.

The model's input spec (``config.json`` → ``input``: ``length``, ``sampling_rate``,
``normalize``) decides the window and the rate. A recording at another rate is refused with a
message that says the model's rate, unless ``resample=True``; a recording shorter than one
window is refused. Nothing is silently stretched or padded.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepshrink.checks import existing_file
from deepshrink.data.formats import check_array_sizes
from deepshrink.data.formats.arrays import read_csv_table
from deepshrink.data.formats.paderborn import parse_paderborn_name, read_paderborn_file
from deepshrink.data.resample import resample as resample_signal
from deepshrink.errors import ConfigError, DatasetError
from deepshrink.figures import new_figure, save_png
from deepshrink.fileio import atomic_write
from deepshrink.predict.batch import predict_proba
from deepshrink.predict.loading import load

__all__ = ["RecordingPrediction", "predict_recording", "read_recording", "window_starts"]

_RATE_KEYS = ("sampling_rate", "fs", "Fs", "sample_rate", "rate")
_TIME_COLUMNS = ("time", "t", "time_s", "seconds", "timestamp")
_RATE_TOL = 1e-4  # rates closer than this (relative) are the same rate: a time column's rounding


# ---------------------------------------------------------------------- reading
def _channels_first(arr: np.ndarray, where: str) -> np.ndarray:
    """``(T,)`` → ``(1, T)``; a 2-D array as ``(C, T)`` with the shorter axis as channels."""
    if arr.ndim == 1:
        return arr[None, :]
    if arr.ndim == 2:
        return arr if arr.shape[0] <= arr.shape[1] else arr.T
    raise DatasetError(f"{where}: a recording must be (T,) or (C, T), got shape {arr.shape} (windows (N, C, L) are "
                       "predicted without --hop)")  # fmt: skip


def _file_rate(contents: Any, names: list[str], where: Path) -> float | None:
    """The sampling rate a file states under one of :data:`_RATE_KEYS` (None: it states none);
    one that is not a positive number is an error, not "no rate"."""
    key = next((k for k in _RATE_KEYS if k in names), None)
    if key is None:
        return None
    arr = np.asarray(contents[key])
    rate = float(arr.reshape(-1)[0]) if arr.dtype.kind in "fiu" and arr.size == 1 else math.nan
    if not (math.isfinite(rate) and rate > 0):
        shown = arr.reshape(-1)[0] if arr.size == 1 else f"{arr.dtype} of shape {arr.shape}"
        raise DatasetError(f"{where}: {key!r} must be the sampling rate, one positive number (Hz), got {shown}")
    return rate


def _read_npz(p: Path, key: str | None) -> tuple[np.ndarray, float | None]:
    with np.load(p, allow_pickle=False) as archive:
        names = list(archive.files)
        rate = _file_rate(archive, names, p)
        if key is not None:
            if key not in names:
                raise DatasetError(f"{p}: no array {key!r} (arrays: {', '.join(names)})")
            return archive[key], rate
        signals = [n for n in names if n not in _RATE_KEYS]
        for preferred in ("x", "X", "signal"):
            if preferred in signals:
                return archive[preferred], rate
        if len(signals) == 1:
            return archive[signals[0]], rate
        raise DatasetError(f"{p}: several arrays ({', '.join(signals)}); choose one with --key")


def _read_csv_columns(p: Path, columns: list[str] | None) -> tuple[np.ndarray, float | None]:
    header, values = read_csv_table(p, "one column per channel")
    width = values.shape[1]
    names = header or [str(i) for i in range(width)]
    rate = None
    time_col = next((i for i, n in enumerate(names) if header and n.lower() in _TIME_COLUMNS), None)
    if time_col is not None and values.shape[0] >= 2:
        t = values[:, time_col]
        step = float(t[-1] - t[0]) / (t.size - 1)  # from the whole span: printed times are rounded
        if not (step > 0 and np.all(np.abs(np.diff(t) - step) <= 0.05 * step)):
            gap = int(np.argmax(np.abs(np.diff(t) - step))) if step > 0 else int(np.argmax(np.diff(t) <= 0))
            raise DatasetError(f"{p}: column {names[time_col]!r} must rise in equal steps to give the sampling rate; "
                               f"it goes from {t[gap]:g} to {t[gap + 1]:g} at line {gap + 2} (rename the column "
                               "to read it as a channel)")  # fmt: skip
        rate = 1.0 / step
    if columns:
        picked = []
        for c in columns:
            if header and c in header:
                picked.append(header.index(c))
            elif c.isdigit() and int(c) < width:
                picked.append(int(c))
            else:
                raise DatasetError(f"{p}: no column {c!r} (columns: {', '.join(names)})")
    else:
        picked = [i for i in range(width) if i != time_col]
    if not picked:
        raise DatasetError(f"{p}: no signal column (only a time column)")
    return values[:, picked].T, rate


def _read_mat(p: Path, key: str | None) -> tuple[np.ndarray, float | None]:
    import scipy.io  # lazy: scipy is slow to import and only .mat files need it

    if parse_paderborn_name(p.stem) is not None:
        signal = key or "vibration_1"
        data, rates = read_paderborn_file(p, [signal])
        return data[0], rates[0]
    try:
        contents = scipy.io.loadmat(str(p))
    except NotImplementedError:
        raise DatasetError(f"{p}: MATLAB v7.3 (HDF5) files are not supported; save it with -v7") from None
    except Exception as err:  # scipy raises many types for truncated / foreign files
        raise DatasetError(f"{p}: not a readable MATLAB .mat file ({type(err).__name__}: {err})") from None
    names = [k for k in contents if not k.startswith("__")]
    rate = _file_rate(contents, names, p)
    numeric = [k for k in names if k not in _RATE_KEYS and isinstance(contents[k], np.ndarray)
               and contents[k].dtype.kind in "fiu" and contents[k].size > 1]  # fmt: skip
    if key is not None:
        if key in names:
            return contents[key], rate
        ending = [k for k in numeric if k.endswith(f"_{key}_time")]  # CWRU: --key DE → X097_DE_time
        if len(ending) == 1:
            return contents[ending[0]], rate
        raise DatasetError(f"{p}: no variable {key!r} (variables: {', '.join(sorted(names)) or 'none'})")
    de = [k for k in numeric if k.endswith("_DE_time")]
    if len(numeric) == 1:
        return contents[numeric[0]], rate
    number = f"X{int(p.stem):03d}_DE_time" if p.stem.isdigit() else None
    if number in de:
        return contents[number], rate
    if len(de) == 1:
        return contents[de[0]], rate
    raise DatasetError(f"{p}: several signals ({', '.join(sorted(numeric)) or 'none'}); choose one with --key")


def _read_wav(p: Path) -> tuple[np.ndarray, float]:
    import scipy.io.wavfile  # lazy: only .wav files need it

    rate, data = scipy.io.wavfile.read(str(p))
    if rate <= 0:
        raise DatasetError(f"{p}: the file states a sampling rate of {rate} Hz; it is damaged")
    if data.dtype.kind == "i":
        data = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype.kind == "u":  # 8-bit PCM is unsigned, centred on 128
        data = (data.astype(np.float64) - 128.0) / 128.0
    return (data.T if data.ndim == 2 else data), float(rate)


def read_recording(
    path: str | os.PathLike, *, key: str | None = None, columns: list[str] | None = None
) -> tuple[np.ndarray, float | None]:
    """One long signal from a file, as float32 ``(C, T)``, and its sampling rate (None if unknown).

    * ``.npy``: ``(T,)`` or ``(C, T)`` (a 2-D array's shorter axis is the channels).
    * ``.npz``: the array ``key``, else ``x`` / ``signal``, else the only array; a scalar
      ``sampling_rate`` (or ``fs``) in the archive is the rate.
    * ``.csv``: one column per channel, one row per sample, an optional header; ``columns``
      picks columns by header name or 0-based index; a ``time`` column gives the rate and is
      not a channel.
    * ``.mat``: the variable ``key``; for CWRU files ``key="DE"`` / ``"FE"`` / ``"BA"`` picks
      ``X<n>_<key>_time`` (default: the file's drive-end signal); for Paderborn files ``key``
      is a ``Y`` entry (default ``vibration_1``, 64 kHz); a scalar ``fs`` gives the rate.
    * ``.wav``: every channel, the file's rate; integer PCM scaled to [-1, 1).

    Raises:
        DatasetError: Missing or unreadable file, unknown suffix, unknown key or column, not
            numeric, NaN / infinite values (the message gives the sample), bad shape.
    """
    p = existing_file(path)
    suffix = p.suffix.lower()
    if key is not None and suffix not in (".npz", ".mat"):
        raise ConfigError(f"--key: only for .npz and .mat files, not {suffix}")
    if columns and suffix != ".csv":
        raise ConfigError(f"--columns: only for .csv files, not {suffix}")
    if suffix in (".npy", ".npz", ".mat", ".wav"):
        check_array_sizes(p)
    try:
        if suffix == ".npy":
            arr, rate = np.load(p, allow_pickle=False), None
        elif suffix == ".npz":
            arr, rate = _read_npz(p, key)
        elif suffix == ".csv":
            arr, rate = _read_csv_columns(p, columns)
        elif suffix == ".mat":
            arr, rate = _read_mat(p, key)
        elif suffix == ".wav":
            arr, rate = _read_wav(p)
        else:
            raise DatasetError(f"{p}: unknown file type {p.suffix!r}; a recording is .npy, .npz, .csv, .mat or .wav")
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"{p}: cannot be read as a {suffix} recording ({first[:200]})") from None
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fiub":
        raise DatasetError(f"{p}: the signal must be numbers, got dtype {arr.dtype}")
    arr = _channels_first(np.squeeze(arr) if arr.ndim > 2 else arr, str(p)).astype(np.float32)
    if arr.size == 0:
        raise DatasetError(f"{p}: the recording is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        channel, sample = (int(i[0]) for i in np.nonzero(bad))
        raise DatasetError(f"{p}: NaN or infinite value at sample {sample} of channel {channel}")
    return arr, rate


# ---------------------------------------------------------------------- predicting
def window_starts(length: int, window: int, hop: int) -> np.ndarray:
    """Start samples of the windows ``[s, s + window)`` that fit in ``length`` samples, every ``hop``."""
    if length < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, length - window + 1, hop, dtype=np.int64)


@dataclass
class RecordingPrediction:
    """Per-window probabilities of one recording and its decision.

    Attributes:
        starts: ``(W,)`` first sample of each window (at the model's rate).
        window, hop: window length and step in samples.
        sampling_rate: the model's rate (Hz) the windows are at, if known.
        probabilities: ``(W, K)`` class probabilities per window.
        label_names: the K class names.
        length: samples in the (resampled) recording; ``length - (starts[-1] + window)`` at the
            end are in no window.
        source_rate: the rate the recording came with (None if the file carries none).
        name: the file (or ``"signal"``).
    """

    starts: np.ndarray
    window: int
    hop: int
    sampling_rate: float | None
    probabilities: np.ndarray
    label_names: list[str]
    length: int
    source_rate: float | None = None
    name: str = "signal"
    resampled: bool = field(default=False)

    @property
    def mean_probability(self) -> np.ndarray:
        """``(K,)`` mean of the windows' probabilities."""
        return self.probabilities.mean(axis=0)

    @property
    def votes(self) -> np.ndarray:
        """``(K,)`` number of windows whose most probable class is each class."""
        return np.bincount(self.probabilities.argmax(axis=1), minlength=len(self.label_names))

    @property
    def decision(self) -> str:
        """The class with the highest mean probability."""
        return self.label_names[int(self.mean_probability.argmax())]

    @property
    def vote(self) -> str:
        """The majority class of the windows (a tie goes to the tied class with the higher mean probability)."""
        votes = self.votes
        tied = np.flatnonzero(votes == votes.max())
        return self.label_names[int(tied[self.mean_probability[tied].argmax()])]

    def segments(self, smooth: int = 5) -> list[dict[str, Any]]:
        """Stretches of the recording with one predicted class, after a majority filter.

        Each window's class is replaced by the majority class of the ``smooth`` windows around
        it (odd; 1 = no filter), then consecutive windows of one class form a segment. A
        segment spans from half a hop before its first window's centre to half a hop after its
        last one's (clipped to the recording), so segments tile the covered part.

        Returns:
            ``[{"class", "first_window", "last_window", "windows", "start", "end"}]`` with
            ``start`` / ``end`` in seconds (samples when the rate is unknown).
        """
        if not isinstance(smooth, int) or smooth < 1 or smooth % 2 == 0:
            raise ConfigError(f"smooth: must be an odd number of windows >= 1, got {smooth!r}")
        if not self.starts.size:
            return []
        k = len(self.label_names)
        labels = self.probabilities.argmax(axis=1)
        if smooth > 1:
            onehot = np.eye(k, dtype=np.int64)[labels]
            half = smooth // 2
            padded = np.concatenate([np.zeros((1, k), np.int64), np.cumsum(onehot, axis=0)])
            lo = np.clip(np.arange(labels.size) - half, 0, labels.size)
            hi = np.clip(np.arange(labels.size) + half + 1, 0, labels.size)
            counts = padded[hi] - padded[lo]
            best = counts.max(axis=1)  # a tie keeps the window's own class
            labels = np.where(counts[np.arange(labels.size), labels] == best, labels, counts.argmax(axis=1))
        edges = np.flatnonzero(np.diff(labels)) + 1
        firsts = np.concatenate([[0], edges])
        lasts = np.concatenate([edges - 1, [labels.size - 1]])
        scale = self.sampling_rate or 1.0
        centres = self.starts + self.window / 2
        out = []
        for a, b in zip(firsts.tolist(), lasts.tolist()):
            start = 0.0 if a == 0 else max(0.0, centres[a] - self.hop / 2)
            end = float(self.length) if b == labels.size - 1 else min(float(self.length), centres[b] + self.hop / 2)
            out.append({"class": self.label_names[int(labels[a])], "first_window": a, "last_window": b,
                        "windows": b - a + 1, "start": start / scale, "end": end / scale})  # fmt: skip
        return out

    def to_csv(self) -> str:
        """One row per window: ``window, start, end, start_s, end_s, predicted, p_<class>...``.

        ``end`` is exclusive; seconds are empty when the rate is unknown."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["window", "start", "end", "start_s", "end_s", "predicted", *[f"p_{n}" for n in self.label_names]])
        rate = self.sampling_rate
        for i, (start, row) in enumerate(zip(self.starts.tolist(), self.probabilities)):
            end = start + self.window
            seconds = [f"{start / rate:.6f}", f"{end / rate:.6f}"] if rate else ["", ""]
            writer.writerow([i, start, end, *seconds, self.label_names[int(row.argmax())], *[f"{v:.6f}" for v in row]])
        return out.getvalue()

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary: windows, coverage, mean probability, votes and both decisions."""
        covered = int(self.starts[-1] + self.window) if self.starts.size else 0
        rate = self.sampling_rate
        return {
            "file": self.name,
            "sampling_rate": rate,
            "source_sampling_rate": self.source_rate,
            "resampled": self.resampled,
            "window": self.window,
            "hop": self.hop,
            "windows": int(self.starts.size),
            "samples": self.length,
            "duration_s": None if not rate else self.length / rate,
            "samples_not_in_a_window": self.length - covered,
            "mean_probability": {n: float(p) for n, p in zip(self.label_names, self.mean_probability)},
            "votes": {n: int(v) for n, v in zip(self.label_names, self.votes)},
            "decision": {"mean_probability": self.decision, "vote": self.vote},
            "segments": self.segments(),
        }

    def summary_line(self) -> str:
        """One line: ``FILE: W windows of L samples (hop H) over D s -> CLASS (...)``."""
        s = self.summary()
        k = int(self.mean_probability.argmax())
        span = f" over {s['duration_s']:.1f} s at {self.sampling_rate:g} Hz" if self.sampling_rate else ""
        vote = int(self.votes[self.label_names.index(self.vote)])
        agree = "" if self.vote == self.decision else f"; the vote differs: {self.vote}"
        segments = s["segments"]
        if len(segments) > 1:
            unit = " s" if self.sampling_rate else ""
            parts = ", ".join(f"{g['class']} {g['start']:.1f}-{g['end']:.1f}{unit}" for g in segments[:6])
            agree += f"; {len(segments)} segments: {parts}" + (", ..." if len(segments) > 6 else "")
        windows = f"{s['windows']} window{'s' if s['windows'] != 1 else ''}"
        return (f"{self.name}: {windows} of {self.window} samples (hop {self.hop}){span} -> "
                f"{self.decision} (mean probability {self.mean_probability[k]:.3f}; vote {self.vote}, "
                f"{vote}/{s['windows']} windows{agree})")  # fmt: skip

    def plot(self, path: str | os.PathLike, title: str | None = None) -> Path:
        """A PNG of each class's probability along the recording (window centres), written atomically."""
        out = Path(path)
        if not out.parent.is_dir():
            raise ConfigError(f"{out}: the folder {out.parent} does not exist")
        rate = self.sampling_rate
        centres = self.starts + self.window / 2
        x = centres / rate if rate else centres
        fig = new_figure(10, 4.2)
        ax = fig.add_subplot(1, 1, 1)
        for k, name in enumerate(self.label_names):
            ax.plot(x, self.probabilities[:, k], lw=1.2, marker="." if len(x) < 80 else None, label=name)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("time (s), window centre" if rate else "sample, window centre")
        ax.set_ylabel("class probability")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        vote = int(self.votes[self.label_names.index(self.vote)])
        ax.set_title(title or f"{Path(self.name).name}: {self.decision} (mean p {self.mean_probability.max():.2f}; "
                     f"vote {self.vote} {vote}/{self.starts.size}), window {self.window}, hop {self.hop}", fontsize=9)  # fmt: skip
        save_png(fig, out)
        return out

    def write_summary(self, path: str | os.PathLike) -> Path:
        """The :meth:`summary` as JSON."""
        out = Path(path)
        if not out.parent.is_dir():
            raise ConfigError(f"{out}: the folder {out.parent} does not exist")
        atomic_write(out, (json.dumps(self.summary(), indent=2) + "\n").encode())
        return out


def _model_of(model_or_run: nn.Module | str | os.PathLike, device: torch.device) -> nn.Module:
    if isinstance(model_or_run, nn.Module):
        return model_or_run
    return load(model_or_run, map_location=device)


def predict_recording(
    model_or_run: nn.Module | str | os.PathLike,
    signal: np.ndarray | torch.Tensor,
    *,
    hop: int | None = None,
    sampling_rate: float | None = None,
    resample: bool = False,
    window: int | None = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    name: str = "signal",
) -> RecordingPrediction:
    """Classify a long signal window by window with a trained model.

    Args:
        model_or_run: a loaded model (``deepshrink.load(run)``) or a run folder.
        signal: ``(T,)`` or ``(C, T)`` samples, C = the model's input channels.
        hop: step between window starts in samples; default the window (no overlap).
        sampling_rate: the signal's rate (Hz). If given and the model's input spec has
            another, the signal is refused, or resampled to the model's rate with
            ``resample=True``. If omitted the signal is taken to be at the model's rate.
        resample: resample a signal at another rate instead of refusing it.
        window: the window length; default the model's ``input_spec["length"]`` (a different
            value is refused: the model was trained on that length).
        batch_size, device: how to compute.
        name: what the error messages and the summary call the signal.

    Returns:
        A :class:`RecordingPrediction`.

    Raises:
        DatasetError: wrong channel count, wrong sampling rate (the message says the model's),
            a signal shorter than one window, NaN / infinite values.
        ConfigError: a bad ``hop`` or ``window``, or no window length known.
    """
    dev = torch.device(device)
    model = _model_of(model_or_run, dev)
    spec = getattr(model, "input_spec", None) or {}
    length = spec.get("length")
    model_rate = spec.get("sampling_rate")
    where_spec = "its config.json 'input'"
    if window is not None:
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ConfigError(f"window: must be a positive integer, got {window!r}")
        if length is not None and window != length:
            raise ConfigError(f"window: the model takes windows of {length} samples ({where_spec}), not {window}")
    window = int(length if window is None else window) if (length or window) else None
    if window is None:
        raise ConfigError("window: the model has no input length in its input spec; pass window=")
    hop = window if hop is None else hop
    if not isinstance(hop, (int, np.integer)) or isinstance(hop, bool) or hop < 1:
        raise ConfigError(f"--hop: must be a positive number of samples, got {hop!r}")
    x = np.asarray(signal.detach().cpu() if isinstance(signal, torch.Tensor) else signal)
    if x.dtype.kind not in "fiub":
        raise DatasetError(f"{name}: the signal must be numbers, got dtype {x.dtype}")
    x = _channels_first(x, name).astype(np.float32, copy=False)
    in_channels = getattr(model, "in_channels", None)
    if in_channels is not None and x.shape[0] != in_channels:
        raise DatasetError(f"{name}: {x.shape[0]} channel(s), the model expects {in_channels}")
    if not np.isfinite(x).all():
        channel, sample = (int(i[0]) for i in np.nonzero(~np.isfinite(x)))
        raise DatasetError(f"{name}: NaN or infinite value at sample {sample} of channel {channel}")
    resampled = False
    if sampling_rate is not None and model_rate and not math.isclose(float(sampling_rate), float(model_rate), rel_tol=_RATE_TOL):
        if not resample:
            raise DatasetError(
                f"{name}: sampled at {float(sampling_rate):g} Hz, but the model expects {float(model_rate):g} Hz "
                f"({where_spec}); resample the recording (--resample) or give its true rate"
            )
        x = resample_signal(x, float(sampling_rate), float(model_rate), axis=1).astype(np.float32)
        resampled = True
    rate = float(model_rate) if model_rate else (float(sampling_rate) if sampling_rate else None)
    if x.shape[1] < window:
        at = f" at {rate:g} Hz" if rate else ""
        raise DatasetError(
            f"{name}: {x.shape[1]} samples{at}, fewer than the model's window of {window} samples ({where_spec})"
        )
    starts = window_starts(x.shape[1], window, int(hop))
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=1)  # (C, T - window + 1, window), no copy
    chunk = max(1, min(8192, (64 << 20) // (4 * window * x.shape[0])))  # at most ~64 MB of windows at a time
    probs = [predict_proba(model, np.ascontiguousarray(view[:, starts[i : i + chunk]].transpose(1, 0, 2)),
                           batch_size=batch_size, device=dev)  # fmt: skip
             for i in range(0, starts.size, chunk)]
    label_names = list(getattr(model, "label_names", None) or [str(i) for i in range(probs[0].shape[1])])
    return RecordingPrediction(starts=starts, window=window, hop=int(hop), sampling_rate=rate,
                               probabilities=np.concatenate(probs), label_names=label_names, length=int(x.shape[1]),
                               source_rate=None if sampling_rate is None else float(sampling_rate), name=name,
                               resampled=resampled)  # fmt: skip
