"""A run's data: the dataset a config names, its leak-free split, the noise of each part.

:func:`prepare_data` is the one place a run, an evaluation and a study cell get their training,
validation and test sets from a :class:`~deepshrink.train.config.TrainConfig`: the same config
gives the same windows and the same noise, wherever it is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from deepshrink.data import load_dataset, split_by_condition, split_by_recording, split_by_window
from deepshrink.errors import ConfigError, DatasetError
from deepshrink.seeds import PART_NOISE, Purpose, derive_seed
from deepshrink.train.config import TrainConfig, parse_snr

__all__ = ["RunData", "add_noise_to", "clean_parts", "load_data_spec", "prepare_data", "split_indices"]


# ---------------------------------------------------------------------- data
@dataclass
class RunData:
    """The datasets of a run: train, validation (may be None) and test, noise applied."""

    train: Any
    val: Any | None
    test: Any
    label_names: list[str]
    in_channels: int
    length: int
    sampling_rate: float | None
    info: dict[str, Any] = field(default_factory=dict)


def add_noise_to(ds: Any, noise: str, snr: Any, *, seed: int, fresh: bool = False) -> Any:
    """``ds`` with noise of ``kind`` at ``snr`` (see :func:`~deepshrink.train.config.parse_snr`).

    A discrete SNR set gives each observation one of the values, balanced and shuffled by
    ``seed``. ``noise='none'`` returns ``ds`` unchanged.
    """
    if noise == "none":
        return ds
    spec = parse_snr(snr, "snr")
    if isinstance(spec, list):
        rng = np.random.default_rng(seed)
        values = np.resize(np.asarray(spec, dtype=np.float32), len(ds))
        spec = torch.from_numpy(rng.permutation(values))
    return ds.with_noise(spec, noise, seed=seed, fresh_per_epoch=fresh)


def load_data_spec(spec: str, data_args: dict[str, Any], split: str = "recording", dataset: Any | None = None) -> Any:
    """The raw dataset of a config (``dataset`` given: that one)."""
    if dataset is not None:
        return dataset
    kwargs = dict(data_args)
    if split == "predefined" and spec.startswith("ucr:") and "split" not in kwargs:
        kwargs["split"] = "all"
    try:
        return load_dataset(spec, **kwargs)
    except TypeError as err:  # a data_args key the loader does not take
        raise ConfigError(f"data_args for {spec!r}: {err}") from None


def split_indices(cfg: TrainConfig, ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices by the config's split rule (never a recording on both sides, except
    ``window``: the paper's leaky split, kept to measure the leak)."""
    if cfg.split == "window":
        return split_by_window(ds, cfg.test_fraction, seed=derive_seed(cfg.seed, Purpose.TEST_SPLIT))
    if cfg.split == "recording":
        return split_by_recording(ds, cfg.test_fraction, seed=derive_seed(cfg.seed, Purpose.TEST_SPLIT))
    if cfg.split == "condition":
        if len(cfg.test_conditions) != 1:
            raise ConfigError(
                f"test_conditions must name exactly one condition for split: condition, got {cfg.test_conditions!r}"
            )
        (key, values), = cfg.test_conditions.items()
        if key not in ds.conditions:
            raise ConfigError(
                f"test_conditions: dataset {ds.name!r} has no condition {key!r} "
                f"(it has: {', '.join(ds.conditions) or 'none'})"
            )
        test_values = values if isinstance(values, list) else [values]
        present = np.unique(ds.conditions[key]).tolist()
        train_values = [v for v in present if v not in test_values]
        return split_by_condition(ds, key, train_values, test_values)
    # predefined
    if "split" not in ds.conditions:
        raise ConfigError(
            f"split: predefined needs a dataset with a 'split' condition (train/test), e.g. ucr:<Name>; "
            f"dataset {ds.name!r} has none"
        )
    which = np.asarray(ds.conditions["split"]).astype(str)
    train_idx, test_idx = np.flatnonzero(which == "train"), np.flatnonzero(which == "test")
    if not train_idx.size or not test_idx.size:
        raise DatasetError(f"dataset {ds.name!r}: predefined split has an empty train or test part")
    return train_idx, test_idx


def clean_parts(cfg: TrainConfig, ds: Any) -> tuple[Any, Any | None, Any]:
    """``(train, val, test)`` subsets of ``ds`` without noise; ``val`` is None when ``val_fraction`` is 0.

    The test set follows ``cfg.split``; validation takes ``val_fraction`` of the training
    *recordings*, so no recording is on two sides.
    """
    train_idx, test_idx = split_indices(cfg, ds)
    train_part, test_part = ds.subset(train_idx), ds.subset(test_idx)
    val_part = None
    if cfg.val_fraction > 0:
        if train_part.num_recordings < 2:
            raise DatasetError(
                f"dataset {ds.name!r}: the training part has {train_part.num_recordings} recording(s); "
                "a validation split by recording needs at least 2 (set val_fraction: 0)"
            )
        fit_idx, val_idx = split_by_recording(train_part, cfg.val_fraction, seed=derive_seed(cfg.seed, Purpose.VAL_SPLIT))
        train_part, val_part = train_part.subset(fit_idx), train_part.subset(val_idx)
    return train_part, val_part, test_part


def prepare_data(cfg: TrainConfig, dataset: Any | None = None) -> RunData:
    """Load, split (train / validation / test, by recording) and add noise, as the config says.

    Split and noise seeds derive from ``cfg.seed`` (:mod:`deepshrink.seeds`, one per part), so
    ``evaluate`` rebuilds the same test set.

    Args:
        cfg: the run's configuration.
        dataset: use this :class:`~deepshrink.data.SignalDataset` instead of loading ``cfg.data``.
    """
    ds = load_data_spec(cfg.data, cfg.data_args, cfg.split, dataset)
    train_part, val_part, test_part = clean_parts(cfg, ds)
    def noisy(part: Any, name: str, fresh: bool = False) -> Any:
        return add_noise_to(part, cfg.noise, cfg.snr, seed=derive_seed(cfg.seed, PART_NOISE[name]), fresh=fresh)

    train = noisy(train_part, "train", fresh=cfg.noise_protocol == "fresh")
    val = None if val_part is None else noisy(val_part, "val")
    test = noisy(test_part, "test")
    info = {
        "dataset": ds.name,
        "observations": {"train": len(train), "val": 0 if val is None else len(val), "test": len(test)},
        "recordings": {
            "train": train.num_recordings,
            "val": 0 if val is None else val.num_recordings,
            "test": test.num_recordings,
        },
    }
    return RunData(train, val, test, list(ds.label_names), ds.num_channels, ds.length, ds.sampling_rate, info)
