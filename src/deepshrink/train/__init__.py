"""Training: a plain PyTorch loop (single process or DDP under torchrun), run folders, evaluation.

Public API (imported lazily, so ``import deepshrink`` stays light)::

    from deepshrink.train import TrainConfig, load_config, train, evaluate_run, predict_file
    from deepshrink.predict import load

    cfg = TrainConfig(model="drsn_cw_paper", data="simulator", data_args={"window": 1024}, epochs=20)
    result = train(cfg)                      # writes runs/<stamp>-drsn_cw_paper-simulator/
    model = load(result.run_dir)             # eval-mode model from config.json + model.safetensors
    ds = load_dataset("simulator", window=1024)   # from deepshrink.data; 8 seeds as one stacked network:
    results = train_cohort([cfg.replace(seed=s) for s in range(8)], [ds] * 8, names=[f"seed{s}" for s in range(8)])

Modules: :mod:`.config` (TrainConfig, YAML), :mod:`.engine` (the Trainer: the epoch loop and its
state), :mod:`.feed` (the batches of a run or a cohort), :mod:`.schedule` (optimiser, lr schedule,
clipping), :mod:`.guard` (the divergence check on the device), :mod:`.slices` (each run's history,
best epoch and status), :mod:`.validation` (loss and accuracy per epoch), :mod:`.checkpoint`
(atomic, pickle-safe ``last.ckpt``), :mod:`.distributed` (torchrun/DDP, synced BatchNorm on CPU),
:mod:`.metrics`, :mod:`.prepare` (a run's data: split and noise), :mod:`.runfolder` (the run
folder, its files and log), :mod:`.run` (a run or a cohort end to end), :mod:`.evaluation`
(``evaluate`` / ``predict`` of a run on files); loading a model and predicting with it live in
:mod:`deepshrink.predict`.
"""

from __future__ import annotations

from deepshrink._lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "deepshrink.train.config",
    "load_config": "deepshrink.train.config",
    "config_from_dict": "deepshrink.train.config",
    "Trainer": "deepshrink.train.engine",
    "TrainingDiverged": "deepshrink.train.engine",
    "train": "deepshrink.train.run",
    "train_cohort": "deepshrink.train.run",
    "TrainResult": "deepshrink.train.run",
    "prepare_data": "deepshrink.train.prepare",
    "evaluate_run": "deepshrink.train.evaluation",
    "predict_file": "deepshrink.train.evaluation",
    "read_signals": "deepshrink.train.evaluation",
    "classification_report": "deepshrink.train.metrics",
    "save_checkpoint": "deepshrink.train.checkpoint",
    "load_checkpoint": "deepshrink.train.checkpoint",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
