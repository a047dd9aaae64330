"""Leak-free train / test splits: by recording, k-fold by recording, and by condition.

Why not a random split of observations: vibration observations are windows cut from a few long
recordings. Windows of one recording share the machine, sensor mounting, speed and load, and
overlapping windows even share samples, so a model can recognise the *recording* instead of the
fault. A random per-observation split (as in Zhao et al. 2020, and in many CWRU studies) puts
windows of one recording on both sides and inflates test accuracy; studies of CWRU report large
drops once recordings are kept apart. Every split here assigns whole recordings
(``SignalDataset.recording_ids``) to one side and checks the result with
:func:`check_no_leak` before returning it. Harder still, :func:`split_by_condition` tests on
operating conditions (speed, load) never seen in training.

All functions return numpy int64 index arrays into the dataset, sorted ascending; use
``ds.subset(idx)`` to get the parts.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepshrink.data._coerce import as_index
from deepshrink.data.dataset import SignalDataset
from deepshrink.data.labels import ArrayLike
from deepshrink.errors import ConfigError, DatasetError

__all__ = ["check_no_leak", "kfold_by_recording", "split_by_condition", "split_by_recording", "split_by_window"]

Split = tuple[np.ndarray, np.ndarray]


def _recordings(ds: SignalDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per observation recording codes, the distinct codes, and each one's (majority) class."""
    rec = ds.recording_ids.cpu().numpy()
    y = ds.y.cpu().numpy()
    codes = np.unique(rec)
    k = ds.num_classes
    counts = np.bincount(rec * k + y, minlength=(int(rec.max()) + 1) * k).reshape(-1, k)
    return rec, codes, counts[codes].argmax(axis=1)


def _as_list(values: Any) -> list[Any]:
    """A condition value or sequence of values as a list."""
    if isinstance(values, (str, bytes, numbers.Number)):
        return [values]
    return list(np.asarray(values).reshape(-1).tolist())


def _round(value: float) -> int:
    return int(np.floor(value + 0.5))


def _n_test(fraction: float, n: int) -> int:
    """How many of ``n`` go to test: ``round(fraction * n)``, at least 1 and at most ``n - 1``."""
    return min(max(_round(fraction * n), 1), n - 1)


def _split_from_test_recordings(
    ds: SignalDataset, rec: np.ndarray, test_codes: np.ndarray
) -> Split:
    in_test = np.isin(rec, test_codes)
    train_idx, test_idx = np.flatnonzero(~in_test), np.flatnonzero(in_test)
    check_no_leak(ds, train_idx, test_idx)
    return train_idx, test_idx


def check_no_leak(ds: SignalDataset, train_idx: ArrayLike, test_idx: ArrayLike) -> None:
    """Raise if any observation or any recording is on both sides of a split.

    An observation on both sides is an obvious leak; a recording on both sides is the subtle
    one: its windows are near-copies of each other (overlapping windows share samples), so the
    test set is partly seen in training and accuracy is inflated.

    Args:
        ds: The dataset the indices refer to.
        train_idx: Training indices (or a boolean mask).
        test_idx: Test indices (or a boolean mask).

    Raises:
        DatasetError: An index is out of range, or is on both sides, or a recording id is
            (the message names up to five recordings).
    """
    where = f"dataset {ds.name!r}: split"
    train = as_index(train_idx, len(ds), where)
    test = as_index(test_idx, len(ds), where)
    both = np.intersect1d(train, test)
    if both.size:
        raise DatasetError(
            f"{where}: {both.size} observation(s) are in both train and test "
            f"(first: index {both[0]})"
        )
    rec = ds.recording_ids.cpu().numpy()
    shared = np.intersect1d(rec[train], rec[test])
    if shared.size:
        names = ", ".join(repr(ds.recording_names[c]) for c in shared[:5])
        raise DatasetError(
            f"{where}: {shared.size} recording(s) have observations in both train and test "
            f"({names}{', ...' if shared.size > 5 else ''}); windows of one recording must stay "
            "on one side"
        )


def split_by_recording(
    ds: SignalDataset, test_fraction: float = 0.2, seed: int = 0, stratify: bool = True
) -> Split:
    """Split into train and test by whole recordings (never a recording on both sides).

    Args:
        ds: The dataset.
        test_fraction: Fraction of *recordings* for the test set, in (0, 1). The fraction of
            observations follows if recordings have similar sizes.
        seed: Seed of the random assignment.
        stratify: Stratify by class at recording level (a recording's class is the majority
            class of its observations): per class, ``round(test_fraction * n)`` of its ``n``
            recordings go to test, at least 1 and at most ``n - 1`` when ``n >= 2``; a class
            with a single recording stays in training. If that leaves the test set empty (every
            class has one recording) the split falls back to unstratified.

    Returns:
        ``(train_idx, test_idx)``, sorted int64 index arrays.

    Raises:
        ConfigError: ``test_fraction`` is not in (0, 1).
        DatasetError: The dataset has fewer than 2 recordings.
    """
    if not isinstance(test_fraction, numbers.Real) or not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction: must be in (0, 1), got {test_fraction!r}")
    rec, codes, labels = _recordings(ds)
    if codes.size < 2:
        raise DatasetError(
            f"dataset {ds.name!r}: only {codes.size} recording; a leak-free split needs at least 2 "
            "(give recording_ids when building the dataset)"
        )
    rng = np.random.default_rng(seed)
    test_codes: list[np.ndarray] = []
    if stratify:
        for k in range(ds.num_classes):
            members = rng.permutation(codes[labels == k])
            if members.size >= 2:
                n_test = _n_test(test_fraction, members.size)
                test_codes.append(members[:n_test])
    if not test_codes:
        members = rng.permutation(codes)
        n_test = _n_test(test_fraction, members.size)
        test_codes.append(members[:n_test])
    return _split_from_test_recordings(ds, rec, np.concatenate(test_codes))


