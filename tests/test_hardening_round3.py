"""Hardening round 3, the smaller ones: each a clear one-line error (reproduced first, then fixed)."""

from __future__ import annotations

import numpy as np
import pytest
import deepshrink
from deepshrink.errors import ConfigError, DatasetError
from deepshrink.train.config import TrainConfig
from deepshrink.train.engine import check_batch_size
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
    with pytest.raises(ConfigError, match=rf"length {length} are shorter than {name} downsamples them \({needs}x.*at "
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
