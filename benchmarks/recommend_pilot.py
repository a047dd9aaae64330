"""The pilot behind the recommend_ucr preset (issue 22): what closes the gap to MiniRocket on noisy UCR series?

    python benchmarks/recommend_pilot.py ablation OUT.csv   # width x recipe x fresh noise, 3 sets, 0 dB Gaussian
    python benchmarks/recommend_pilot.py rocket OUT.csv     # MiniRocket fit on 1 vs 5 noisy copies of the training set
    python benchmarks/recommend_pilot.py estimator OUT.csv  # DRSNClassifier's default model vs the ResNet-14 ones
    python benchmarks/recommend_pilot.py summary OUT.csv    # mean ± std over seeds (and cells) per dataset and config

One thread, resumable by appending; every row is ``dataset, config, noise, snr_db, seed, test_acc, seconds``.
``ablation`` trains the 6-unit networks (the paper's widths 4/8/16, or 16/32/64 and 32/64/128) with
the paper's or the AdamW recipe, on noise added once (``fixed``) or drawn anew each epoch
(``fresh``), 40 epochs, batch 64, test noise fixed, standardised input. ``rocket`` gives
MiniRocket K noisy copies of the training set (the draws of epochs 0..K-1, as a network sees
over K epochs; K=1 is the study's MiniRocket). ``estimator`` fits the scikit-learn estimator on
series with 0 dB Gaussian noise added once, as a user with noisy data would.
"""

from __future__ import annotations

import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from deepshrink.seeds import Purpose, derive_seed
from deepshrink.sklearn import DRSNClassifier
from deepshrink.study.rocket import as_arrays, require_aeon
from deepshrink.train.config import TrainConfig
from deepshrink.train.prepare import load_data_spec, prepare_data
from deepshrink.train.run import train

SETS = ["FreezerRegularTrain", "ChlorineConcentration", "ECG5000"]
CELLS = [("gaussian", -5.0), ("gaussian", 0.0), ("pink", -5.0), ("pink", 0.0)]
W16 = {"stem_channels": 16, "widths": [16, 32, 64]}
W32 = {"stem_channels": 32, "widths": [32, 64, 128]}
ABLATION = {
    "paper6-adamw": dict(model="resnet_paper6", recipe="adamw"),
    "w16-paper": dict(model="resnet_paper6", model_args=W16, recipe="paper"),
    "w16-adamw": dict(model="resnet_paper6", model_args=W16, recipe="adamw"),
    "w16-adamw-fresh": dict(model="resnet_paper6", model_args=W16, recipe="adamw", noise_protocol="fresh"),
    "cw-w16-adamw-fresh": dict(model="drsn_cw_paper6", model_args=W16, recipe="adamw", noise_protocol="fresh"),
    "w32-adamw-fresh": dict(model="resnet_paper6", model_args=W32, recipe="adamw", noise_protocol="fresh"),
    "cw-w32-adamw-fresh": dict(model="drsn_cw_paper6", model_args=W32, recipe="adamw", noise_protocol="fresh"),
}
_PILOT = {"epochs": 30, "batch_size": 128, "recipe": "paper"}  # the estimator's defaults when the pilot ran
ESTIMATOR = {"default": {"model": "drsn_cw_paper", **_PILOT}, "drsn_cw14_1d": {**_PILOT, "model": "drsn_cw14_1d"},
             "drsn_cw14_1d-adamw": {**_PILOT, "model": "drsn_cw14_1d", "recipe": "adamw"},
             "resnet14_1d": {**_PILOT, "model": "resnet14_1d"}}
"""``default`` is the estimator's default of 2026-12-03 (the paper's DRSN-CW and recipe, 30 epochs of
batch 128); benchmarks/estimator_defaults.py compares it with today's."""


