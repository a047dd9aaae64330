"""Hardening round 3, the smaller ones: each a clear one-line error (reproduced first, then fixed)."""

from __future__ import annotations

import numpy as np
import pytest
import deepshrink
from deepshrink.errors import ConfigError, DatasetError
from deepshrink.train.config import TrainConfig
from deepshrink.train.schedule import check_batch_size
from deepshrink.train.run import train


@pytest.mark.parametrize("name, length, needs", [
    ("drsn_cw_paper6", 3, 16),  # stem stride 2, three stages of stride 2
    ("resnet_paper6", 15, 16),
])  # fmt: skip
def test_training_refuses_windows_shorter_than_the_model_downsamples(tmp_path, name, length, needs):
    rng = np.random.default_rng(0)
    path = tmp_path / "short.npz"
    np.savez(path, x=rng.standard_normal((40, 1, length)).astype(np.float32), y=np.arange(40) % 2)
    assert deepshrink.create_model(name, num_classes=2).total_stride == needs
    cfg = TrainConfig(model=name, data=str(path), batch_size=8, epochs=1, noise="none", split="window")
    with pytest.raises(ConfigError, match=rf"observations of {length} samples are shorter than {name} downsamples them \({needs}x.*at "
                                          rf"least {needs} samples"):  # fmt: skip
        train(cfg, output=tmp_path / "run", console=False)
    assert not (tmp_path / "run").exists()  # refused before the run folder


def test_batches_of_one_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match=r"batch_size 1 gives 1 observation per process.*BatchNorm.*at least 2"):
        check_batch_size(1, 100, 1)
    with pytest.raises(ConfigError, match=r"batch_size 2 gives 1 observation per process"):
        check_batch_size(2, 100, 2)  # under DDP the per-process batch counts
    assert check_batch_size(2, 100, 1) == 50


def test_sklearn_estimator_nan_input_is_one_line():
    from deepshrink.sklearn import DRSNClassifier

    X = np.random.default_rng(0).standard_normal((20, 1, 64)).astype(np.float32)
    X[0, 0, 0] = np.nan
    with pytest.raises(DatasetError, match="NaN") as err:
        DRSNClassifier(model="resnet_paper6", epochs=1, batch_size=4).fit(X, np.arange(20) % 2)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_predict_refuses_two_outputs_into_one_file(tmp_path, capsys):
    from deepshrink.cli import main

    target = tmp_path / "same.csv"
    code = main(["predict", str(tmp_path / "run"), str(tmp_path / "x.npy"), "--output", str(target), "--summary",
                 str(tmp_path / "." / "same.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--output and --summary name the same file" in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_a_seed_beyond_64_bits_is_refused(capsys):
    from deepshrink.cli import main

    assert main(["train", "--seed", "12345678901234567890123", "--print-config"]) == 2
    assert "'seed' must be in [0, 9223372036854775807]" in capsys.readouterr().err


def test_an_os_error_on_a_path_with_a_newline_is_one_line(tmp_path):
    from deepshrink.cli import os_error_line

    err = FileNotFoundError(2, "No such file or directory", str(tmp_path / "a\nb.npz"))
    line = os_error_line(err)
    assert "\n" not in line and line.endswith("a\\nb.npz: No such file or directory")


def test_far_too_short_input_is_refused_by_training_and_named_by_the_estimator():
    """A model's forward admits any length (padding keeps every stage at least one sample wide, and
    scikit-learn's contract asks an estimator to fit any number of features); training refuses
    windows shorter than the model downsamples (above), and the estimator says so in one warning."""
    from deepshrink.errors import DeepshrinkWarning
    from deepshrink.sklearn import DRSNClassifier

    X = np.random.default_rng(0).standard_normal((16, 1, 5)).astype(np.float32)
    with pytest.warns(DeepshrinkWarning, match=r"observations of 5 samples are shorter than resnet_paper6 downsamples "
                                               r"them \(16x, stem and stage strides\): its last stage sees padding only"):  # fmt: skip
        DRSNClassifier(model="resnet_paper6", epochs=1, batch_size=8, num_threads=1).fit(X, np.arange(16) % 2)


def test_a_recording_stating_a_bad_rate_is_refused_not_read_as_no_rate(tmp_path):
    import scipy.io

    from deepshrink.predict.recording import read_recording

    signal = np.random.default_rng(0).standard_normal(400)
    np.savez(tmp_path / "neg.npz", x=signal, sampling_rate=-12000.0)
    np.savez(tmp_path / "zero.npz", x=signal, fs=0)
    np.savez(tmp_path / "vector.npz", x=signal, fs=np.array([1.0, 2.0]))
    scipy.io.savemat(tmp_path / "neg.mat", {"signal": signal[:, None], "fs": -1.0})
    (tmp_path / "back.csv").write_text("time,a\n" + "".join(f"{1 - i / 100:.2f},{v}\n" for i, v in enumerate(signal)))
    (tmp_path / "gap.csv").write_text("time,a\n" + "".join(f"{(i + 5 * (i > 200)) / 100:.2f},{v}\n"
                                                           for i, v in enumerate(signal)))  # fmt: skip
    cases = {
        "neg.npz": "neg.npz: 'sampling_rate' must be the sampling rate, one positive number (Hz), got -12000.0",
        "zero.npz": "zero.npz: 'fs' must be the sampling rate, one positive number (Hz), got 0",
        "vector.npz": "vector.npz: 'fs' must be the sampling rate, one positive number (Hz), got float64 of shape (2,)",
        "neg.mat": "neg.mat: 'fs' must be the sampling rate, one positive number (Hz), got -1.0",
        "back.csv": "back.csv: column 'time' must rise in equal steps to give the sampling rate; it goes from 1 to 0.99 at line 2",
        "gap.csv": "gap.csv: column 'time' must rise in equal steps to give the sampling rate; it goes from 2 to 2.06 at line 202",
    }
    for name, expected in cases.items():
        with pytest.raises(DatasetError) as err:
            read_recording(tmp_path / name)
        assert str(err.value).endswith(expected) or expected in str(err.value), (name, str(err.value))
    np.savez(tmp_path / "good.npz", x=signal, fs=12000)
    assert read_recording(tmp_path / "good.npz")[1] == 12000.0


def test_float_labels_that_are_not_whole_numbers_are_refused(tmp_path, capsys):
    from deepshrink.cli import main
    from deepshrink.data import encode_labels

    assert encode_labels(np.array([0.0, 2.0, 1.0]))[1] == ["0", "1", "2"]  # whole floats are class codes
    with pytest.raises(DatasetError, match=r"label of observation 2 is 1\.5, not a whole number"):
        encode_labels(np.array([0.0, 1.0, 1.5]))
    assert encode_labels(np.array(["0", "1.5"]))[1] == ["0", "1.5"]  # strings name classes
    np.savez(tmp_path / "float.npz", x=np.zeros((4, 1, 32), np.float32), y=np.array([0, 1, 0.25, 0]))
    assert main(["data", str(tmp_path / "float.npz")]) == 2
    err = capsys.readouterr().err
    assert "float.npz key 'y': label of observation 2 is 0.25, not a whole number" in err and err.count("\n") == 1
