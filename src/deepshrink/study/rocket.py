"""MiniRocket (Dempster, Schmidt & Webb, KDD 2021) as a study model: the field's fast non-neural baseline.

MiniRocket convolves each series with 84 fixed kernels at many dilations, keeps the share of
positive values (PPV) of each output as a feature (about 10,000 of them) and fits a ridge
classifier with cross-validated regularisation. It needs no GPU and no epochs, and is close to
the state of the art on the UCR archive, so a network that does not beat it under noise is not
worth its training time. We run aeon's implementation (``pip install "deepshrink[rocket]"``).

In a study, ``minirocket`` is a model name like the networks': the same cells, seeds, splits,
noise and normalisation (each run's data is prepared exactly as a network's run of that cell
would be). What differs, and is said so here: there are no epochs, so ``fresh`` training
noise is drawn once; a ``clean``-protocol cell refits on the clean training set (cheap,
deterministic) instead of loading a saved model; ``seconds`` is the fit time, and
``predict_seconds`` the time to predict the test set. The random kernels' seed is the run's
seed, so repetitions differ by split, noise and kernels, as networks' do by split, noise and init.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from deepshrink.errors import ConfigError
from deepshrink.study.results import result_row
from deepshrink.study.spec import FEATURE_MODELS, RunSpec, StudySpec, fold_dataset, run_config
from deepshrink.predict.batch import normalize_batch
from deepshrink.seeds import Purpose, derive_seed
from deepshrink.train.metrics import classification_report
from deepshrink.train.prepare import load_data_spec, prepare_data

__all__ = ["as_arrays", "is_rocket", "require_aeon", "run_rocket"]

INSTALL_HINT = 'pip install "deepshrink[rocket]"  (or: pip install aeon)'


def is_rocket(name: Any) -> bool:
    """Whether ``name`` is a non-neural study model."""
    return isinstance(name, str) and name in FEATURE_MODELS


def require_aeon() -> Any:
    """aeon's ``MiniRocketClassifier``; a one-line ConfigError saying how to install it otherwise."""
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError:
        raise ConfigError(f"model 'minirocket' needs the optional package aeon: {INSTALL_HINT}") from None
    return MiniRocketClassifier


def as_arrays(part: Any, normalize: str) -> tuple[np.ndarray, np.ndarray]:
    """(x float32 (N, C, L), y) of a prepared part, standardised like a network's batches."""
    x = normalize_batch(part.x.float(), normalize)
    return np.ascontiguousarray(x.numpy(), dtype=np.float32), part.y.numpy()


def _parts(spec: StudySpec, run: RunSpec, dataset: Any) -> tuple[Any, Any]:
    """The run's noisy training set and test set, as a network's run of the same cell gets them."""
    cfg = run_config(spec, run)
    ds = dataset if dataset is not None else load_data_spec(spec.data, spec.data_args, cfg.split)
    if run.fold is not None:
        ds = fold_dataset(ds, spec.folds, run.fold, run.seed)
    data = prepare_data(cfg, ds)  # a clean cell: run_config gives its clean run's config
    if run.trains:
        return data.train, data.test
    test_cfg = run_config(spec, dataclasses.replace(run, protocol="fixed"))  # the fixed-protocol test noise
    return data.train, prepare_data(test_cfg, ds).test


_FITTED: dict[tuple[str, str], tuple[Any, float, float]] = {}
"""MiniRocket fitted on a clean run's training set, by (study setup, clean run id): the cells of the
clean protocol test one fit at every noise level, as the networks' cells test one trained model
(a refit per cell gives the same model and costs a whole fit)."""
_KEEP_FITTED = 16  # a worker's clean runs whose cells are still to come (a few seeds); the oldest goes first


def run_rocket(spec: StudySpec, run: RunSpec, *, dataset: Any = None, num_threads: int | None = None) -> dict[str, Any]:
    """Fit and test MiniRocket on one run's data; returns its ``results.csv`` row (no run folder).

    Args:
        spec: the study.
        run: a run whose model is ``minirocket``.
        dataset: the study's clean dataset (loaded from ``spec.data`` when None).
        num_threads: aeon's ``n_jobs`` (None: 1, so that study workers never oversubscribe the cores).

    A clean-protocol cell reuses the fit of its clean run when this process made it (:data:`_FITTED`).
    """
    classifier = require_aeon()
    started = time.perf_counter()
    train, test = _parts(spec, run, dataset)
    x_train, y_train = as_arrays(train, run.normalize)
    x_test, y_test = as_arrays(test, run.normalize)
    key = (spec.setup_hash(), run.clean_run.run_id) if not run.trains else None  # a clean cell: its clean run's fit
    if key is not None and key in _FITTED:
        clf, train_acc, fit_seconds = _FITTED[key]
    else:
        clf = classifier(random_state=derive_seed(run.seed, Purpose.INIT) % (2**31), n_jobs=int(num_threads or 1))
        t0 = time.perf_counter()
        clf.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - t0
        train_acc = float(np.mean(clf.predict(x_train) == y_train))
        if key is not None:
            while len(_FITTED) >= _KEEP_FITTED:
                _FITTED.pop(next(iter(_FITTED)))  # the oldest fit
            _FITTED[key] = (clf, train_acc, fit_seconds)
    t0 = time.perf_counter()
    pred = clf.predict(x_test)
    predict_seconds = time.perf_counter() - t0
    report = classification_report(y_test, pred, train.label_names)
    row = result_row(spec, run, history=[{"train_acc": train_acc, "seconds": fit_seconds}], report=report,
                     model=None, n_train=len(y_train), total_seconds=time.perf_counter() - started)  # fmt: skip
    row.update(epochs=0, device="cpu", num_classes=len(train.label_names), predict_seconds=round(predict_seconds, 3))
    return row

