"""The paper's DRSN-CW learns the simulated drivetrain on the CPU in a few epochs.

A small, noise-free simulator set (one operating condition, 16 recordings of 6 windows of 512
samples per health state), split by recording (no window of a validation or test recording is
trained on), trained with the paper's recipe (SGD, momentum 0.9, weight decay 1e-4 on weights)
for 12 epochs of batch 16 with the lr drops moved to 60 % / 90 % of this short run.
"""

from __future__ import annotations

import time

import torch

from deepshrink.train.config import TrainConfig
from deepshrink.train.run import train

CHANCE = 1 / 8


def test_drsn_cw_paper_learns_the_simulator():
    torch.set_num_threads(1)
    cfg = TrainConfig(
        model="drsn_cw_paper", data="simulator",
        data_args={"window": 512, "recordings_per_condition": 16, "windows_per_recording": 6,
                   "speeds_hz": [30.0], "loads": [1.0], "seed": 0},
        noise="none", epochs=12, batch_size=16, milestones=[0.6, 0.9], test_fraction=0.2, val_fraction=0.2,
        device="cpu", num_threads=1, progress="off", seed=0,
    )  # fmt: skip
    started = time.perf_counter()
    result = train(cfg, write=False, console=False)
    seconds = time.perf_counter() - started
    best_val = max(row["val_acc"] for row in result.history)
    print(f"val_acc per epoch {[round(r['val_acc'], 3) for r in result.history]}, "
          f"test {result.test_report['accuracy']:.3f}, {seconds:.1f}s")  # fmt: skip
    assert result.history[-1]["train_acc"] > 2 * CHANCE
    assert best_val > 0.5, f"best validation accuracy {best_val:.3f}"
    assert result.test_report["accuracy"] > 2.5 * CHANCE
