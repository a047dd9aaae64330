"""Paderborn (KAt) loader on small files written in the real layout: bearing folders, one
MATLAB struct per file named after the file stem, ``Y`` a struct array of signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from deepshrink.data import load_dataset, split_by_condition, split_by_recording
from deepshrink.data.formats import PADERBORN_BEARINGS, load_paderborn
from deepshrink.data.formats.paderborn import parse_paderborn_name, read_paderborn_file
from deepshrink.errors import ConfigError, DatasetError

RNG = np.random.default_rng(0)
# (Name, Raster, samples per 0.1 s): the real file's entries and rates, 0.1 s long instead of 4 s.
ENTRIES = [
    ("force", "Mech_4kHz", 400),
    ("phase_current_1", "HostService", 6400),
    ("phase_current_2", "HostService", 6400),
    ("speed", "Mech_4kHz", 400),
    ("temp_2_bearing_module", "Temp_1Hz", 1),
    ("torque", "Mech_4kHz", 400),
    ("vibration_1", "HostService", 6400),
]
FIELDS = [("Name", "O"), ("Type", "O"), ("Unit", "O"), ("Raster", "O"), ("Data", "O")]


def write_paderborn(root: Path, setting: str, bearing: str, n: int, *, variable: str | None = None,
                    signals: dict[str, np.ndarray] | None = None, drop: str | None = None) -> Path:  # fmt: skip
    """One measurement file ``root/<bearing>/<setting>_<bearing>_<n>.mat`` in the KAt layout."""
    stem = f"{setting}_{bearing}_{n}"
    folder = root / bearing
    folder.mkdir(parents=True, exist_ok=True)
    entries = [e for e in ENTRIES if e[0] != drop]
    y = np.zeros((1, len(entries)), dtype=FIELDS)
    for i, (name, raster, count) in enumerate(entries):
        data = (signals or {}).get(name)
        if data is None:
            data = RNG.standard_normal(count)
        y[0, i] = (name, "Measured", "m/s^2" if name == "vibration_1" else "-", raster, np.asarray(data, float)[None, :])
    x = np.zeros((1, 3), dtype=FIELDS)
    for i, name in enumerate(("speed_setpoint", "torque_setpoint", "force_setpoint")):
        x[0, i] = (name, "Setpoint", "-", "Mech_4kHz", np.zeros((1, 4)))
    info = np.zeros((1, 1), dtype=[("Date", "O"), ("Bearing", "O")])
    info[0, 0] = ("2015-05-11", bearing)
    struct = {"Info": info, "X": x, "Y": y, "Description": f"measurement {n} of bearing {bearing}"}
    path = folder / f"{stem}.mat"
    scipy.io.savemat(path, {variable or stem: struct})
    return path


@pytest.fixture(scope="module")
def kat(tmp_path_factory):
    root = tmp_path_factory.mktemp("paderborn")
    for bearing in ("K001", "K002", "KA01", "KA04", "KI04", "KI01", "KB23"):
        for setting in ("N15_M07_F10", "N09_M07_F10"):
            for n in (1, 2):
                write_paderborn(root, setting, bearing, n)
    return root


def test_bearing_table_matches_the_kat_data_set():
    kinds = [kind for _, kind in PADERBORN_BEARINGS.values()]
    assert len(PADERBORN_BEARINGS) == 32
    assert (kinds.count("healthy"), kinds.count("artificial"), kinds.count("real")) == (6, 12, 14)
    assert PADERBORN_BEARINGS["KA04"] == ("outer_race", "real")
    assert PADERBORN_BEARINGS["KI01"] == ("inner_race", "artificial")
    assert PADERBORN_BEARINGS["KB27"] == ("inner+outer_race", "real")
    assert parse_paderborn_name("N15_M07_F10_KA04_1") == ("N15_M07_F10", "KA04", 1)
    assert parse_paderborn_name("N09_M07_F10_K001_20") == ("N09_M07_F10", "K001", 20)
    assert parse_paderborn_name("97") is None


def test_real_layout_classes_conditions_and_windows(kat):
    ds = load_paderborn(kat, window=1024, stride=512)
    per_file = (6400 - 1024) // 512 + 1
    assert ds.sampling_rate == 64000.0 and ds.x.shape == (28 * per_file, 1, 1024)
    assert ds.label_names == ["healthy", "outer_race", "inner_race", "inner+outer_race"]
    assert sorted(ds.recording_names) == ["K001", "K002", "KA01", "KA04", "KB23", "KI01", "KI04"]  # grouped by bearing
    bearing = ds.conditions["bearing"]
    expected = {"K001": 0, "K002": 0, "KA01": 1, "KA04": 1, "KI04": 2, "KI01": 2, "KB23": 3}
    assert all(ds.y[i].item() == expected[b] for i, b in enumerate(bearing))
    assert set(ds.conditions["damage"][bearing == "KA01"]) == {"artificial"}
    assert set(ds.conditions["damage"][bearing == "KA04"]) == {"real"}
    slow = ds.conditions["setting"] == "N09_M07_F10"
    assert set(ds.conditions["speed_rpm"][slow]) == {900.0} and set(ds.conditions["radial_force_n"]) == {1000.0}
    # windows are the file's vibration_1 samples, in order
    rel = "KI04/N09_M07_F10_KI04_2.mat"
    raw = scipy.io.loadmat(kat / rel)["N09_M07_F10_KI04_2"]["Y"][0, 0][0, -1]["Data"].ravel()
    rows = np.flatnonzero(ds.conditions["file"] == rel)
    assert rows.size == per_file and set(ds.conditions["measurement"][rows]) == {2}
    np.testing.assert_allclose(ds.x[rows[3], 0].numpy(), raw[3 * 512 : 3 * 512 + 1024], rtol=1e-6)
    assert ds.describe()["conditions"]["file"]["distinct"] == 28  # many names summarise without a range


def test_splits_by_bearing_and_by_setting(kat):
    ds = load_paderborn(kat, window=2048)
    train, test = split_by_recording(ds, test_fraction=0.5, seed=0)
    bearings = ds.conditions["bearing"]
    assert not set(bearings[train]) & set(bearings[test])  # a bearing on one side only
    with pytest.raises(DatasetError, match="recording"):  # same bearings under both settings
        split_by_condition(ds, "setting", ["N15_M07_F10"], ["N09_M07_F10"])
    per_file = load_paderborn(kat, window=2048, group_by="file")
    assert per_file.num_recordings == 28
    train, test = split_by_condition(per_file, "setting", ["N15_M07_F10"], ["N09_M07_F10"])
    assert set(per_file.conditions["setting"][test]) == {"N09_M07_F10"} and len(train) == len(test)


def test_selection_channels_classes_and_resampling(kat):
    ds = load_paderborn(kat, window=512, bearings=["K001", "KA04"], settings="N15_M07_F10", measurements=[1],
                        signals=("vibration_1", "phase_current_1"), classes="bearing")  # fmt: skip
    assert ds.label_names == ["K001", "KA04"] and ds.num_channels == 2 and len(ds) == 2 * (6400 // 512)
    assert set(ds.conditions["file"]) == {"K001/N15_M07_F10_K001_1.mat", "KA04/N15_M07_F10_KA04_1.mat"}
    real = load_paderborn(kat, window=512, damage=["healthy", "real"])
    assert set(real.conditions["bearing"]) == {"K001", "K002", "KA04", "KI04", "KB23"}
    with pytest.raises(ConfigError, match="different sampling rates"):
        load_paderborn(kat, window=64, signals=("vibration_1", "force"))


def test_resampling_keeps_the_frequency(tmp_path):
    t = np.arange(6400) / 64000.0
    tone = np.sin(2 * np.pi * 1000.0 * t)  # 1 kHz
    write_paderborn(tmp_path, "N15_M07_F10", "K001", 1, signals={"vibration_1": tone, "force": np.cos(2 * np.pi * 50 * t[::16])})
    write_paderborn(tmp_path, "N15_M07_F10", "KA01", 1)
    ds = load_paderborn(tmp_path, window=1280, sampling_rate=12800, signals=("vibration_1", "force"))
    assert ds.sampling_rate == 12800.0 and ds.x.shape == (2, 2, 1280)  # 0.1 s at 12.8 kHz
    spectrum = np.abs(np.fft.rfft(ds.x[0, 0].numpy()))
    assert np.fft.rfftfreq(1280, 1 / 12800.0)[spectrum.argmax()] == pytest.approx(1000.0)
    np.testing.assert_allclose(ds.x[0, 0, 200:1000].numpy(), np.sin(2 * np.pi * 1000.0 * np.arange(200, 1000) / 12800), atol=2e-3)


def test_a_variable_named_otherwise_is_read_and_bad_files_are_named(tmp_path):
    odd = write_paderborn(tmp_path, "N15_M01_F10", "KA08", 2, variable="N15_M01_F10_KA08_3")
    data, rates = read_paderborn_file(odd)
    assert rates == [64000.0] and data[0].size == 6400
    write_paderborn(tmp_path, "N15_M07_F04", "K003", 1, drop="vibration_1")
    with pytest.raises(DatasetError, match=r"N15_M07_F04_K003_1\.mat: N15_M07_F04_K003_1\.Y has no entry named "
                                           r"'vibration_1' \(entries: force, phase_current_1"):  # fmt: skip
        load_paderborn(tmp_path, bearings=["K003"])
    two = tmp_path / "KI03" / "N15_M07_F10_KI03_1.mat"
    two.parent.mkdir()
    scipy.io.savemat(two, {"a": np.zeros(3), "b": np.zeros(3)})
    with pytest.raises(DatasetError, match=r"KI03_1\.mat: no variable named N15_M07_F10_KI03_1 \(variables: a, b\)"):
        load_paderborn(tmp_path, bearings="KI03")
    broken = tmp_path / "KI05" / "N15_M07_F10_KI05_1.mat"
    broken.parent.mkdir()
    broken.write_bytes(odd.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"KI05_1\.mat: not a readable MATLAB"):
        load_paderborn(tmp_path, bearings="KI05")
    with pytest.raises(DatasetError, match=r"KA08_2\.mat: vibration_1 has 6400 samples, fewer than the window of 8192"):
        load_paderborn(tmp_path, window=8192, bearings="KA08")
    with pytest.raises(ConfigError, match="'KX01' is not a Paderborn bearing code"):
        load_paderborn(tmp_path, bearings=["KX01"])
    with pytest.raises(DatasetError, match="no files of bearing"):
        load_paderborn(tmp_path, bearings=["KA08", "KI21"])
    with pytest.raises(ConfigError, match="unknown operating setting 'N15'"):
        load_paderborn(tmp_path, settings="N15")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no Paderborn files"):
        load_paderborn(tmp_path / "empty")


def test_load_dataset_detects_the_format(kat):
    ds = load_dataset(kat, window=2048, bearings=["K001", "KI01"])
    assert ds.name == "paderborn" and ds.label_names == ["healthy", "inner_race"]
    assert len(load_dataset(kat, format="paderborn", window=4096, settings=["N09_M07_F10"])) == 14
    assert len(load_dataset("paderborn", root=kat, window=4096)) == 28
    with pytest.raises(ConfigError, match="root"):
        load_dataset("paderborn")
