"""DDP under torchrun on the CPU (gloo): two processes train, only rank 0 writes, and the first
epoch matches a single-process run with the same global batch.

Tolerance: with ``sync_bn`` (the default) BatchNorm statistics span the global batch, so a
2-process step computes the same function as the 1-process step; only the order of float
additions differs (all-reduce of per-process sums). Measured: the first step's loss agrees to
about 1e-7. Training is chaotic (the soft threshold's dead zone and BatchNorm on small batches
amplify rounding), so differences grow with the number of steps and the learning rate: over a
4-step epoch at lr 0.01 the epoch-mean loss agrees to ~1e-6 relative; we assert 1e-4. Without
synced BatchNorm the very first step already differs by ~0.4 % (statistics of 8 instead of
16 observations), which this tolerance would catch.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from test_train_support import fast_train_args, subprocess_env, write_npz

from deepshrink.cli import main

REL_TOL = 1e-4


def _rows(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")
def test_torchrun_two_processes_match_one_process(tmp_path):
    data = write_npz(tmp_path / "data.npz", n_rec=16, per=8, length=128)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    args = [str(a) for a in fast_train_args(data, "run2", epochs=1, batch_size=16)] + ["--lr", "0.01"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "deepshrink.train", *args[1:]]
    result = subprocess.run(cmd, cwd=workdir, env=subprocess_env(), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]

    # only rank 0 wrote: one run folder, each log line once
    assert sorted(p.name for p in workdir.iterdir()) == ["run2"]
    run2 = workdir / "run2"
    assert {p.name for p in run2.iterdir()} == {
        "config.yaml", "metrics.csv", "train.log", "config.json", "model.safetensors", "last.ckpt",
        "test_metrics.json", "test_confusion_matrix.csv", "test_confusion_matrix.png", "test_per_class.csv",
        "training_curves.png",
    }  # fmt: skip
    assert result.stdout.count("epoch 1/1") == 1
    assert (run2 / "train.log").read_text().count("epoch 1/1") == 1
    assert "2 process(es), global batch 16 (8 per process)" in result.stdout

    # the same run in one process
    single = [str(a) for a in fast_train_args(data, tmp_path / "run1", epochs=1, batch_size=16)]
    assert main(single + ["--lr", "0.01", "--progress", "off"]) == 0
    one, two = _rows(tmp_path / "run1" / "metrics.csv")[0], _rows(run2 / "metrics.csv")[0]
    for key in ("train_loss", "val_loss"):
        assert two[key] == pytest.approx(one[key], rel=REL_TOL), key
    assert two["train_acc"] == one["train_acc"] and two["val_acc"] == one["val_acc"]
    w1, w2 = load_file(tmp_path / "run1" / "model.safetensors"), load_file(run2 / "model.safetensors")
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.allclose(w1[k].double(), w2[k].double(), rtol=1e-3, atol=1e-5), k
