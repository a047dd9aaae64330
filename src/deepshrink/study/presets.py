"""Named study presets: ``deepshrink study paper``, ``deepshrink study quick``, ...

A preset is a plain mapping in the shape of a study YAML file (see
:class:`~deepshrink.study.runner.StudySpec`); ``deepshrink study PRESET --print-study``
writes it out as YAML to copy and edit.

* ``paper``: the study of Zhao et al. (2020), Figs. 6-8 and Tables III and V: five models
  (ConvNet, ResNet, SE-ResNet, DRSN-CS, DRSN-CW, the 12-unit networks of Table II), white
  Gaussian, Laplacian and pink noise at -5, -4, ..., 5 dB (noise added once, fixed), 10-fold
  cross-validation *by recording* on the paper-sized simulator (28,800 windows of 2,048
  points), 100 epochs of the paper's recipe. 5 x 3 x 11 x 10 = 1,650 runs: a GPU job
  (shard it with ``--shard i/n`` or torchrun).
* ``quick``: the CPU study of ``docs/results.md``: ResNet, DRSN-CS and DRSN-CW in their 6-unit
  versions (``*_paper6``, the authors' code: 3 stages of 2 units, half the compute of Table II),
  the same three noise kinds at -5 and 0 dB, 3 seeds (each seed draws its own split by
  recording, noise and initialisation), on a reduced simulator (8 states x 3 speeds x 3 loads x
  4 recordings x 8 windows of 1,024 points = 2,304 windows; a quarter of the recordings is the
  test set), 200 epochs of the paper's recipe at batch 32 (long enough to converge at -5 dB
  too; the epochs were chosen from measured training accuracies, benchmarks/RESULTS.md): 54
  runs, trained as stacked cohorts (two workers of 1 thread, cohorts of 9 runs).
* ``forda``: the same comparison on a real dataset, FordA (UCR archive, engine noise, 2
  classes, 500 points; its own train/test split) with Gaussian noise added at -5 and 0 dB,
  ResNet vs DRSN-CS vs DRSN-CW, 3 seeds, 12 epochs.
* ``demo``: what ``deepshrink demo`` runs: ResNet vs DRSN-CW (6-unit versions) with white
  Gaussian noise at 0 dB (noise as strong as the signal) on the data of ``quick``, 4 seeds,
  80 epochs (enough for both to converge at 0 dB; benchmarks/RESULTS.md has the measurements):
  8 runs, one stacked cohort per model, one core each.
* ``arena``: what to use under which noise, and whether shrinkage helps: the paper's ResNet and
  DRSNs, the shrinkage variants (hard, garrote, firm, MAD threshold, element-wise thresholds,
  APReLU), WDCNN and MiniRocket, all on the data of ``quick`` (6-unit versions of the paper's
  networks), raw and per-window standardised input, Gaussian, Laplacian and pink noise, in two
  protocols: the paper's (noise in training and test, at 0 dB) and the field's (trained clean,
  tested at -10, -5, 0, 5 and 10 dB); 5 seeds, 80 epochs (the demo's, enough to converge
  at 0 dB). Meant for two 1-thread workers on 2 cores (``benchmarks/RESULTS.md`` has the
  measured time).
* ``arena_ucr``: the same question on five real UCR sets (FordA, FreezerRegularTrain,
  ElectricDevices, ECG5000, ChlorineConcentration; each with its own train/test split), per-window standardised
  (the archive's series already are), Gaussian and pink noise, the same two protocols (noisy at
  0 dB; clean, tested at -10 ... 10 dB), the models of ``arena`` but WDCNN (the 6-unit
  networks: the paper-size ones cost twice as much and did not fit five sets in 3 hours on 2
  cores), 5 seeds, 40 epochs. A study folder holds one dataset: the preset's is FordA, the others are
  ``deepshrink study arena_ucr --data ucr:ECG5000 -o studies/arena_ucr-ECG5000`` and so on,
  and ``deepshrink study --panel studies/arena_ucr-* -o studies/arena_ucr-panel`` ranks them together.
* ``recommend_ucr``: which network to use on noisy real series (the question after the arena): the
  ResNet-14 networks (``*14_1d``: ResNet, SE-ResNet, DRSN-CS, DRSN-CW) and the paper's 6-unit
  ResNet and DRSN-CW, all trained with AdamW on noise drawn fresh each epoch, against MiniRocket
  (whose one fit sees one draw), on a UCR set with its own split, standardised, Gaussian and pink
  noise at -5 and 0 dB, 5 seeds, 40 epochs; ``--data ucr:NAME`` for the other sets of the panel.
* ``recommend_field``: whether shrinkage helps inside the field's wider networks: ResNet-TSC and
  InceptionTime with and without a DRSN-CW gate in every block (module), paired, beside ResNet-14,
  DRSN-CW-14 and MiniRocket, on the recipe and panel of ``recommend_ucr``. The field's networks
  cost tens of times the ResNet-14's per sample: a GPU job, one set per study folder as above.
* ``arena_field``: the field's deep baselines at their published size (FCN, ResNet-TSC,
  InceptionTime) against the paper's ResNet and DRSN-CW and MiniRocket, on FordA (``--data`` for
  the rest of the UCR panel), otherwise as ``arena_ucr`` with 100 epochs. Those networks cost tens
  to hundreds of times the paper's per sample (``benchmarks/RESULTS.md``): a GPU job.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PRESETS", "get_preset", "list_presets"]

PAPER_MODELS = ["convnet_paper", "resnet_paper", "se_resnet_paper", "drsn_cs_paper", "drsn_cw_paper"]
_VARIANTS = ["drsn_cw_hard", "drsn_cw_garrote", "drsn_cw_firm", "drsn_cw_mad", "drsn_ew", "aprelu_resnet"]
ARENA_MODELS = (
    ["resnet_paper6", "se_resnet_paper6", "drsn_cs_paper6", "drsn_cw_paper6"] + [f"{v}_paper6" for v in _VARIANTS]
    + ["wdcnn", "minirocket"]
)  # fmt: skip
ARENA_UCR_MODELS = [m for m in ARENA_MODELS if m != "wdcnn"]  # WDCNN is built for 2,048-point vibration windows

_ARENA_UCR: dict[str, Any] = {
    "name": "arena_ucr",
    "description": "The arena on 5 UCR sets: paper networks (6-unit), shrinkage variants and MiniRocket x Gaussian and pink "
    "noise, noisy training at 0 dB and clean training tested at -10..10 dB, standardised input, 5 seeds",
    "data": "ucr:FordA",
    "data_args": {},
    "models": ARENA_UCR_MODELS,
    "noises": ["gaussian", "pink"],
    "snrs": [0],
    "seeds": [0, 1, 2, 3, 4],
    "folds": 0,
    "noise_protocol": "fixed",
    "normalize": "per_sample",
    "split": "predefined",
    "grids": [{"noise_protocol": "clean", "snrs": [-10, -5, 0, 5, 10]}],
    "train": {"epochs": 40, "batch_size": 64, "recipe": "paper", "val_fraction": 0.0},
}

RECOMMEND_MODELS = ["resnet14_1d", "se_resnet14_1d", "drsn_cs14_1d", "drsn_cw14_1d", "resnet_paper6", "drsn_cw_paper6",
                    "minirocket"]  # fmt: skip

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "name": "paper",
        "description": "Zhao et al. (2020) Figs. 6-8 / Tables III, V: 5 models x 3 noise kinds x 11 SNRs x "
        "10 folds by recording, 100 epochs, paper-sized simulator (GPU job)",
        "data": "simulator",
        "data_args": {},
        "models": PAPER_MODELS,
        "noises": ["gaussian", "laplacian", "pink"],
        "snrs": [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5],
        "folds": 10,
        "seeds": [0],
        "noise_protocol": "fixed",
        "train": {"epochs": 100, "batch_size": 128, "recipe": "paper", "val_fraction": 0.0},
    },
    "quick": {
        "name": "quick",
        "description": "CPU study: ResNet / DRSN-CS / DRSN-CW (6-unit versions) x 3 noise kinds x {-5, 0} dB x "
        "3 seeds, reduced simulator (2,304 windows of 1,024 points), 200 epochs",
        "data": "simulator",
        "data_args": {"recordings_per_condition": 4, "windows_per_recording": 8, "window": 1024},
        "models": ["resnet_paper6", "drsn_cs_paper6", "drsn_cw_paper6"],
        "noises": ["gaussian", "laplacian", "pink"],
        "snrs": [-5, 0],
        "seeds": [0, 1, 2],
        "folds": 0,
        "noise_protocol": "fixed",
        "train": {"epochs": 200, "batch_size": 32, "recipe": "paper", "test_fraction": 0.25, "val_fraction": 0.0},
    },
    "forda": {
        "name": "forda",
        "description": "FordA (UCR, real engine signals) + Gaussian noise at -5 and 0 dB: ResNet / DRSN-CS / "
        "DRSN-CW x 3 seeds, official train/test split, 12 epochs",
        "data": "ucr:FordA",
        "data_args": {},
        "models": ["resnet_paper", "drsn_cs_paper", "drsn_cw_paper"],
        "noises": ["gaussian"],
        "snrs": [-5, 0],
        "seeds": [0, 1, 2],
        "folds": 0,
        "noise_protocol": "fixed",
        "split": "predefined",
        "train": {"epochs": 12, "batch_size": 64, "recipe": "paper", "val_fraction": 0.0},
    },
    "demo": {
        "name": "demo",
        "description": "ResNet vs DRSN-CW (6-unit versions) under heavy Gaussian noise (0 dB: noise as strong "
        "as the signal) on the reduced simulator, 4 seeds, 80 epochs",
        "data": "simulator",
        "data_args": {"recordings_per_condition": 4, "windows_per_recording": 8, "window": 1024},
        "models": ["resnet_paper6", "drsn_cw_paper6"],
        "noises": ["gaussian"],
        "snrs": [0],
        "seeds": [0, 1, 2, 3],
        "folds": 0,
        "noise_protocol": "fixed",
        "train": {"epochs": 80, "batch_size": 32, "recipe": "paper", "test_fraction": 0.25, "val_fraction": 0.0},
    },
    "arena": {
        "name": "arena",
        "description": "The arena: paper networks, shrinkage variants, WDCNN and MiniRocket x raw / standardised x "
        "3 noise kinds, noisy training at 0 dB and clean training tested at -10..10 dB, 5 seeds, reduced simulator",
        "data": "simulator",
        "data_args": {"recordings_per_condition": 4, "windows_per_recording": 8, "window": 1024},
        "models": ARENA_MODELS,
        "noises": ["gaussian", "laplacian", "pink"],
        "snrs": [0],
        "seeds": [0, 1, 2, 3, 4],
        "folds": 0,
        "noise_protocol": "fixed",
        "normalize": ["none", "per_sample"],
        "grids": [{"noise_protocol": "clean", "snrs": [-10, -5, 0, 5, 10]}],
        "train": {"epochs": 80, "batch_size": 32, "recipe": "paper", "test_fraction": 0.25, "val_fraction": 0.0},
    },
    "arena_ucr": _ARENA_UCR,
    "recommend_ucr": {
        **_ARENA_UCR,
        "name": "recommend_ucr",
        "description": "Which network to use on noisy real series: the ResNet-14 networks (with and without "
        "shrinkage) and the paper's 6-unit ones, all AdamW on fresh noise per epoch, vs MiniRocket, on a UCR set, "
        "Gaussian and pink noise at -5 and 0 dB, 5 seeds",
        "models": RECOMMEND_MODELS,
        "snrs": [-5, 0],
        "noise_protocol": "fresh",
        "grids": [],
        "train": {"epochs": 40, "batch_size": 64, "recipe": "adamw", "val_fraction": 0.0},
    },
    "recommend_field": {
        **_ARENA_UCR,
        "name": "recommend_field",
        "description": "Shrinkage inside the field's networks: ResNet-TSC and InceptionTime with and without a "
        "DRSN-CW gate, paired, beside ResNet-14, DRSN-CW-14 and MiniRocket, on recommend_ucr's recipe (GPU job)",
        "models": ["fawaz_resnet", "drsn_cw_fawaz_resnet", "inception_time", "drsn_cw_inception_time",
                   "resnet14_1d", "drsn_cw14_1d", "minirocket"],  # fmt: skip
        "snrs": [-5, 0],
        "noise_protocol": "fresh",
        "grids": [],
        "train": {"epochs": 40, "batch_size": 64, "recipe": "adamw", "val_fraction": 0.0},
    },
    "arena_field": {
        **_ARENA_UCR,
        "name": "arena_field",
        "description": "The field's deep baselines at published size (FCN, ResNet-TSC, InceptionTime) vs ResNet, "
        "DRSN-CW and MiniRocket on a UCR set, Gaussian and pink noise, noisy at 0 dB and clean-trained (GPU job)",
        "models": ["fcn", "fawaz_resnet", "inception_time", "resnet_paper", "drsn_cw_paper", "minirocket"],
        "train": {**_ARENA_UCR["train"], "epochs": 100},
    },
}
"""Preset name -> study mapping (the same keys as a study YAML file)."""


def list_presets() -> list[str]:
    """The preset names."""
    return sorted(PRESETS)


def get_preset(name: str) -> dict[str, Any]:
    """A deep copy of preset ``name`` (a study mapping).

    Raises:
        KeyError: unknown name.
    """
    return copy.deepcopy(PRESETS[name])
