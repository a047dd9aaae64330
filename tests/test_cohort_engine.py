"""Stacked training in the engine: a cohort of runs trained as one stacked network gives each run
the weights and metrics of the run alone, with per-run early stopping, clipping and divergence."""

from __future__ import annotations

import pytest
import torch
from test_train_support import synthetic_dataset

from deepshrink.errors import ConfigError
from deepshrink.models import create_model
from deepshrink.models.stacked import stack_models
from deepshrink.train.config import TrainConfig
from deepshrink.seeds import seed_everything
from deepshrink.train.engine import Trainer, TrainingDiverged
from deepshrink.train.prepare import prepare_data

torch.set_num_threads(1)

MODEL = "drsn_cw_paper6"
RUNS = [dict(seed=0, noise="gaussian", snr=-5.0), dict(seed=1, noise="pink", snr=0.0), dict(seed=2, noise="laplacian", snr=5.0)]


def cfg_for(run, **overrides) -> TrainConfig:
    values = dict(model=MODEL, data="synthetic", epochs=4, batch_size=16, device="cpu", progress="off",
                  test_fraction=0.25, val_fraction=0.0, lr=0.05, **run)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset()


def _model(seed):
    seed_everything(seed)
    return create_model(MODEL, num_classes=4).double()


def _alone(cfg, data):
    trainer = Trainer(cfg, _model(cfg.seed), data.train, data.val)
    try:
        trainer.fit()
    except TrainingDiverged:
        return trainer, "diverged"
    return trainer, "finished" if not trainer.stopped_early else "stopped"


def _cohort(cfgs, datas, hook=None):
    stacked = stack_models([_model(c.seed) for c in cfgs])
    if hook is not None:
        stacked.fc.register_forward_hook(hook)
    trainer = Trainer(cfgs[0], stacked, [d.train for d in datas], [d.val for d in datas], seeds=[c.seed for c in cfgs])
    trainer.fit()
    return trainer


def _close_rows(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            x, y = ra[key], rb[key]
            assert (x != x and y != y) or abs(x - y) <= 1e-6, (key, x, y)


def _close_states(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            assert torch.allclose(a[k], b[k], atol=1e-6, rtol=0), k


@pytest.mark.parametrize("extra", [
    dict(),
    dict(val_fraction=0.25, early_stopping=1, monitor="val_acc", keep="best", grad_clip=0.3),
    dict(noise_protocol="fresh", normalize="per_sample", recipe="adamw", lr=3e-3, label_smoothing=0.1),
    dict(val_fraction=0.25, early_stopping=1, monitor="val_acc", keep="best", ema_decay=0.9),
])  # fmt: skip
def test_cohort_slices_equal_the_runs_alone(dataset, extra):
    cfgs = [cfg_for(r, **extra) for r in RUNS]
    datas = [prepare_data(c, dataset) for c in cfgs]
    cohort = _cohort(cfgs, datas)
    epochs = []
    for i, (cfg, data) in enumerate(zip(cfgs, datas)):
        alone, status = _alone(cfg, data)
        result = cohort.slice_result(i)
        assert result["status"] == status
        _close_rows(result["history"], alone.history)
        kept = alone.best_state if alone.keeps_best() else {k: v for k, v in alone.model.state_dict().items()}
        _close_states(result["state"], kept)
        epochs.append(len(alone.history))
    if "early_stopping" in extra:  # per-run early stopping really happened for some run, at its own epoch
        assert min(epochs) < 4, epochs


def test_a_diverged_slice_is_frozen_and_the_others_go_on(dataset):
    cfgs = [cfg_for(r, epochs=3) for r in RUNS]
    datas = [prepare_data(c, dataset) for c in cfgs]
    steps = len(datas[0].train) // 16
    calls = {"n": 0}

    def poison(module, inputs, output):
        if module.training:
            calls["n"] += 1
            if calls["n"] == steps + 2:  # epoch 2, step 2, slice 1 only
                output = output.clone()
                output.view(output.shape[0], 3, -1)[:, 1] = float("nan")
                return output
        return output

    cohort = _cohort(cfgs, datas, hook=poison)
    assert [r.status for r in cohort.slices] == ["training", "diverged", "training"]
    bad = cohort.slice_result(1)
    assert bad["status"] == "diverged" and bad["state"] is None
    assert f"loss became nan at epoch 2, step 2 of {steps}" in bad["message"]
    assert len(bad["history"]) == 1  # epoch 1 only: nothing recorded after the divergence
    for i in (0, 2):
        alone, status = _alone(cfgs[i], datas[i])
        assert status == "finished"
        _close_rows(cohort.slice_result(i)["history"], alone.history)
        _close_states(cohort.slice_result(i)["state"], alone.model.state_dict())


def test_cohort_needs_one_dataset_and_seed_per_slice(dataset):
    cfgs = [cfg_for(r) for r in RUNS[:2]]
    datas = [prepare_data(c, dataset) for c in cfgs]
    stacked = stack_models([_model(c.seed) for c in cfgs])
    with pytest.raises(ConfigError, match="needs 2 training sets"):
        Trainer(cfgs[0], stacked, [datas[0].train], None, seeds=[0, 1])
