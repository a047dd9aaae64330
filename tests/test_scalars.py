"""deepshrink train --log tensorboard: per-epoch scalars equal to metrics.csv, a resumed run logs on
from its last epoch, and without the package one line before anything is written."""

from __future__ import annotations

import csv
import sys

import pytest

from deepshrink.cli import main

TINY = ["--data-arg", "recordings_per_condition=2", "--data-arg", "windows_per_recording=8", "--data-arg", "window=256",
        "--data-arg", "speeds_hz=[30]", "--data-arg", "loads=[0.5]", "--model", "resnet_paper6", "--batch-size", "8",
        "--threads", "1", "--val-fraction", "0.25"]  # fmt: skip


def _scalars(folder):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_scalars_are_the_metrics_csv(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "3", "--log", "tensorboard", "--output", str(run)]) == 0
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    logged = _scalars(run / "tensorboard")
    assert set(logged) == {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "seconds_per_epoch"}
    for tag, key in (("loss/train", "train_loss"), ("accuracy/val", "val_acc"), ("lr", "lr")):
        assert [s for s, _ in logged[tag]] == [1, 2, 3]
        assert [v for _, v in logged[tag]] == pytest.approx([float(r[key]) for r in rows], rel=1e-5, abs=1e-6)
    assert main(["train", *TINY, "--epochs", "3", "--output", str(tmp_path / "plain")]) == 0
    assert not (tmp_path / "plain" / "tensorboard").exists()  # off by default


def test_tensorboard_missing_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as without the package
    code = main(["train", *TINY, "--epochs", "1", "--log", "tensorboard", "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "pip install tensorboard" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