def noisy_config(ds: str, noise: str, snr: float, seed: int, **changes: object) -> TrainConfig:
    return TrainConfig(**{"data": f"ucr:{ds}", "noise": noise, "snr": snr, "noise_protocol": "fixed", "split": "predefined",
                          "normalize": "per_sample", "epochs": 40, "batch_size": 64, "val_fraction": 0.0, "seed": seed,
                          "progress": "off", "num_threads": 1, **changes})  # fmt: skip


def ablation(say) -> None:
    for seed in (0, 1, 2):
        for ds in SETS:
            for name, changes in ABLATION.items():
                started = time.perf_counter()
                result = train(noisy_config(ds, "gaussian", 0.0, seed, **changes), write=False, console=False)
                say(ds, name, "gaussian", 0.0, seed, result.test_report["accuracy"], time.perf_counter() - started)


def rocket(say) -> None:
    classifier = require_aeon()
    for ds in SETS:
        dataset = load_data_spec(f"ucr:{ds}", {}, "predefined")
        for noise, snr in CELLS:
            for seed in (0, 1, 2):
                data = prepare_data(noisy_config(ds, noise, snr, seed, noise_protocol="fresh"), dataset)
                for copies in (1, 5):
                    xs = []
                    for epoch in range(copies):  # the training noise of epochs 0..K-1
                        data.train.set_epoch(epoch)
                        xs.append(as_arrays(data.train, "per_sample")[0])
                    ys = np.concatenate([data.train.y.numpy()] * copies)
                    clf = classifier(random_state=derive_seed(seed, Purpose.INIT) % (2**31), n_jobs=1)
                    started = time.perf_counter()
                    clf.fit(np.concatenate(xs), ys)
                    x_test, y_test = as_arrays(data.test, "per_sample")
                    acc = float(np.mean(clf.predict(x_test) == y_test))
                    say(ds, f"minirocket-x{copies}", noise, snr, seed, acc, time.perf_counter() - started)


def estimator(say) -> None:
    for ds in SETS:
        dataset = load_data_spec(f"ucr:{ds}", {}, "predefined")
        for seed in (0, 1, 2):
            data = prepare_data(noisy_config(ds, "gaussian", 0.0, seed), dataset)
            for name, kwargs in ESTIMATOR.items():
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf = DRSNClassifier(normalize="per_sample", random_state=seed, num_threads=1, **kwargs)
                    clf.fit(data.train.x.numpy(), data.train.y.numpy())
                acc = float(np.mean(clf.predict(data.test.x.numpy()) == data.test.y.numpy()))
                say(ds, name, "gaussian", 0.0, seed, acc, time.perf_counter() - started)


def summary(path: Path) -> None:
    """A Markdown table: per config, the mean test accuracy ± std over seeds (of the mean over cells), per dataset."""
    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    with path.open(newline="") as handle:
        for ds, config, _noise, _snr, seed, acc, _seconds in csv.reader(handle):
            groups.setdefault((config, ds), {}).setdefault(seed, []).append(float(acc))
    sets = list(dict.fromkeys(ds for _, ds in groups))
    configs = list(dict.fromkeys(c for c, _ in groups))
    print("| config | " + " | ".join(sets) + " |")
    print("|---|" + "---:|" * len(sets))
    for c in configs:
        cells = []
        for ds in sets:
            per_seed = [float(np.mean(v)) for v in groups.get((c, ds), {}).values()]
            cells.append(f"{100 * np.mean(per_seed):.2f} ± {100 * np.std(per_seed):.2f}" if per_seed else "–")
        print(f"| {c} | " + " | ".join(cells) + " |")


def main() -> None:
    what, out = sys.argv[1], Path(sys.argv[2])
    if what == "summary":
        summary(out)
        return
    torch.set_num_threads(1)
    with out.open("a", newline="") as handle:
        writer = csv.writer(handle)

        def say(*row: object) -> None:
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
            handle.flush()

        {"ablation": ablation, "rocket": rocket, "estimator": estimator}[what](say)


if __name__ == "__main__":
    main()
