"""deepshrink train --init-from RUN: a new run from another run's weights (fine-tuning), the head
re-created when the classes differ, other architectures refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from deepshrink.cli import main
from deepshrink.data import SignalDataset, load_dataset, save_npz

TINY = ["--data-arg", "recordings_per_condition=2", "--data-arg", "windows_per_recording=8",
        "--data-arg", "window=256", "--data-arg", "speeds_hz=[30]", "--data-arg", "loads=[0.5]"]  # fmt: skip
COMMON = ["--model", "resnet_paper6", "--batch-size", "8", "--threads", "1", "--noise", "none"]


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A trained 8-class run on the tiny simulator."""
    out = tmp_path_factory.mktemp("src") / "run"
    assert main(["train", *COMMON, *TINY, "--epochs", "3", "--output", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    """The tiny simulator's first three classes, as a dataset file (other classes than the source's 8)."""
    ds = load_dataset("simulator", recordings_per_condition=2, windows_per_recording=8, window=256, speeds_hz=[30],
                      loads=[0.5])  # fmt: skip
    sub = ds.subset(np.isin(ds.y.numpy(), [0, 1, 2]))
    small = SignalDataset(sub.x, sub.y, label_names=list(ds.label_names[:3]), sampling_rate=sub.sampling_rate,
                          recording_ids=sub.recording_ids, conditions=sub.conditions)  # fmt: skip
    path = tmp_path_factory.mktemp("data") / "three.npz"
    save_npz(small, path)
    return path


def test_init_from_other_classes_recreates_the_head_and_changes_the_result(tmp_path, source_run, three_classes, capsys):
    capsys.readouterr()
    args = ["train", *COMMON, "--data", str(three_classes), "--epochs", "2"]
    assert main([*args, "--init-from", str(source_run), "--output", str(tmp_path / "warm")]) == 0
    said = capsys.readouterr().out
    assert f"init from {source_run}:" in said and "the head (fc) re-created: 8 classes there, 3 here" in said
    assert main([*args, "--output", str(tmp_path / "scratch")]) == 0

    warm_cfg = yaml.safe_load((tmp_path / "warm" / "config.yaml").read_text())
    assert warm_cfg["init_from"] == str(source_run)  # recorded in the run's config
    assert yaml.safe_load((tmp_path / "scratch" / "config.yaml").read_text())["init_from"] is None

    # before training, every tensor but the head is the source's: check after 0 steps through the library
    from deepshrink.train.config import TrainConfig
    from deepshrink.train.prepare import prepare_data
    from deepshrink.train.run import _build_model

    cfg = TrainConfig(model="resnet_paper6", data=str(three_classes), init_from=str(source_run), batch_size=8)
    notes: list[str] = []
    model = _build_model(cfg, prepare_data(cfg, None), notes.append)
    saved = load_file(str(source_run / "model.safetensors"))
    state = model.state_dict()
    assert all(torch.equal(state[k], saved[k]) for k in state if not k.startswith("fc."))
    assert state["fc.weight"].shape[0] == 3 and saved["fc.weight"].shape[0] == 8 and len(notes) == 1

    warm = (tmp_path / "warm" / "test_metrics.json").read_text()
    scratch = (tmp_path / "scratch" / "test_metrics.json").read_text()
    assert warm != scratch  # same seed, same data: only the starting weights differ


def test_init_from_another_architecture_is_one_line_and_exit_2(tmp_path, source_run, capsys):
    code = main(["train", "--model", "drsn_cw_paper6", "--batch-size", "8", *TINY, "--epochs", "1",
                 "--init-from", str(source_run), "--output", str(tmp_path / "x")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--init-from" in err and "another architecture" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # nothing written


def test_init_from_a_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["train", *COMMON, *TINY, "--epochs", "1", "--init-from", str(tmp_path / "nope"),
                 "--output", str(tmp_path / "x")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1


def test_resume_with_more_epochs_extends_a_finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *COMMON, *TINY, "--epochs", "2", "--output", str(run)]) == 0
    before = (run / "metrics.csv").read_text().splitlines()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "4"]) == 0
    assert "extending the run from 2 to 4 epochs (at epoch 2)" in capsys.readouterr().out
    after = (run / "metrics.csv").read_text().splitlines()
    assert after[:3] == before and [line.split(",")[0] for line in after[1:]] == ["1", "2", "3", "4"]
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 4  # recorded: the new total
    assert json.loads((run / "config.json").read_text())["extra"]["extended_from"] == [2]  # and the former one

    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 2  # epochs may only grow
    err = capsys.readouterr().err
    assert "epochs: 4 -> 3" in err and "may only grow" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--resume", str(run), "--epochs", "6", "--seed", "1"]) == 2  # anything else: refused
    assert "seed: 0 -> 1" in capsys.readouterr().err
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 4  # nothing written by the refusals


def test_resuming_a_finished_run_rewrites_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *COMMON, *TINY, "--epochs", "2", "--output", str(run)]) == 0
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir()}
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "the run already finished (2 epochs) and was tested; nothing rewritten" in capsys.readouterr().out
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir()} == before
