"""The one dataset type of deepshrink: signals ``(N, C, L)`` with labels, recordings and noise.

Every loader (:mod:`deepshrink.data.formats`) and the drivetrain simulator
(:mod:`deepshrink.data.simulate`) returns a :class:`SignalDataset`. It holds the whole set as
tensors, so it can live on a GPU (:meth:`SignalDataset.to`) and be indexed in batches without a
``DataLoader``; it is also a plain :class:`torch.utils.data.Dataset` for the usual loop.

Two things it keeps besides ``x`` and ``y`` matter for honest results:

* ``recording_ids``: which continuous recording each observation (window) was cut from.
  Windows of one recording are strongly correlated (and overlapping windows share samples), so
  a split that puts windows of one recording on both sides leaks the test set into training and
  inflates accuracy (Zhao et al. 2020 split their data at random per observation; several CWRU
  studies report the resulting inflation). :mod:`deepshrink.data.splits` splits by recording.
* ``conditions``: per-observation operating conditions (speed, load, ...), so a split can train
  on some conditions and test on others.

:class:`NoisyDataset` adds noise at a given SNR with :func:`deepshrink.noise.add_noise`,
either once and fixed (the paper's protocol) or freshly each epoch, and keeps the SNR of every
observation (``snr_db``) so accuracy can be reported per SNR.

What the rest of deepshrink needs from a dataset is written down as two protocols:
:class:`TrainingData` (what the training loop reads: ``x``, ``y``, ``len``) and
:class:`SignalData` (what a run, ``evaluate``, the splits and the study use besides). Views
(:meth:`~SignalDataset.subset`, :meth:`~SignalDataset.with_conditions`,
:meth:`~SignalDataset.with_labels`, :meth:`~SignalDataset.with_noise`) return new datasets
and never change the one they come from; only :meth:`~SignalDataset.to` works in place.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import Dataset

from deepshrink.data._coerce import as_conditions, as_index, as_label_names, as_labels, as_recordings, as_signals, summarise
from deepshrink.data.labels import ArrayLike
from deepshrink.errors import ConfigError, DatasetError
from deepshrink.noise import add_noise
from deepshrink.seeds import Purpose, derive_seed

__all__ = ["SignalDataset", "NoisyDataset", "SignalData", "TrainingData"]

SNRSpec = float | tuple[float, float] | Sequence[float] | np.ndarray | torch.Tensor


@runtime_checkable
class TrainingData(Protocol):
    """What the training loop (:class:`~deepshrink.train.engine.Trainer`) reads from a dataset.

    The whole set as two tensors with one row per observation; the loop indexes batches of rows
    itself (no ``DataLoader``). It also calls two methods when a set has them: ``set_epoch(epoch)``
    at the start of every epoch (a :class:`NoisyDataset` redraws fresh noise there) and
    ``to(device)`` once, to keep the set on an accelerator (in place). A :class:`SignalDataset` is
    one; so are the scikit-learn estimator's arrays, which may be images (any number of dims).
    """

    x: torch.Tensor
    """Inputs, float, ``(N, C, *spatial)``."""
    y: torch.Tensor
    """Class codes, int64, ``(N,)``."""

    def __len__(self) -> int: ...


@runtime_checkable
class SignalData(TrainingData, Protocol):
    """What a run (:mod:`deepshrink.train.run`), ``evaluate``, the splits and the study use.

    :class:`SignalDataset` (and :class:`NoisyDataset`) is the implementation; the protocol is the
    contract those callers rely on. A noisy set also has ``snr_db`` (float32 ``(N,)``, the SNR of
    each observation's noise) and ``clean()``; callers look for them with ``getattr`` /
    ``hasattr``, as a clean set has neither.
    """

    name: str
    label_names: list[str]
    sampling_rate: float | None
    recording_ids: torch.Tensor
    recording_names: list[Any]
    conditions: dict[str, np.ndarray]

    @property
    def num_classes(self) -> int: ...

    @property
    def num_channels(self) -> int: ...

    @property
    def length(self) -> int: ...

    @property
    def num_recordings(self) -> int: ...

    def subset(self, indices: ArrayLike) -> SignalData: ...

    def with_conditions(self, **marks: ArrayLike) -> SignalData: ...

    def with_labels(self, y: ArrayLike, label_names: Sequence[str]) -> SignalData: ...

    def with_noise(
        self, snr_db: SNRSpec, kind: str = "gaussian", seed: int = 0, fresh_per_epoch: bool = False
    ) -> SignalData: ...


class SignalDataset(Dataset):
    """Signals of shape ``(N, C, L)`` with class labels, recording ids and conditions.

    Args:
        x: Signals, a numpy array or tensor of shape ``(N, C, L)``, or ``(N, L)`` for one
            channel; stored as a float32 tensor (a float32 tensor is kept without copying).
        y: Class codes ``0..K-1``, shape ``(N,)``; stored as an int64 tensor.
        label_names: The K class names, in code order.
        sampling_rate: Samples per second, if known.
        recording_ids: Shape ``(N,)``: the recording (integer or string id) each observation
            was cut from. Stored as int64 codes in ``recording_ids``; ``recording_names[code]``
            gives the original id. Default: every observation is its own recording.
        conditions: Operating conditions, name → shape ``(N,)`` values (numbers or strings),
            e.g. ``{"speed_hz": ..., "load": ...}``; stored as numpy arrays on the CPU.
        name: A short name for messages and reports.

    Raises:
        DatasetError: ``x`` is ragged, empty, not numeric or holds NaN/Inf (the message names
            the first bad observation); ``y`` has the wrong length or values outside
            ``0..K-1``; fewer than two classes; ``recording_ids`` or a condition has the
            wrong length.

    Attributes:
        x: float32 tensor ``(N, C, L)``.
        y: int64 tensor ``(N,)``.
        recording_ids: int64 tensor ``(N,)`` of codes into ``recording_names``.
        recording_names: The original recording ids, indexed by code.
        conditions: dict of numpy arrays ``(N,)``.
        label_names, sampling_rate, name: As given.

    Example:
        >>> ds = SignalDataset(x, y, label_names=["healthy", "fault"], sampling_rate=12800)
        >>> train_idx, test_idx = split_by_recording(ds, test_fraction=0.2, seed=0)
        >>> train = ds.subset(train_idx).with_noise(0.0, "gaussian", seed=1)
    """

    _fields: ClassVar[tuple[str, ...]] = (
        "x", "y", "label_names", "sampling_rate", "recording_ids", "recording_names", "conditions", "name",
    )  # fmt: skip
    """What a dataset is: the attributes :meth:`__init__` sets (a subclass adds its own)."""

    _row_tensors: tuple[str, ...] = ("x", "y", "recording_ids")
    """Tensor attributes with one row per observation (indexed by subset, moved by to)."""

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        *,
        label_names: Sequence[str],
        sampling_rate: float | None = None,
        recording_ids: ArrayLike | None = None,
        conditions: Mapping[str, ArrayLike] | None = None,
        name: str = "dataset",
    ) -> None:
        self.name = str(name)
        where = f"dataset {self.name!r}"
        self.x = as_signals(x, where)
        n = self.x.shape[0]
        self.label_names = as_label_names(label_names, where)
        self.y = as_labels(y, n, len(self.label_names), where)
        present = torch.unique(self.y)
        if present.numel() < 2:
            raise DatasetError(
                f"{where}: every observation has the same class "
                f"{self.label_names[int(present[0])]!r}; classification needs at least 2 classes"
            )
        if sampling_rate is not None:
            if not isinstance(sampling_rate, numbers.Real) or not (
                math.isfinite(sampling_rate) and sampling_rate > 0
            ):
                raise DatasetError(
                    f"{where}: sampling_rate must be a positive number, got {sampling_rate!r}"
                )
            sampling_rate = float(sampling_rate)
        self.sampling_rate: float | None = sampling_rate
        self.recording_ids, self.recording_names = as_recordings(recording_ids, n, where)
        self.conditions = as_conditions(conditions, n, where)

    @classmethod
    def from_recordings(
        cls,
        recordings: Sequence[ArrayLike],
        labels: Sequence[int],
        *,
        window: int,
        stride: int | None = None,
        label_names: Sequence[str],
        recording_names: Sequence[Any] | None = None,
        conditions: Mapping[str, Sequence[Any]] | None = None,
        sampling_rate: float | None = None,
        name: str = "dataset",
    ) -> SignalDataset:
        """Cut continuous recordings into windows; windows never cross recordings.

        Args:
            recordings: One array per recording, shape ``(T,)`` or ``(C, T)``.
            labels: The class code of each recording.
            window: Window length in samples (becomes ``L``).
            stride: Step between window starts; default ``window`` (no overlap). A stride
                below ``window`` overlaps windows, but only inside one recording, and all
                windows of a recording share its recording id, so the splits in
                :mod:`deepshrink.data.splits` keep them on one side.
            label_names: The K class names.
            recording_names: A name per recording (e.g. its file name), used as recording id
                and in error messages; default ``0..R-1``.
            conditions: name → one value per recording, repeated for each of its windows.
            sampling_rate: Samples per second.
            name: Dataset name.

        Returns:
            A dataset with ``sum_r ((T_r - window) // stride + 1)`` observations.

        Raises:
            DatasetError: A recording is shorter than ``window``, or channel counts differ.
            ConfigError: ``window`` or ``stride`` is not a positive integer.
        """
        stride = window if stride is None else stride
        for arg, value in (("window", window), ("stride", stride)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{arg}: must be a positive integer, got {value!r}")
        names = list(range(len(recordings))) if recording_names is None else list(recording_names)
        if len(labels) != len(recordings) or len(names) != len(recordings):
            raise DatasetError(
                f"dataset {name!r}: {len(recordings)} recordings but {len(labels)} labels "
                f"and {len(names)} recording names"
            )
        pieces, ys, rec_ids = [], [], []
        cond_lists: dict[str, list[np.ndarray]] = {key: [] for key in (conditions or {})}
        channels = None
        for r, signal in enumerate(recordings):
            arr = np.asarray(signal.cpu() if isinstance(signal, torch.Tensor) else signal)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2:
                raise DatasetError(
                    f"recording {names[r]!r}: expected shape (T,) or (C, T), got {arr.shape}"
                )
            if channels is not None and arr.shape[0] != channels:
                raise DatasetError(
                    f"recording {names[r]!r}: has {arr.shape[0]} channels, earlier ones {channels}"
                )
            channels = arr.shape[0]
            length = arr.shape[1]
            if length < window:
                raise DatasetError(
                    f"recording {names[r]!r}: window of {window} samples is longer than the "
                    f"recording ({length} samples)"
                )
            count = (length - window) // stride + 1
            view = np.lib.stride_tricks.sliding_window_view(arr, window, axis=1)  # (C, n, window)
            pieces.append(
                np.ascontiguousarray(
                    view[:, ::stride][:, :count].transpose(1, 0, 2), dtype=np.float32
                )
            )
            ys.append(np.full(count, labels[r], dtype=np.int64))
            rec_ids.append(np.full(count, r, dtype=np.int64))
            for key, values in (conditions or {}).items():
                cond_lists[key].append(np.repeat(np.asarray(values)[r : r + 1], count))
        if not pieces:
            raise DatasetError(f"dataset {name!r}: no recordings given")
        rec = np.concatenate(rec_ids)
        named = (
            np.asarray([str(v) for v in names])
            if any(isinstance(v, str) for v in names)
            else np.asarray(names)
        )
        return cls(
            np.concatenate(pieces),
            np.concatenate(ys),
            label_names=label_names,
            sampling_rate=sampling_rate,
            recording_ids=named[rec],
            conditions={key: np.concatenate(parts) for key, parts in cond_lists.items()},
            name=name,
        )

    # ----------------------------------------------------------------- basic properties
    @property
    def num_classes(self) -> int:
        """Number of classes K (``len(label_names)``)."""
        return len(self.label_names)

    @property
    def num_channels(self) -> int:
        """Channels per observation, C."""
        return int(self.x.shape[1])

    @property
    def length(self) -> int:
        """Samples per observation, L."""
        return int(self.x.shape[2])

    @property
    def num_recordings(self) -> int:
        """Number of distinct recordings present."""
        return int(torch.unique(self.recording_ids).numel())

    @property
    def device(self) -> torch.device:
        """The device the tensors are on."""
        return self.x.device

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x[index], y[index])``; ``index`` may be an int, slice or index tensor (a batch)."""
        return self.x[index], self.y[index]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, N={len(self)}, C={self.num_channels}, "
            f"L={self.length}, classes={self.num_classes}, recordings={self.num_recordings}, "
            f"device={self.device})"
        )

    # ----------------------------------------------------------------- derived views
    @classmethod
    def _of(cls, **fields: Any) -> SignalDataset:
        """A dataset of fields taken from a dataset already checked: the checks are not repeated.

        The one way a view of another type is made (:meth:`NoisyDataset.clean`); every name of
        ``cls._fields`` must be given, and nothing else.
        """
        if set(fields) != set(cls._fields):
            raise TypeError(f"{cls.__name__}._of: needs exactly the fields {cls._fields}, got {sorted(fields)}")
        new = cls.__new__(cls)
        for key in cls._fields:
            setattr(new, key, fields[key])
        return new

    def _replace(self, **changes: Any) -> SignalDataset:
        """A copy of this dataset (same type) with some attributes replaced, the others shared.

        Views of a checked dataset go through here, so they never change the dataset they come
        from; checking the replaced values is the caller's job.
        """
        unknown = sorted(key for key in changes if not hasattr(self, key))
        if unknown:
            raise AttributeError(f"{type(self).__name__} has no attribute(s) {unknown} to replace")
        new = copy.copy(self)
        for key, value in changes.items():
            setattr(new, key, value)
        return new

    def subset(self, indices: ArrayLike) -> SignalDataset:
        """A new dataset of the given observations (same type, classes and recording names).

        Recording codes are kept, so ids stay comparable between subsets of one dataset. A
        subset may hold a single class (no validation is repeated).

        Args:
            indices: Integer indices or a boolean mask of shape ``(N,)``.
        """
        idx = as_index(indices, len(self), f"dataset {self.name!r}: subset")
        rows = torch.from_numpy(idx)
        changes: dict[str, Any] = {}
        for attr in self._row_tensors:
            value = getattr(self, attr)
            changes[attr] = value.index_select(0, rows.to(value.device))
        changes["conditions"] = {key: values[idx] for key, values in self.conditions.items()}
        return self._replace(**changes)

    def with_conditions(self, **marks: ArrayLike) -> SignalDataset:
        """This dataset with conditions added or replaced, e.g. ``with_conditions(split=marks)``.

        Args:
            marks: condition name → one value per observation (shape ``(N,)``), or one value
                for all of them.

        Raises:
            DatasetError: a condition of the wrong length.
        """
        new = as_conditions(marks, len(self), f"dataset {self.name!r}: with_conditions")
        return self._replace(conditions={**self.conditions, **new})

    def with_labels(self, y: ArrayLike, label_names: Sequence[str]) -> SignalDataset:
        """This dataset with other class codes and names, e.g. coded in a model's class order.

        The codes stay on the device of the current ones. As with a subset, one class may be
        present.

        Args:
            y: class codes ``0..K-1``, shape ``(N,)``.
            label_names: the K class names, in code order.

        Raises:
            DatasetError: ``y`` of the wrong length or out of range; ``label_names`` not a
                list of distinct names, or fewer than two.
        """
        where = f"dataset {self.name!r}: with_labels"
        names = as_label_names(label_names, where)
        codes = as_labels(y, len(self), len(names), where).to(self.y.device)
        return self._replace(y=codes, label_names=names)

    def to(self, device: torch.device | str) -> SignalDataset:
        """Move the tensors to ``device`` in place (like ``nn.Module.to``) and return self.

        The whole set becomes resident there, so a training loop can index batches directly
        (``ds.x[idx]``). ``conditions`` stay numpy arrays on the CPU.
        """
        for attr in self._row_tensors:
            setattr(self, attr, getattr(self, attr).to(device))
        return self

    def class_counts(self) -> np.ndarray:
        """Observations per class, an int64 array of length K (zeros for absent classes)."""
        return np.bincount(self.y.cpu().numpy(), minlength=self.num_classes).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary: sizes, classes, counts, recordings and conditions."""
        y = self.y.cpu().numpy()
        rec = self.recording_ids.cpu().numpy()
        recordings_per_class = {
            label: int(np.unique(rec[y == k]).size) for k, label in enumerate(self.label_names)
        }
        info: dict[str, Any] = {
            "name": self.name,
            "num_observations": len(self),
            "num_channels": self.num_channels,
            "length": self.length,
            "sampling_rate": self.sampling_rate,
            "duration_s": None if self.sampling_rate is None else self.length / self.sampling_rate,
            "num_classes": self.num_classes,
            "classes": list(self.label_names),
            "class_counts": dict(zip(self.label_names, self.class_counts().tolist())),
            "num_recordings": int(np.unique(rec).size),
            "recordings_per_class": recordings_per_class,
            "conditions": {key: summarise(values) for key, values in self.conditions.items()},
        }
        return info

    def with_noise(
        self,
        snr_db: SNRSpec,
        kind: str = "gaussian",
        seed: int = 0,
        fresh_per_epoch: bool = False,
    ) -> NoisyDataset:
        """This dataset with noise added at ``snr_db``; see :class:`NoisyDataset`."""
        return NoisyDataset(self, snr_db, kind=kind, seed=seed, fresh_per_epoch=fresh_per_epoch)


class NoisyDataset(SignalDataset):
    """A :class:`SignalDataset` whose ``x`` is the clean signal plus noise at a given SNR.

    The noise comes from :func:`deepshrink.noise.add_noise` (SNR per observation and channel:
    ``10·log10(P_signal / P_noise)``) and is drawn on the device the data is on.

    Two protocols:

    * ``fresh_per_epoch=False`` (default, the paper's): noise is added once and stays fixed;
      :meth:`set_epoch` does nothing. The same ``seed`` gives the same noise.
    * ``fresh_per_epoch=True``: :meth:`set_epoch` redraws noise (and SNRs from a range) for
      every epoch, deterministically from ``(seed, epoch)``. Epoch 0 equals the fixed noise.
      Call it before creating the epoch's ``DataLoader`` iterator (workers copy the dataset;
      with ``persistent_workers=True`` they would keep the old noise).

    A subset keeps the current noise of its observations; after :meth:`set_epoch` a subset
    draws its own noise (deterministic from seed, epoch and the subset).

    Args:
        clean: The dataset to add noise to (if it is itself noisy, its clean signal is used).
        snr_db: SNR in dB: a number; a ``(low, high)`` tuple, one SNR per observation drawn
            uniformly; or a per-observation sequence / array / tensor of shape ``(N,)``.
        kind: A noise kind of :data:`deepshrink.noise.NOISE_KINDS` (``"gaussian"``,
            ``"laplacian"``, ``"pink"``, ...).
        seed: Integer seed.
        fresh_per_epoch: Redraw the noise at each :meth:`set_epoch`.

    Attributes:
        clean_x: The clean signals, float32 ``(N, C, L)``.
        snr_db: float32 tensor ``(N,)``: the SNR of each observation's current noise.
        noise_kind, seed, fresh_per_epoch, epoch: As given / last epoch set.

    Raises:
        ConfigError: ``seed`` is not an int, ``snr_db`` has the wrong shape, or
            ``add_noise`` rejects ``kind`` / ``snr_db``.
    """

    def __init__(
        self,
        clean: SignalDataset,
        snr_db: SNRSpec,
        *,
        kind: str = "gaussian",
        seed: int = 0,
        fresh_per_epoch: bool = False,
    ) -> None:
        if not isinstance(clean, SignalDataset):
            raise ConfigError(f"clean: expected a SignalDataset, got {type(clean).__name__}")
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed: must be a non-negative int, got {seed!r}")
        for key in SignalDataset._fields:  # shared with ``clean`` (x is replaced by the noisy signal below)
            setattr(self, key, getattr(clean, key))
        self.conditions = dict(clean.conditions)
        self.clean_x = clean.clean_x if isinstance(clean, NoisyDataset) else clean.x
        self.noise_kind = kind
        self.seed = int(seed)
        self.fresh_per_epoch = bool(fresh_per_epoch)
        self.epoch = 0
        if isinstance(snr_db, (tuple, numbers.Real)):
            self._snr_request: Any = snr_db
        else:
            try:
                request = torch.as_tensor(
                    snr_db if isinstance(snr_db, torch.Tensor) else np.asarray(snr_db, dtype=float),
                    dtype=torch.float32,
                )
            except (TypeError, ValueError, RuntimeError):
                raise ConfigError(
                    f"snr_db: expected a number, a (low, high) tuple or one SNR per observation, "
                    f"got {type(snr_db).__name__}"
                ) from None
            if request.ndim == 0:
                request = request.expand(len(self)).clone()
            if request.shape != (len(self),):
                raise ConfigError(
                    f"snr_db: a per-observation SNR needs shape ({len(self)},), got "
                    f"{tuple(request.shape)}; use a number or a (low, high) tuple otherwise"
                )
            self._snr_request = request
        self._draw(0)

    @property
    def _row_tensors(self) -> tuple[str, ...]:  # type: ignore[override]
        """Also the clean signal, the SNRs and a per-observation SNR request."""
        names = SignalDataset._row_tensors + ("clean_x", "snr_db")
        return names + (("_snr_request",) if isinstance(self._snr_request, torch.Tensor) else ())

    def _draw(self, epoch: int) -> None:
        request = self._snr_request
        if isinstance(request, torch.Tensor):
            request = request.to(self.clean_x.device)
        noisy, snr = add_noise(
            self.clean_x, request, self.noise_kind, derive_seed(self.seed, Purpose.NOISE_EPOCH, epoch), return_snr=True
        )
        self.x = noisy
        self.snr_db = snr[:, 0].to(torch.float32).contiguous()

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: redraws the noise if ``fresh_per_epoch``, else does nothing."""
        if not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ConfigError(f"epoch: must be a non-negative int, got {epoch!r}")
        epoch = int(epoch)
        if self.fresh_per_epoch and epoch != self.epoch:
            self._draw(epoch)
        self.epoch = epoch

    def clean(self) -> SignalDataset:
        """The dataset without noise, a plain :class:`SignalDataset` (shares tensors with this one)."""
        fields = {key: getattr(self, key) for key in SignalDataset._fields}
        return SignalDataset._of(**{**fields, "x": self.clean_x})

    def describe(self) -> dict[str, Any]:
        """As :meth:`SignalDataset.describe`, plus a ``noise`` entry."""
        info = super().describe()
        snr = self.snr_db.cpu()
        info["noise"] = {
            "kind": self.noise_kind,
            "snr_db_min": float(snr.min()),
            "snr_db_max": float(snr.max()),
            "seed": self.seed,
            "fresh_per_epoch": self.fresh_per_epoch,
            "epoch": self.epoch,
        }
        return info
