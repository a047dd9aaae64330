"""deepshrink.sklearn.DRSNClassifier: scikit-learn's estimator checks, clone, Pipeline,
GridSearchCV, accuracy on an easy synthetic task, labels, reproducibility, errors, saving."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import check_classifiers_train, parametrize_with_checks  # noqa: E402

import deepshrink  # noqa: E402
from deepshrink.sklearn import DRSNClassifier  # noqa: E402

torch.set_num_threads(1)

TINY = dict(epochs=3, batch_size=32, recipe="paper", device="cpu", num_threads=1)
"""The estimator-check configuration: fast (3 epochs, batch 32; the paper's SGD, which has no
warm-up, so 3 epochs learn)."""

EXPECTED_FAILED_CHECKS: dict[str, str] = {}
"""None: every check that applies passes (see the module docstring of deepshrink.sklearn)."""


# ---------------------------------------------------------------------- data
def sine_signals(n: int, *, length: int = 128, noise: float = 0.5, seed: int = 0, labels=("low", "mid", "high")):
    """Three classes of noisy sines (4, 9, 17 cycles per window), random phase: easy to separate."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 3
    rng.shuffle(codes)
    t = np.arange(length) / length
    cycles = np.array([4.0, 9.0, 17.0])[codes]
    x = np.sin(2 * np.pi * cycles[:, None] * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    x = x + noise * rng.standard_normal((n, length))
    return x.astype(np.float32), np.asarray(labels)[codes]


def stripe_images(n: int, *, seed: int = 0):
    """8x8 images, flattened to 64 features: horizontal (0) or vertical (1) stripes plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rng.shuffle(y)
    stripes = (np.arange(8) % 2).astype(np.float32)
    img = np.where(y[:, None, None] == 0, stripes[:, None], stripes[None, :]) * np.ones((n, 8, 8), np.float32)
    img = img + 0.4 * rng.standard_normal((n, 8, 8)).astype(np.float32)
    return img.reshape(n, 64), y


def to_images(X):
    """(N, 64) -> (N, 1, 8, 8): module level so the pipeline pickles."""
    return np.asarray(X).reshape(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def signals():
    x, y = sine_signals(150, seed=0)
    x_test, y_test = sine_signals(90, seed=1)
    return x, y, x_test, y_test


@pytest.fixture(scope="module")
def fitted(signals):
    x, y, _, _ = signals
    return DRSNClassifier("drsn_cw_paper6", epochs=8, batch_size=32, recipe="paper", random_state=0, device="cpu",
                          num_threads=1).fit(x, y)  # fmt: skip


# ---------------------------------------------------------------------- sklearn's own checks
@parametrize_with_checks(
    [DRSNClassifier("resnet_paper6", random_state=0, **TINY)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_classifiers_train_with_default_parameters():
    """The accuracy check (> 0.83 on blobs) passes with the defaults too (DRSN-CW-14, AdamW, 40 epochs)."""
    check_classifiers_train("DRSNClassifier", DRSNClassifier(device="cpu", num_threads=1))


# ---------------------------------------------------------------------- behaviour
def test_learns_easy_task_well_above_chance(fitted, signals):
    _, _, x_test, y_test = signals
    assert fitted.score(x_test, y_test) >= 0.9  # chance: 1/3
    assert fitted.model_.training is False
    assert fitted.n_iter_ == 8 and len(fitted.history_) == 8
    assert fitted.n_features_in_ == 128 and fitted.input_shape_ == (1, 128)


def test_predict_proba_rows_sum_to_one_and_match_predict(fitted, signals):
    _, _, x_test, _ = signals
    proba = fitted.predict_proba(x_test)
    assert proba.shape == (len(x_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-10)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(1)], fitted.predict(x_test))
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(x_test)), proba, atol=1e-10)


def test_string_labels_round_trip(fitted, signals):
    _, y, x_test, _ = signals
    assert fitted.classes_.tolist() == ["high", "low", "mid"]  # sorted, as LabelEncoder
    pred = fitted.predict(x_test)
    assert pred.dtype.kind == "U" and set(pred) <= {"low", "mid", "high"}


@pytest.mark.parametrize(
    "labels", [np.array([-1, 5, 7]), np.array([1.0, 2.0, 5.0]), np.array(["a", "b", "c"], dtype=object)]
)
def test_other_label_types(labels):
    x, y = sine_signals(60, seed=3, labels=labels)
    clf = DRSNClassifier("resnet_paper6", epochs=1, batch_size=32, random_state=0, device="cpu").fit(x, y)
    assert clf.classes_.tolist() == sorted(set(y.tolist()))
    assert clf.classes_.dtype == np.asarray(y).dtype
    assert set(clf.predict(x).tolist()) <= set(y.tolist())


def test_multichannel_input():
    x, y = sine_signals(64, seed=4)
    x3 = np.stack([x, -x, 0.5 * x], axis=1)  # (N, 3, L)
    clf = DRSNClassifier("drsn_cs_paper6", epochs=1, batch_size=32, random_state=0, device="cpu").fit(x3, y)
    assert clf.input_shape_ == (3, 128) and clf.n_features_in_ == 3
    assert clf.predict(x3).shape == (64,)
    with pytest.raises(ValueError, match="fitted on"):
        clf.predict(x3[:, :, :100])  # another length


def test_random_state_reproducible_and_global_rng_untouched(signals):
    x, y, x_test, _ = signals
    params = dict(epochs=2, batch_size=32, device="cpu", num_threads=1)
    np.random.seed(123)
    torch.manual_seed(123)
    before_np, before_torch = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    a = DRSNClassifier("drsn_cw_paper6", random_state=7, **params).fit(x, y)
    assert np.array_equal(np.random.get_state()[1], before_np) and torch.equal(torch.get_rng_state(), before_torch)
    b = DRSNClassifier("drsn_cw_paper6", random_state=7, **params).fit(x, y)
    c = DRSNClassifier("drsn_cw_paper6", random_state=8, **params).fit(x, y)
    sa, sb, sc = (m.model_.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    np.testing.assert_array_equal(a.predict_proba(x_test), b.predict_proba(x_test))
    # a RandomState instance is accepted too
    DRSNClassifier("resnet_paper6", random_state=np.random.RandomState(0), epochs=1, device="cpu").fit(x, y)


def test_clone_and_params(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_") and not hasattr(copy, "classes_")
    copy.set_params(model="resnet_paper6", epochs=5, model_args={"drop_rate": 0.1})
    assert copy.get_params()["model"] == "resnet_paper6" and copy.epochs == 5
    assert fitted.model == "drsn_cw_paper6"


def test_pipeline_reshapes_flat_rows_into_images():
    x, y = stripe_images(128, seed=0)
    x_test, y_test = stripe_images(64, seed=1)
    pipe = Pipeline([
        ("images", FunctionTransformer(to_images)),
        ("clf", DRSNClassifier("drsn_cw20_2d", model_args={"depths": (1, 1, 1)}, epochs=4, batch_size=32,
                               random_state=0, device="cpu", num_threads=1)),
    ])  # fmt: skip
    pipe.fit(x, y)
    assert pipe.score(x_test, y_test) >= 0.9
    assert pipe[-1].input_shape_ == (1, 8, 8)
    # the same flat rows straight into a 2-D model: a clear error that says what to do
    with pytest.raises(ValueError, match=r"2-D.*reshape"):
        DRSNClassifier("drsn_cw20_2d", epochs=1, device="cpu").fit(x, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(x_test), pipe.predict_proba(x_test))


def test_grid_search(signals):
    x, y, x_test, y_test = signals
    search = GridSearchCV(
        DRSNClassifier(batch_size=16, recipe="paper", random_state=0, device="cpu", num_threads=1),
        {"model": ["resnet_paper6", "drsn_cw_paper6"], "epochs": [1, np.int64(6)]},  # numpy ints are fine
        cv=2,
    )
    search.fit(x, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["epochs"] == 6  # 1 epoch of 4 steps learns little
    assert search.score(x_test, y_test) >= 0.8


def test_validation_and_early_stopping(signals):
    x, y, _, _ = signals
    clf = DRSNClassifier("resnet_paper6", epochs=30, batch_size=32, validation_fraction=0.2, early_stopping=2,
                         lr=1.0, random_state=0, device="cpu", num_threads=1).fit(x, y)  # fmt: skip
    assert all(np.isfinite(row["val_loss"]) for row in clf.history_)
    assert 1 <= clf.best_epoch_ <= clf.n_iter_ <= 30
    best = min(row["val_loss"] for row in clf.history_)
    assert clf.history_[clf.best_epoch_ - 1]["val_loss"] == best


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(recipe="sgd"), "recipe"),
        (dict(model="drsn_cw_papr"), "did you mean drsn_cw_paper"),
        (dict(model=None), "model"),
        (dict(model_args={"num_classes": 3}), "model_args"),
        (dict(model_args={"widht": 3}), "widht"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(early_stopping=3), "early_stopping.*validation_fraction"),
        (dict(normalize="global"), "normalize"),
        (dict(lr=-0.1), "lr"),
        (dict(lr=0), "lr"),
        (dict(weight_decay=float("nan")), "weight_decay"),
        (dict(num_threads=0), "num_threads"),
        (dict(ema_decay=1.0), "ema_decay"),
        (dict(ema_decay="0.9"), "ema_decay"),
        (dict(random_state=-1), "random_state"),
        (dict(device="tpu"), "tpu"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(params, match):
    x, y = sine_signals(12, length=32)
    with pytest.raises(ValueError, match=match):
        DRSNClassifier(**{"epochs": 1, **params}).fit(x, y)


def test_ema_decay_predicts_with_the_average_of_the_weights(signals):
    x, y, _, _ = signals
    common = dict(epochs=2, batch_size=32, recipe="paper", random_state=0, device="cpu", num_threads=1)
    plain = DRSNClassifier("resnet_paper6", **common).fit(x, y)
    averaged = DRSNClassifier("resnet_paper6", ema_decay=0.9, **common).fit(x, y)
    assert averaged.train_config_.ema_decay == 0.9 and plain.train_config_.ema_decay is None
    differ = [k for k, v in plain.model_.state_dict().items() if not torch.equal(v, averaged.model_.state_dict()[k])]
    assert differ and all(k.endswith(("weight", "bias", "running_mean", "running_var")) for k in differ)


def test_bad_data():
    x, y = sine_signals(12, length=32)
    clf = DRSNClassifier("resnet_paper6", epochs=1, device="cpu")
    with pytest.raises(ValueError, match="class"):
        clf.fit(x, np.zeros(12))
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(x, np.linspace(0, 1, 12))
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(bad, y)
    with pytest.raises(ValueError, match="1-D"):
        clf.fit(x[:, None, None, :], y)  # 4-D input for a 1-D model


def test_save_pretrained_round_trip(fitted, signals, tmp_path):
    _, _, x_test, _ = signals
    fitted.save_pretrained(tmp_path / "clf")
    model = deepshrink.from_pretrained(tmp_path / "clf")
    assert model.label_names == fitted.classes_.tolist()
    with torch.no_grad():
        proba = torch.softmax(model(torch.from_numpy(x_test[:, None])).double(), 1).numpy()
    np.testing.assert_allclose(proba, fitted.predict_proba(x_test), atol=1e-6)


@pytest.mark.parametrize("name", ["fcn", "drsn_cw_firm_paper6"])
def test_the_arena_models_fit_as_estimators(name):
    x, y = sine_signals(48, seed=5)
    clf = DRSNClassifier(name, epochs=1, batch_size=16, random_state=0, device="cpu").fit(x, y)
    assert clf.predict(x).shape == (48,) and np.allclose(clf.predict_proba(x).sum(1), 1.0, atol=1e-5)


def test_wdcnn_estimator_takes_its_length_from_the_data():
    x, y = sine_signals(24, seed=6, length=1024)
    clf = DRSNClassifier("wdcnn", epochs=1, batch_size=8, random_state=0, device="cpu").fit(x, y)
    assert clf.input_shape_[-1] == 1024 and clf.predict(x).shape == (24,)