def split_by_window(ds: SignalDataset, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The paper's split, **leaky**: observations (windows) at random, stratified by class.

    Windows of one recording land on both sides, so a model can score by recognising the
    recording (same machine, mounting, speed and load; overlapping windows share samples).
    It exists to measure how much that inflates accuracy against :func:`split_by_recording`;
    every study table marks its results as leaky. Per class, ``round(test_fraction * n)`` of
    its ``n`` windows go to test (at least 1 and at most ``n - 1`` when ``n >= 2``).

    Raises:
        ConfigError: ``test_fraction`` is not in (0, 1).
        DatasetError: fewer than 2 observations.
    """
    if not isinstance(test_fraction, numbers.Real) or not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction: must be in (0, 1), got {test_fraction!r}")
    if len(ds) < 2:
        raise DatasetError(f"dataset {ds.name!r}: {len(ds)} observation(s); a split needs at least 2")
    y = ds.y.cpu().numpy()
    rng = np.random.default_rng(seed)
    test = [np.zeros(0, dtype=np.int64)]
    for k in range(ds.num_classes):
        members = rng.permutation(np.flatnonzero(y == k))
        if members.size >= 2:
            test.append(members[: _n_test(test_fraction, members.size)])
    test_idx = np.sort(np.concatenate(test)).astype(np.int64)
    if test_idx.size == 0:  # every class has one observation
        test_idx = np.sort(rng.permutation(len(ds))[: _n_test(test_fraction, len(ds))])
    train_idx = np.setdiff1d(np.arange(len(ds), dtype=np.int64), test_idx)
    return train_idx, test_idx.astype(np.int64)


def kfold_by_recording(
    ds: SignalDataset, k: int = 10, seed: int = 0, stratify: bool = True
) -> list[Split]:
    """K-fold cross-validation over recordings: each recording is in exactly one test fold.

    The paper evaluates with 10-fold cross-validation over observations; done per observation
    that leaks windows of one recording across folds, so here whole recordings are dealt to
    folds. With ``stratify`` the recordings are dealt class by class (shuffled within a class),
    so every fold gets a near-equal share of each class; fold sizes (in recordings) differ by
    at most one.

    Args:
        ds: The dataset.
        k: Number of folds, at least 2 and at most the number of recordings.
        seed: Seed of the random assignment.
        stratify: Deal recordings to folds class by class.

    Returns:
        A list of k ``(train_idx, test_idx)`` pairs of sorted int64 index arrays.

    Raises:
        ConfigError: ``k`` is not an integer >= 2.
        DatasetError: Fewer recordings than folds.
    """
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"k: must be an integer >= 2, got {k!r}")
    rec, codes, labels = _recordings(ds)
    if codes.size < k:
        raise DatasetError(
            f"dataset {ds.name!r}: {codes.size} recordings cannot fill {k} folds leak-free "
            "(each fold needs at least one recording)"
        )
    rng = np.random.default_rng(seed)
    if stratify:
        order = np.concatenate([rng.permutation(codes[labels == c]) for c in range(ds.num_classes)])
    else:
        order = rng.permutation(codes)
    fold_of_position = rng.permutation(k)[np.arange(order.size) % k]
    return [_split_from_test_recordings(ds, rec, order[fold_of_position == f]) for f in range(k)]


def split_by_condition(
    ds: SignalDataset,
    key: str,
    train_values: Sequence[Any],
    test_values: Sequence[Any] | None = None,
) -> Split:
    """Train on some operating conditions and test on others (e.g. speeds 20/30 Hz → 40 Hz).

    This measures generalisation to an unseen condition, the strictest guard against a model
    that memorises recordings. Observations whose value is in neither list are left out.

    Args:
        ds: The dataset.
        key: A key of ``ds.conditions`` (e.g. ``"speed_hz"``, ``"load_hp"``, ``"split"``).
        train_values: Condition values for training (compared exactly).
        test_values: Condition values for testing; default every value not in
            ``train_values``.

    Returns:
        ``(train_idx, test_idx)``, sorted int64 index arrays.

    Raises:
        ConfigError: Unknown ``key``; a value on both sides; a value that matches no
            observation; an empty side.
        DatasetError: A recording spans train and test conditions (see :func:`check_no_leak`).
    """
    if key not in ds.conditions:
        raise ConfigError(
            f"key: dataset {ds.name!r} has no condition {key!r}; "
            f"conditions: {sorted(ds.conditions) or 'none'}"
        )
    values = ds.conditions[key]
    present = np.unique(values).tolist()
    train_list = _as_list(train_values)
    test_list = None if test_values is None else _as_list(test_values)
    for value in train_list + (test_list or []):
        if not np.isin(values, [value]).any():
            raise ConfigError(
                f"{key}: value {value!r} matches no observation; values present: {present}"
            )
    train_mask = np.isin(values, train_list)
    if test_list is None:
        test_mask = ~train_mask
    else:
        test_mask = np.isin(values, test_list)
        overlap = train_mask & test_mask
        if overlap.any():
            raise ConfigError(
                f"{key}: value {values[np.argmax(overlap)]!r} is in both train_values "
                "and test_values"
            )
    if not test_mask.any():
        raise ConfigError(f"{key}: no observation left for testing; values present: {present}")
    train_idx, test_idx = np.flatnonzero(train_mask), np.flatnonzero(test_mask)
    check_no_leak(ds, train_idx, test_idx)
    return train_idx, test_idx
