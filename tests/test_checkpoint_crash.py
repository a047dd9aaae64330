"""Crash safety: a run killed with SIGKILL mid-training and resumed with ``--resume`` ends with
the same weights and metrics as an uninterrupted run; while it trains, ``last.ckpt`` always loads."""

from __future__ import annotations

import csv
import signal
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from test_train_support import fast_train_args, start_cli, write_npz

from deepshrink.cli import main
from deepshrink.errors import CheckpointError
from deepshrink.train.checkpoint import load_checkpoint

EPOCHS = 5


def _metrics(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    data = write_npz(tmp_path / "data.npz", n_rec=16, per=16, length=128)
    args = fast_train_args(data, tmp_path / "killed", epochs=EPOCHS, batch_size=16)

    proc = start_cli(args)
    ckpt = tmp_path / "killed" / "last.ckpt"
    loads, seen_epochs = 0, set()
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"training ended before it could be killed (rc {proc.returncode}): {proc.stderr.read()}")
            if ckpt.exists():
                # the checkpoint on disk is never half-written: it loads every time we look
                state = load_checkpoint(ckpt)
                loads += 1
                seen_epochs.add(state["epoch"])
                if state["epoch"] >= 1:
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint appeared in time")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    state = load_checkpoint(ckpt)
    assert 1 <= state["epoch"] < EPOCHS, "killed mid-training"
    assert not (tmp_path / "killed" / "model.safetensors").exists() or state["epoch"] < EPOCHS

    # resume (same command line as a user would type) ...
    assert main(["train", "--resume", str(tmp_path / "killed"), "--progress", "off"]) == 0
    # ... and an uninterrupted run with the same seed
    reference = fast_train_args(data, tmp_path / "reference", epochs=EPOCHS, batch_size=16)
    assert main([str(a) for a in reference] + ["--progress", "off"]) == 0

    a = load_file(tmp_path / "killed" / "model.safetensors")
    b = load_file(tmp_path / "reference" / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())
    assert worst <= 1e-6, f"weights differ by {worst}"
    assert _metrics(tmp_path / "killed" / "metrics.csv") == _metrics(tmp_path / "reference" / "metrics.csv")
    assert len(_metrics(tmp_path / "killed" / "metrics.csv")) == EPOCHS
    final = load_checkpoint(tmp_path / "killed" / "last.ckpt")
    assert final["epoch"] == EPOCHS
    reference_state = load_checkpoint(tmp_path / "reference" / "last.ckpt")
    assert all(torch.equal(final["model"][k], reference_state["model"][k]) for k in final["model"])
    assert torch.equal(final["optimizer"]["state"][0]["momentum_buffer"], reference_state["optimizer"]["state"][0]["momentum_buffer"])
    log = (tmp_path / "killed" / "train.log").read_text()
    assert "resumed" in log
    assert not list((tmp_path / "killed").glob(".*.tmp"))


def test_resume_needs_a_checkpoint(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.yaml").write_text("epochs: 1\n")
    with pytest.raises(CheckpointError, match="last.ckpt: checkpoint does not exist"):
        from deepshrink.train.config import load_config
        from deepshrink.train.run import train

        train(load_config(tmp_path / "empty" / "config.yaml"), resume=tmp_path / "empty", console=False)
