"""SignalDataset construction, validation, views, windowing, and noisy datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deepshrink.data import NoisyDataset, SignalDataset, encode_labels
from deepshrink.data.dataset import SignalData, TrainingData
from deepshrink.errors import ConfigError, DatasetError


def make(
    n: int = 12, c: int = 2, length: int = 64, k: int = 3, seed: int = 0, **kwargs
) -> SignalDataset:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, length))
    y = np.arange(n) % k
    return SignalDataset(x, y, label_names=[f"c{i}" for i in range(k)], **kwargs)


# ------------------------------------------------------------------ construction
def test_basic_attributes_and_dtypes():
    ds = make(
        sampling_rate=12800,
        recording_ids=np.arange(12) // 3,
        conditions={"speed_hz": np.arange(12) % 2 * 10 + 20},
    )
    assert ds.x.dtype == torch.float32 and ds.x.shape == (12, 2, 64)
    assert ds.y.dtype == torch.int64
    assert (len(ds), ds.num_channels, ds.length, ds.num_classes) == (12, 2, 64, 3)
    assert ds.sampling_rate == 12800.0
    assert ds.recording_ids.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert isinstance(ds.conditions["speed_hz"], np.ndarray)
    x0, y0 = ds[5]
    assert torch.equal(x0, ds.x[5]) and int(y0) == 5 % 3
    xb, yb = ds[torch.tensor([0, 4])]
    assert xb.shape == (2, 2, 64) and yb.tolist() == [0, 1]
    assert ds.class_counts().tolist() == [4, 4, 4]


def test_two_dim_input_becomes_one_channel_and_float32_tensor_is_not_copied():
    x = torch.randn(6, 100)
    ds = SignalDataset(x, [0, 1, 0, 1, 0, 1], label_names=["a", "b"])
    assert ds.x.shape == (6, 1, 100)
    assert ds.x.data_ptr() == x.data_ptr()


def test_default_recordings_are_one_per_observation_and_string_ids_are_coded():
    assert make().num_recordings == 12
    rec = np.array(["run_b", "run_a"] * 6)
    ds = make(recording_ids=rec)
    assert ds.recording_names == ["run_a", "run_b"]
    assert [ds.recording_names[c] for c in ds.recording_ids.tolist()] == rec.tolist()


def test_describe_reports_sizes_classes_recordings_and_conditions():
    ds = make(
        n=12,
        sampling_rate=1000,
        recording_ids=np.arange(12) // 2,
        conditions={"load": np.arange(12) % 3},
    )
    info = ds.describe()
    assert info["num_observations"] == 12 and info["num_channels"] == 2 and info["length"] == 64
    assert info["classes"] == ["c0", "c1", "c2"]
    assert info["class_counts"] == {"c0": 4, "c1": 4, "c2": 4}
    assert info["num_recordings"] == 6
    assert info["sampling_rate"] == 1000.0 and info["duration_s"] == pytest.approx(0.064)
    assert info["conditions"] == {"load": [0, 1, 2]}


def test_subset_keeps_names_and_recording_codes_and_may_hold_one_class():
    ds = make(recording_ids=[f"r{i // 4}" for i in range(12)], conditions={"speed": np.arange(12)})
    sub = ds.subset([3, 6, 9])
    assert torch.equal(sub.x, ds.x[[3, 6, 9]])
    assert sub.y.tolist() == [0, 0, 0]  # a single class is fine in a subset
    assert sub.conditions["speed"].tolist() == [3, 6, 9]
    assert [sub.recording_names[c] for c in sub.recording_ids.tolist()] == ["r0", "r1", "r2"]
    mask = np.zeros(12, dtype=bool)
    mask[[1, 2]] = True
    assert ds.subset(mask).y.tolist() == [1, 2]
    with pytest.raises(DatasetError, match="out of range"):
        ds.subset([12])


def test_to_moves_in_place_and_returns_self():
    ds = make()
    assert ds.to("cpu") is ds and ds.device.type == "cpu"


def test_works_with_a_dataloader():
    ds = make(n=10)
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]


# ------------------------------------------------------------------ validation
def test_nan_and_inf_name_the_observation():
    x = np.zeros((5, 1, 8))
    x[3, 0, 2] = np.nan
    with pytest.raises(DatasetError, match="observation 3 contains NaN"):
        SignalDataset(x, [0, 1, 0, 1, 0], label_names=["a", "b"], name="vib")
    x[3, 0, 2] = 0.0
    x[1, 0, 0] = np.inf
    with pytest.raises(DatasetError, match="'vib'.*observation 1"):
        SignalDataset(x, [0, 1, 0, 1, 0], label_names=["a", "b"], name="vib")
    x[1, 0, 0] = 1e300  # overflows float32
    with pytest.raises(DatasetError, match="observation 1"):
        SignalDataset(x, [0, 1, 0, 1, 0], label_names=["a", "b"])


def test_labels_out_of_range_and_length_mismatch():
    x = np.zeros((4, 8))
    with pytest.raises(DatasetError, match=r"y\[2\] = 5 is out of range 0..1"):
        SignalDataset(x, [0, 1, 5, 0], label_names=["a", "b"])
    with pytest.raises(DatasetError, match=r"y\[0\] = -1"):
        SignalDataset(x, [-1, 1, 0, 0], label_names=["a", "b"])
    with pytest.raises(DatasetError, match=r"shape \(4,\)"):
        SignalDataset(x, [0, 1, 0], label_names=["a", "b"])
    with pytest.raises(DatasetError, match="integer class codes"):
        SignalDataset(x, ["a", "b", "a", "b"], label_names=["a", "b"])
    with pytest.raises(DatasetError, match="non-integer"):
        SignalDataset(x, [0.5, 1, 0, 1], label_names=["a", "b"])


def test_single_class_is_rejected():
    x = np.zeros((4, 8))
    with pytest.raises(DatasetError, match="only one class"):
        SignalDataset(x, [0, 0, 0, 0], label_names=["a"])
    with pytest.raises(DatasetError, match="same class 'b'"):
        SignalDataset(x, [1, 1, 1, 1], label_names=["a", "b"])


def test_ragged_and_malformed_inputs():
    with pytest.raises(DatasetError, match="ragged.*observation 2"):
        SignalDataset([np.zeros(8), np.zeros(8), np.zeros(7)], [0, 1, 0], label_names=["a", "b"])
    with pytest.raises(DatasetError, match="object array"):
        SignalDataset(
            np.array([np.zeros(8), np.zeros(7)], dtype=object), [0, 1], label_names=["a", "b"]
        )
    with pytest.raises(DatasetError, match=r"\(N, C, L\) or \(N, L\)"):
        SignalDataset(np.zeros((2, 1, 1, 8)), [0, 1], label_names=["a", "b"])
    with pytest.raises(DatasetError, match="empty"):
        SignalDataset(np.zeros((0, 8)), [], label_names=["a", "b"])
    with pytest.raises(DatasetError, match="recording_ids"):
        SignalDataset(np.zeros((2, 8)), [0, 1], label_names=["a", "b"], recording_ids=[0])
    with pytest.raises(DatasetError, match="condition 'speed'"):
        SignalDataset(
            np.zeros((2, 8)), [0, 1], label_names=["a", "b"], conditions={"speed": [1, 2, 3]}
        )
    with pytest.raises(DatasetError, match="duplicates"):
        SignalDataset(np.zeros((2, 8)), [0, 1], label_names=["a", "a"])
    with pytest.raises(DatasetError, match="sampling_rate"):
        SignalDataset(np.zeros((2, 8)), [0, 1], label_names=["a", "b"], sampling_rate=-1)


def test_encode_labels_sorts_numbers_numerically_and_canonicalises():
    codes, names = encode_labels(["10", "2", 2.0, "-1"])
    assert names == ["-1", "2", "10"]
    assert codes.tolist() == [2, 1, 1, 0]
    codes, names = encode_labels(["b", "a"], label_names=["b", "a"])
    assert codes.tolist() == [0, 1]
    with pytest.raises(DatasetError, match="'c'"):
        encode_labels(["c"], label_names=["a", "b"])


# ------------------------------------------------------------------ windowing
def test_from_recordings_windows_stay_inside_recordings():
    rec_a = np.arange(100.0)
    rec_b = 1000 + np.arange(50.0)
    ds = SignalDataset.from_recordings(
        [rec_a, rec_b],
        [0, 1],
        window=20,
        stride=10,
        label_names=["a", "b"],
        recording_names=["a.mat", "b.mat"],
        conditions={"load": [0, 3]},
        sampling_rate=1000,
    )
    assert len(ds) == 9 + 4
    starts = ds.x[:, 0, 0].tolist()
    assert starts == [0, 10, 20, 30, 40, 50, 60, 70, 80, 1000, 1010, 1020, 1030]
    assert all(float(w[0, -1] - w[0, 0]) == 19 for w in ds.x)  # no window crosses a recording
    assert [ds.recording_names[c] for c in ds.recording_ids.tolist()] == ["a.mat"] * 9 + [
        "b.mat"
    ] * 4
    assert ds.conditions["load"].tolist() == [0] * 9 + [3] * 4
    with pytest.raises(DatasetError, match="'b.mat'.*longer than the recording"):
        SignalDataset.from_recordings(
            [rec_a, rec_b],
            [0, 1],
            window=60,
            label_names=["a", "b"],
            recording_names=["a.mat", "b.mat"],
        )
    with pytest.raises(ConfigError, match="stride"):
        SignalDataset.from_recordings([rec_a], [0], window=10, stride=0, label_names=["a", "b"])


# ------------------------------------------------------------------ noise
def test_fixed_noise_is_identical_across_epochs_and_deterministic_from_seed():
    ds = make(n=16)
    noisy = ds.with_noise(0.0, "gaussian", seed=7)
    assert isinstance(noisy, NoisyDataset)
    first = noisy.x.clone()
    assert not torch.equal(first, ds.x)
    for epoch in (1, 2, 5):
        noisy.set_epoch(epoch)
        assert torch.equal(noisy.x, first)
    assert torch.equal(ds.with_noise(0.0, "gaussian", seed=7).x, first)
    assert not torch.equal(ds.with_noise(0.0, "gaussian", seed=8).x, first)
    assert torch.equal(noisy.clean_x, ds.x)


def test_fresh_noise_differs_per_epoch_but_is_reproducible():
    ds = make(n=16)
    a = ds.with_noise((-5.0, 5.0), "pink", seed=3, fresh_per_epoch=True)
    b = ds.with_noise((-5.0, 5.0), "pink", seed=3, fresh_per_epoch=True)
    epoch0, snr0 = a.x.clone(), a.snr_db.clone()
    a.set_epoch(1)
    assert not torch.equal(a.x, epoch0)
    assert not torch.equal(a.snr_db, snr0)  # a range redraws the SNRs too
    b.set_epoch(1)
    assert torch.equal(a.x, b.x) and torch.equal(a.snr_db, b.snr_db)
    a.set_epoch(0)
    assert torch.equal(a.x, epoch0)
    fixed = ds.with_noise((-5.0, 5.0), "pink", seed=3)
    assert torch.equal(fixed.x, epoch0)  # epoch 0 of fresh noise = the fixed noise
    c = ds.with_noise((-5.0, 5.0), "pink", seed=4, fresh_per_epoch=True)
    assert not torch.equal(c.x, epoch0)


def test_per_sample_snr_is_exposed_and_matches_the_signal():
    from deepshrink.noise import measure_snr

    ds = make(n=20)
    scalar = ds.with_noise(-5.0, "laplacian", seed=0)
    assert scalar.snr_db.shape == (20,) and torch.allclose(scalar.snr_db, torch.full((20,), -5.0))
    ranged = ds.with_noise((-5.0, 5.0), "gaussian", seed=1)
    assert float(ranged.snr_db.min()) >= -5.0 and float(ranged.snr_db.max()) <= 5.0
    assert ranged.snr_db.unique().numel() > 10
    levels = torch.tensor([-5.0, 0.0, 5.0, 10.0] * 5)
    per_sample = ds.with_noise(levels, "gaussian", seed=2)
    assert torch.equal(per_sample.snr_db, levels)
    measured = measure_snr(ds.x, per_sample.x)
    assert torch.allclose(measured, levels[:, None].expand(20, 2), atol=1e-3)
    with pytest.raises(ConfigError, match=r"shape \(20,\)"):
        ds.with_noise([0.0, 1.0], "gaussian", seed=0)


def test_noisy_subset_keeps_its_noise_and_snr_and_renoise_uses_clean_signal():
    ds = make(n=12)
    levels = torch.arange(12, dtype=torch.float32) - 6
    noisy = ds.with_noise(levels, "uniform", seed=5, fresh_per_epoch=True)
    sub = noisy.subset([2, 3, 11])
    assert torch.equal(sub.x, noisy.x[[2, 3, 11]])
    assert sub.snr_db.tolist() == [-4.0, -3.0, 5.0]
    sub.set_epoch(3)  # redraws at the requested per-sample SNRs of the subset
    assert sub.snr_db.tolist() == [-4.0, -3.0, 5.0]
    again = noisy.with_noise(0.0, "gaussian", seed=1)
    assert torch.equal(again.clean_x, ds.x)
    assert torch.equal(again.x, ds.with_noise(0.0, "gaussian", seed=1).x)
    assert torch.equal(noisy.clean().x, ds.x) and type(noisy.clean()) is SignalDataset
    info = noisy.describe()["noise"]
    assert info["kind"] == "uniform" and info["snr_db_min"] == -6.0 and info["fresh_per_epoch"]


def test_noisy_dataset_rejects_bad_options():
    ds = make()
    with pytest.raises(ConfigError, match="kind"):
        ds.with_noise(0.0, "purple", seed=0)
    with pytest.raises(ConfigError, match="seed"):
        ds.with_noise(0.0, "gaussian", seed=-1)


# ------------------------------------------------------------------ views and the protocols
def test_with_conditions_adds_and_replaces_without_changing_the_source():
    ds = make(conditions={"speed": np.arange(12)})
    marks = np.array(["train", "test"] * 6)
    out = ds.with_conditions(split=marks, speed=np.zeros(12), load=3)
    assert type(out) is SignalDataset and out is not ds
    assert out.conditions["split"].tolist() == marks.tolist()
    assert out.conditions["speed"].tolist() == [0] * 12 and out.conditions["load"].tolist() == [3] * 12
    assert list(ds.conditions) == ["speed"] and ds.conditions["speed"].tolist() == list(range(12))
    assert out.x is ds.x and out.y is ds.y and out.recording_ids is ds.recording_ids  # a view: tensors shared
    assert out.label_names == ds.label_names and out.recording_names == ds.recording_names
    with pytest.raises(DatasetError, match=r"with_conditions: condition 'split' must have shape \(12,\)"):
        ds.with_conditions(split=marks[:5])


def test_with_labels_recodes_keeps_dtype_and_device_and_may_hold_one_class():
    ds = make(k=3)
    order = ["c2", "c0", "c1"]
    mapping = torch.tensor([order.index(name) for name in ds.label_names])
    out = ds.with_labels(mapping[ds.y], order)
    assert out.label_names == order and out.y.dtype == torch.int64 and out.y.device == ds.y.device
    assert [out.label_names[c] for c in out.y.tolist()] == [ds.label_names[c] for c in ds.y.tolist()]
    assert ds.label_names == ["c0", "c1", "c2"] and ds.y.tolist() == (np.arange(12) % 3).tolist()  # unchanged
    one = ds.subset([0, 3]).with_labels([1, 1], ["x", "y"])  # a single class, as in a subset
    assert one.y.tolist() == [1, 1]
    with pytest.raises(DatasetError, match=r"with_labels: y\[0\] = 3 is out of range 0..2"):
        ds.with_labels(np.full(12, 3), order)
    with pytest.raises(DatasetError, match="duplicates"):
        ds.with_labels(ds.y, ["a", "a", "b"])
    with pytest.raises(DatasetError, match=r"shape \(12,\)"):
        ds.with_labels(ds.y[:4], order)


def test_views_of_a_noisy_dataset_keep_its_noise():
    noisy = make(n=12).with_noise(-3.0, "pink", seed=4)
    relabelled = noisy.with_labels(noisy.y, ["p", "q", "r"])
    marked = noisy.with_conditions(split=np.array(["a"] * 12))
    for view in (relabelled, marked):
        assert isinstance(view, NoisyDataset)
        assert torch.equal(view.x, noisy.x) and torch.equal(view.snr_db, noisy.snr_db)
        assert (view.noise_kind, view.seed) == ("pink", 4)
    assert "split" not in noisy.conditions and noisy.label_names == ["c0", "c1", "c2"]


def test_noisy_dataset_holds_its_fields_and_noise_only_and_clean_drops_the_noise():
    ds = make(recording_ids=np.arange(12) // 3, conditions={"load": np.arange(12)})
    noise_state = {"clean_x", "snr_db", "_snr_request", "noise_kind", "seed", "fresh_per_epoch", "epoch"}
    once = ds.with_noise(0.0, "gaussian", seed=1, fresh_per_epoch=True)
    once.set_epoch(2)
    twice = once.with_noise(5.0, "laplacian", seed=2)  # noise on noise: on the clean signal, its own state
    for noisy in (once, twice):
        assert set(vars(noisy)) == set(SignalDataset._fields) | noise_state
    assert (twice.epoch, twice.fresh_per_epoch, twice.noise_kind) == (0, False, "laplacian")
    assert torch.equal(twice.clean_x, ds.x)
    plain = twice.subset([1, 4, 7]).clean()
    assert type(plain) is SignalDataset and set(vars(plain)) == set(SignalDataset._fields)
    assert torch.equal(plain.x, ds.x[[1, 4, 7]]) and plain.recording_ids.tolist() == [0, 1, 2]
    assert plain.conditions["load"].tolist() == [1, 4, 7] and plain.recording_names == ds.recording_names
    with pytest.raises(TypeError, match="_of"):
        SignalDataset._of(x=ds.x)


def test_datasets_satisfy_the_protocols_the_trainer_and_the_runs_use():
    ds = make()

    class Pair:  # what the training loop needs, and no more (the estimator's arrays)
        def __init__(self) -> None:
            self.x, self.y = torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.int64)

        def __len__(self) -> int:
            return 4

    for data in (ds, ds.with_noise(0.0, seed=0), ds.subset([0, 1])):
        assert isinstance(data, SignalData) and isinstance(data, TrainingData)
    assert isinstance(Pair(), TrainingData) and not isinstance(Pair(), SignalData)
