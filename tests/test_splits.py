"""Leak-free splits: no recording on both sides, k-fold covers every recording once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepshrink.data import (
    SignalDataset,
    check_no_leak,
    kfold_by_recording,
    split_by_condition,
    split_by_recording,
    split_by_window,
)
from deepshrink.errors import ConfigError, DatasetError


def windowed(
    recordings_per_class: list[int], windows: list[int] | int = 3, length: int = 8
) -> SignalDataset:
    """A dataset of windowed recordings: class c has recordings_per_class[c] recordings."""
    ys, recs, speeds = [], [], []
    r = 0
    for c, count in enumerate(recordings_per_class):
        for _ in range(count):
            w = windows if isinstance(windows, int) else windows[r % len(windows)]
            ys += [c] * w
            recs += [f"rec{r:03d}"] * w
            speeds += [(20, 30, 40)[r % 3]] * w
            r += 1
    n = len(ys)
    return SignalDataset(
        np.random.default_rng(0).standard_normal((n, 1, length)),
        np.array(ys),
        label_names=[f"k{c}" for c in range(len(recordings_per_class))],
        recording_ids=np.array(recs),
        conditions={"speed_hz": np.array(speeds)},
    )


def recordings_of(ds: SignalDataset, idx: np.ndarray) -> set[int]:
    return set(ds.recording_ids[idx].tolist())


datasets = st.builds(
    windowed,
    st.lists(st.integers(1, 5), min_size=2, max_size=4),
    st.lists(st.integers(1, 4), min_size=1, max_size=5),
)


@settings(max_examples=60, deadline=None)
@given(
    ds=datasets,
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
    stratify=st.booleans(),
)
def test_split_by_recording_never_shares_a_recording(ds, fraction, seed, stratify):
    train, test = split_by_recording(ds, test_fraction=fraction, seed=seed, stratify=stratify)
    assert train.size and test.size
    assert not recordings_of(ds, train) & recordings_of(ds, test)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(ds)))
    again = split_by_recording(ds, test_fraction=fraction, seed=seed, stratify=stratify)
    assert np.array_equal(again[1], test)  # deterministic from the seed


@settings(max_examples=60, deadline=None)
@given(ds=datasets, k=st.integers(2, 10), seed=st.integers(0, 2**32 - 1), stratify=st.booleans())
def test_kfold_covers_every_recording_exactly_once(ds, k, seed, stratify):
    n_rec = ds.num_recordings
    if k > n_rec:
        with pytest.raises(DatasetError, match="cannot fill"):
            kfold_by_recording(ds, k=k, seed=seed, stratify=stratify)
        return
    folds = kfold_by_recording(ds, k=k, seed=seed, stratify=stratify)
    assert len(folds) == k
    seen: list[int] = []
    for train, test in folds:
        assert test.size and train.size
        assert not recordings_of(ds, train) & recordings_of(ds, test)
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(ds)))
        seen += sorted(recordings_of(ds, test))
    assert sorted(seen) == sorted(set(ds.recording_ids.tolist()))  # each recording once as test
    sizes = [len(recordings_of(ds, test)) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1


def test_stratified_split_puts_every_class_with_two_recordings_on_both_sides():
    ds = windowed([4, 2, 6, 1])
    train, test = split_by_recording(ds, test_fraction=0.25, seed=1)
    y_train, y_test = set(ds.y[train].tolist()), set(ds.y[test].tolist())
    assert y_train == {0, 1, 2, 3} and y_test == {0, 1, 2}  # class 3 has one recording
    assert len(recordings_of(ds, test)) == 1 + 1 + 2  # round(0.25 * n), at least 1


def test_stratified_kfold_spreads_each_class_over_the_folds():
    ds = windowed([10, 10, 10])
    for _, test in kfold_by_recording(ds, k=5, seed=0):
        assert np.bincount(ds.y[test].numpy(), minlength=3).tolist() == [
            6,
            6,
            6,
        ]  # 2 recordings x 3 windows


def test_split_options_are_checked():
    ds = windowed([2, 2])
    with pytest.raises(ConfigError, match="test_fraction"):
        split_by_recording(ds, test_fraction=1.0)
    with pytest.raises(ConfigError, match="k: must be an integer >= 2"):
        kfold_by_recording(ds, k=1)
    one = SignalDataset(
        np.zeros((4, 8)), [0, 1, 0, 1], label_names=["a", "b"], recording_ids=[7] * 4, name="single"
    )
    with pytest.raises(DatasetError, match="'single': only 1 recording"):
        split_by_recording(one)


def test_split_by_condition_trains_and_tests_on_different_speeds():
    ds = windowed([3, 3])
    train, test = split_by_condition(ds, "speed_hz", [20, 30], [40])
    assert set(ds.conditions["speed_hz"][train].tolist()) == {20, 30}
    assert set(ds.conditions["speed_hz"][test].tolist()) == {40}
    rest_train, rest_test = split_by_condition(ds, "speed_hz", [20])
    assert set(ds.conditions["speed_hz"][rest_test].tolist()) == {30, 40}
    with pytest.raises(ConfigError, match="no condition 'load'.*speed_hz"):
        split_by_condition(ds, "load", [0])
    with pytest.raises(ConfigError, match="value 50 matches no observation"):
        split_by_condition(ds, "speed_hz", [20], [50])
    with pytest.raises(ConfigError, match="in both"):
        split_by_condition(ds, "speed_hz", [20, 30], [30])
    with pytest.raises(ConfigError, match="no observation left for testing"):
        split_by_condition(ds, "speed_hz", [20, 30, 40])


def test_split_by_condition_refuses_a_recording_that_spans_conditions():
    ds = SignalDataset(
        np.zeros((4, 8)),
        [0, 0, 1, 1],
        label_names=["a", "b"],
        recording_ids=["runA", "runA", "runB", "runB"],
        conditions={"speed": [1, 2, 1, 2]},
    )
    with pytest.raises(DatasetError, match="2 recording\\(s\\) have observations in both.*'runA'"):
        split_by_condition(ds, "speed", [1], [2])


def test_check_no_leak_catches_shared_recordings_and_indices():
    ds = windowed([2, 2], windows=3)
    check_no_leak(ds, np.arange(6), np.arange(6, 12))
    with pytest.raises(DatasetError, match="'rec001'"):
        check_no_leak(ds, [0, 1, 2, 3], [4, 5])  # windows 3 and 4, 5 come from rec001
    with pytest.raises(DatasetError, match="in both train and test \\(first: index 5\\)"):
        check_no_leak(ds, [5, 6], [5])
    with pytest.raises(DatasetError, match="out of range"):
        check_no_leak(ds, [0], [99])


def test_a_random_observation_split_would_be_caught():
    """The field's pitfall: a random split of windows puts a recording on both sides."""
    ds = windowed([5, 5], windows=10)
    perm = np.random.default_rng(0).permutation(len(ds))
    with pytest.raises(DatasetError, match="windows of one recording must stay on one side"):
        check_no_leak(ds, perm[:80], perm[80:])


def test_window_split_is_the_papers_leaky_split():
    """Per class round(f * n) windows go to test, disjoint from train, and recordings leak."""
    ds = windowed([3, 3, 2], windows=10)  # 80 windows, 30 / 30 / 20 per class
    train_idx, test_idx = split_by_window(ds, 0.25, seed=3)
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert np.union1d(train_idx, test_idx).tolist() == list(range(len(ds)))
    y = ds.y.numpy()
    assert np.bincount(y[test_idx]).tolist() == [round(0.25 * 30), round(0.25 * 30), round(0.25 * 20)]
    assert recordings_of(ds, train_idx) & recordings_of(ds, test_idx)  # the leak it exists to measure
    with pytest.raises(DatasetError, match="8 recording\\(s\\) have observations in both train and test"):
        check_no_leak(ds, train_idx, test_idx)
    again = split_by_window(ds, 0.25, seed=3)
    assert again[1].tolist() == test_idx.tolist()
    assert split_by_window(ds, 0.25, seed=4)[1].tolist() != test_idx.tolist()
    with pytest.raises(ConfigError, match="test_fraction"):
        split_by_window(ds, 1.0)
