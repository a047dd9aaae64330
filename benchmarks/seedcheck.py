"""Hashes of everything a refactoring must not change: run it before and after, the lines must match.

    PYTHONPATH=/tmp/old/src python benchmarks/seedcheck.py > before.txt   # the previous commit's code
    python benchmarks/seedcheck.py > after.txt && diff before.txt after.txt

On one thread, the CPU: a tiny run's weights, metrics and test report; the evaluation of that run
at another SNR; a 2-fold study trained one run at a time and stacked (its results without the
timings); the scikit-learn estimator's probabilities; a warm start and a resumed extension. A
line is ``name sha256``; the hashes cover bytes (weights) or rounded-free JSON of the numbers.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from deepshrink.study.results import read_results
from deepshrink.study.spec import study_from_dict
from deepshrink.study.runner import run_study
from deepshrink.sklearn import DRSNClassifier
from deepshrink.train.config import TrainConfig
from deepshrink.train.evaluation import evaluate_run
from deepshrink.train.run import train

TIMING = ("seconds", "total_seconds", "predict_seconds", "finished", "device")
DATA = {"recordings_per_condition": 2, "windows_per_recording": 8, "window": 256}


def digest(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def say(name: str, value: object) -> None:
    print(f"{name} {digest(value)}", flush=True)


def strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TIMING}


def main(root: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig(model="drsn_cw_paper6", data="simulator", data_args=DATA, noise="gaussian", snr=0.0, epochs=3,
                      batch_size=16, seed=3, progress="off", num_threads=1, val_fraction=0.2)  # fmt: skip
    run = train(cfg, output=root / "run", console=False)
    say("run.model.safetensors", (root / "run" / "model.safetensors").read_bytes())
    say("run.history", [strip(r) for r in run.history])
    say("run.test_report", run.test_report)
    say("evaluate.-5dB", {k: v for k, v in evaluate_run(root / "run", snr=-5.0).items() if k != "files"})  # paths differ
    more = train(cfg.replace(epochs=4), resume=root / "run", console=False)
    say("resume.extend.model.safetensors", (root / "run" / "model.safetensors").read_bytes())
    say("resume.extend.history", [strip(r) for r in more.history])
    warm = train(cfg.replace(seed=4, init_from=str(root / "run"), lr=0.01), output=root / "warm", console=False)
    say("warmstart.test_report", warm.test_report)
    for stack in (1, 4):
        spec = study_from_dict({"name": "seedcheck", "data": "simulator", "data_args": DATA,
                                "models": ["resnet_paper6", "drsn_cw_paper6"], "noises": ["gaussian", "pink"],
                                "snrs": [0.0], "seeds": [0, 1], "folds": 2,
                                "train": {"epochs": 2, "batch_size": 16, "val_fraction": 0.0}})  # fmt: skip
        run_study(spec, root / f"study{stack}", num_threads=1, stack=stack, log=None, report=False)
        rows = sorted((strip(r) for r in read_results(root / f"study{stack}" / "results.csv")), key=lambda r: r["run_id"])
        say(f"study.stack{stack}", rows)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 128)).astype(np.float32)
    y = (x[:, 0, :64].mean(1) > 0).astype(int)
    clf = DRSNClassifier(model="drsn_cw_paper6", epochs=3, batch_size=16, recipe="paper", random_state=0,
                         num_threads=1).fit(x, y)  # fmt: skip
    say("sklearn.predict_proba", clf.predict_proba(x).tobytes())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
