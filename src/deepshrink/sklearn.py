"""A scikit-learn classifier around deepshrink's models and training engine.

:class:`DRSNClassifier` fits any registered model (``drsn_cw_paper``, ``resnet_paper``,
``drsn_cw20_2d``, ...) on numpy arrays and plugs into scikit-learn: ``clone``,
``get_params`` / ``set_params``, ``Pipeline``, ``cross_val_score``, ``GridSearchCV``::

    from deepshrink.sklearn import DRSNClassifier

    clf = DRSNClassifier(random_state=0)   # DRSN-CW-14, AdamW, 40 epochs: the recommended defaults
    clf.fit(X_train, y_train)            # X: (N, C, L) or (N, L); y: any labels (ints, strings)
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)

Input shapes follow the model: a 1-D model takes ``(N, C, L)`` or ``(N, L)`` (one channel);
a 2-D model (``*_2d``) takes ``(N, C, H, W)`` or ``(N, H, W)``. Flat tabular rows for a 2-D
model (e.g. 64 pixels of an 8x8 digit) need reshaping first, e.g. with
``FunctionTransformer(lambda X: X.reshape(-1, 1, 8, 8))`` in a ``Pipeline``.

Training is :class:`deepshrink.train.engine.Trainer`, the engine behind ``deepshrink train``
(same optimiser, weight-decay groups, learning-rate schedule, reproducible shuffling,
divergence checks), run in memory on the arrays given to :meth:`DRSNClassifier.fit`: there is
no test split and no run folder (scikit-learn's own tools do the splitting). With
``validation_fraction > 0`` a stratified share of the training data is held out, the weights of
the best epoch (lowest validation loss) are kept, and ``early_stopping`` can stop the run.

Differences from ``deepshrink train`` and scikit-learn defaults worth knowing:

* ``batch_size`` is clipped to the number of training observations, and the last partial batch
  of an epoch is dropped (as in the engine), so every step sees exactly ``batch_size`` samples.
* ``fit`` restores the global RNG states (torch, numpy, ``random``) it found: the engine reseeds
  them every epoch, and an estimator should not change them behind the caller's back.
* ``random_state`` makes fits reproducible bit for bit on the CPU (the engine seeds model
  initialisation, shuffling and dropout); CUDA kernels are not all deterministic.
* ``model_`` stays on the device it was trained on; pickling copies it to the CPU, so a pickle
  made on a GPU machine loads anywhere.

scikit-learn's estimator checks: ``tests/test_sklearn.py`` runs the whole suite of
``parametrize_with_checks`` on a tiny configuration
(the paper's 6-unit ResNet, 3 epochs, batch 32), with no expected failures. That includes
``check_classifiers_train``'s accuracy bar (> 0.83 training accuracy on 2-feature blobs, i.e.
signals of length 2, which the tiny configuration passes), so the estimator
does not claim the ``poor_score`` tag, though it is meant for signals and images, not tabular
rows; a second test runs that check with the default parameters (DRSN-CW-14, AdamW, 40 epochs, batch 64).

Checks that do not apply and are skipped by scikit-learn itself: the ``sample_weight`` and
``class_weight`` checks (``fit`` takes neither), ``partial_fit``, sparse input (CNNs need dense
arrays), multi-label / multi-output targets, ``check_array_api_input`` (skipped unless
``SCIPY_ARRAY_API=1``; torch is used internally, numpy is what goes in and out).
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from deepshrink.data.dataset import TrainingData
from deepshrink.errors import DatasetError, DeepshrinkWarning
from deepshrink.models import create_model, model_config
from deepshrink.models.registry import input_too_short
from deepshrink.seeds import Purpose, derive_seed, seed_everything
from deepshrink.serialization import save_pretrained
from deepshrink.train.checkpoint import capture_rng, restore_rng
from deepshrink.train.config import RECIPES, TrainConfig, config_from_dict, resolve
from deepshrink.train.distributed import DistContext, resolve_device
from deepshrink.predict.batch import autocast_dtype, predict_logits
from deepshrink.train.engine import Trainer
from deepshrink.settings import declared

__all__ = ["DRSNClassifier"]

_RECIPES = tuple(RECIPES)  # the training settings' recipes and normalisations, not a second list
_NORMALIZE = declared(TrainConfig)["normalize"].choices


class _Tensors:
    """The minimal dataset the engine's Trainer needs (:class:`~deepshrink.data.dataset.TrainingData`):
    ``x``, ``y`` tensors and ``len``.

    Unlike :class:`~deepshrink.data.SignalDataset` it takes any number of spatial dims
    (images as well as signals); the arrays are validated by :meth:`DRSNClassifier.fit`.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return int(self.x.shape[0])


@contextlib.contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)`` (None: unchanged), then restore."""
    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _plain(value: Any) -> Any:
    """numpy scalars (e.g. from a ``np.arange`` grid) as Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def _validation_split(codes: np.ndarray, n_classes: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices: ``fraction`` of the observations held out, stratified when
    every class has at least 2 members (none held out at 0)."""
    n = codes.size
    if fraction <= 0:
        return np.arange(n), np.empty(0, dtype=np.int64)
    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 2:
        raise ValueError(
            f"validation_fraction={fraction} leaves {n - n_val} training and {n_val} validation observations "
            f"of {n}; need at least 2 and 1"
        )
    counts = np.bincount(codes)
    stratify = codes if counts.min() >= 2 and n_val >= n_classes and n - n_val >= n_classes else None
    split_seed = derive_seed(seed, Purpose.ESTIMATOR_SPLIT)
    train_idx, val_idx = train_test_split(np.arange(n), test_size=n_val, random_state=split_seed, stratify=stratify)
    return np.sort(train_idx), np.sort(val_idx)


class DRSNClassifier(ClassifierMixin, BaseEstimator):
    """A deepshrink network as a scikit-learn classifier.

    Args:
        model: a registered model name (``deepshrink.list_models()``). The default,
            ``"drsn_cw14_1d"`` (DRSN-CW at ResNet-14 widths, 16/32/64 channels), with AdamW, 40
            epochs and batch 64, is the recommended network of docs/results.md, section 8;
            ``"resnet14_1d"`` is its plain counterpart, ``"drsn_cw_paper"`` with
            ``recipe="paper"`` the paper's own network and recipe, ``"drsn_cw20_2d"`` one for images.
            On a large training set whose noise is fixed (FordA) the wider default fits the noise
            and the paper's network, 30 epochs of batch 128, does better (results.md, 8.2).
        epochs: number of training epochs.
        batch_size: mini-batch size (clipped to the training set size).
        lr: learning rate; None takes the recipe's (0.1 for ``paper``, 1e-3 for ``adamw``).
        recipe: ``"paper"`` (SGD momentum 0.9, lr / 10 at 40 % and 80 % of the epochs) or
            ``"adamw"`` (AdamW, 5 warm-up epochs, cosine decay).
        weight_decay: L2 on convolution and linear weights (not biases or BatchNorm); None takes
            the recipe's (1e-4 for ``paper``, 0.05 for ``adamw``).
        validation_fraction: share of the training data held out (stratified) to pick the best
            epoch and for early stopping; 0 keeps the last epoch.
        early_stopping: stop after this many epochs without a lower validation loss; 0 = off.
            Needs ``validation_fraction > 0``.
        ema_decay: keep an exponential moving average of the weights with this decay per step
            (e.g. 0.999) and predict with it; None: the weights themselves.
        normalize: ``"none"`` or ``"per_sample"`` (zero mean, unit variance per observation and
            channel, in training and prediction alike).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        num_threads: CPU threads torch uses during ``fit`` and ``predict`` (restored afterwards);
            None keeps torch's setting. On a busy machine 1 can be many times faster than the
            default (threads that wait on each other for a core).
        random_state: seed (int), ``numpy.random.RandomState`` or None (a fresh seed per fit).
        verbose: 0/False silent; 1/True one log line per epoch; 2 also a progress bar on a terminal.
        model_args: extra :class:`~deepshrink.models.ResidualNet` arguments overriding the
            preset, e.g. ``{"depths": (1, 1, 1)}`` or ``{"drop_rate": 0.2}``.

    Attributes:
        classes_: the class labels, sorted (any dtype ``y`` had: ints, strings, ...).
        n_features_in_: ``X.shape[1]`` as given to ``fit`` (channels of ``(N, C, L)``,
            features of ``(N, L)``), scikit-learn's convention.
        input_shape_: the shape of one observation as the model sees it, e.g. ``(1, 2048)``.
        model_: the trained network, in eval mode.
        history_: one dict per epoch: ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``,
            ``val_acc`` (NaN without validation), ``lr``, ``seconds``.
        n_iter_: number of epochs run (fewer than ``epochs`` after early stopping).
        best_epoch_: the epoch whose weights were kept (the last one without validation).
        train_config_: the resolved :class:`~deepshrink.train.TrainConfig` used.
    """

    def __init__(
        self,
        model: str = "drsn_cw14_1d",
        *,
        epochs: int = 40,
        batch_size: int = 64,
        lr: float | None = None,
        recipe: str = "adamw",
        weight_decay: float | None = None,
        validation_fraction: float = 0.0,
        early_stopping: int = 0,
        ema_decay: float | None = None,
        normalize: str = "none",
        device: str = "auto",
        num_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int | bool = False,
        model_args: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.recipe = recipe
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.ema_decay = ema_decay
        self.normalize = normalize
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose
        self.model_args = model_args

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):  # noqa: ANN204 (sklearn.utils.Tags)
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # (N, C, L) signals, (N, C, H, W) images too
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> tuple[dict[str, Any], int]:
        """Validate the parameters; return the model arguments and the spatial dims."""
        name = self.model
        if not isinstance(name, str):
            raise ValueError(f"model must be a registered model name (str), got {type(name).__name__} {name!r}")
        args = {} if self.model_args is None else self.model_args
        if not isinstance(args, dict):
            raise ValueError(f"model_args must be a dict of ResidualNet arguments or None, got {type(args).__name__}")
        clash = sorted({"in_channels", "num_classes", "input_length"} & set(args))
        if clash:
            raise ValueError(f"model_args must not set {', '.join(clash)}: the classifier takes them from the data")
        try:
            config = model_config(name, **args)
        except ValueError as err:  # ConfigError: unknown name or argument
            raise ValueError(f"model / model_args: {err}") from None
        for key in ("epochs", "batch_size"):
            value = _plain(getattr(self, key))
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        value = _plain(self.early_stopping)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
            raise ValueError(f"early_stopping must be a non-negative integer (patience in epochs), got {value!r}")
        value = _plain(self.ema_decay)
        if value is not None and (not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 < value < 1):
            raise ValueError(f"ema_decay must be a number in (0, 1) or None, got {value!r}")
        for key in ("lr", "weight_decay"):
            value = _plain(getattr(self, key))
            if value is not None and (
                not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value < 0
            ):
                raise ValueError(f"{key} must be a non-negative number or None, got {value!r}")
        if _plain(self.lr) == 0:
            raise ValueError("lr must be > 0 (or None for the recipe's)")
        if self.recipe not in _RECIPES:
            raise ValueError(f"recipe must be one of {list(_RECIPES)}, got {self.recipe!r}")
        if self.normalize not in _NORMALIZE:
            raise ValueError(f"normalize must be one of {list(_NORMALIZE)}, got {self.normalize!r}")
        value = _plain(self.validation_fraction)
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 <= value < 1.0:
            raise ValueError(f"validation_fraction must be a number in [0, 1), got {value!r}")
        if self.early_stopping and not value:
            raise ValueError(
                f"early_stopping={self.early_stopping} needs a validation set: set validation_fraction > 0"
            )
        if not isinstance(self.device, str):
            raise ValueError(f"device must be a string ('auto', 'cpu', 'cuda', 'cuda:N'), got {self.device!r}")
        threads = _plain(self.num_threads)
        if threads is not None and (not isinstance(threads, numbers.Integral) or isinstance(threads, bool) or threads < 1):
            raise ValueError(f"num_threads must be a positive integer or None, got {self.num_threads!r}")
        verbose = _plain(self.verbose)
        if not isinstance(verbose, numbers.Integral) or verbose < 0:
            raise ValueError(f"verbose must be a bool or a non-negative int, got {self.verbose!r}")
        rs = self.random_state
        if isinstance(_plain(rs), numbers.Integral) and not isinstance(rs, bool) and not 0 <= _plain(rs) < 2**32:
            raise ValueError(f"random_state must be in [0, 2**32 - 1], a RandomState or None, got {rs!r}")
        return config, int(config.get("spatial_dims", 1))  # the field's baselines are 1-D and do not store it

    def _seed(self) -> int:
        rs = _plain(self.random_state)
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _as_model_input(self, X: np.ndarray, spatial_dims: int, where: str) -> np.ndarray:
        """``X`` with the channel axis the model needs: ``(N, C, *spatial)``."""
        if X.ndim == spatial_dims + 2:
            return X
        if X.ndim == spatial_dims + 1:
            return X[:, None]
        if spatial_dims == 1:
            want = "(N, C, L) or (N, L)"
        elif spatial_dims == 2:
            want = "(N, C, H, W) or (N, H, W); reshape flat rows first, e.g. FunctionTransformer(lambda X: X.reshape(-1, 1, 8, 8))"
        else:
            want = f"(N, C, *spatial) with {spatial_dims} spatial dims, or without C"
        raise ValueError(f"{where}: X has shape {X.shape}; model {self.model!r} is {spatial_dims}-D and takes {want}")

    def _validate_X(self, X: Any, *, reset: bool, y: Any = None) -> Any:
        """scikit-learn's checks of ``X`` (and ``y``); its multi-line messages (NaN, say) as one line."""
        kwargs = dict(allow_nd=True, dtype=[np.float32, np.float64], reset=reset)
        try:
            if y is None and not reset:
                return validate_data(self, X, **kwargs)
            return validate_data(self, X, y, **kwargs)
        except DatasetError:
            raise
        except ValueError as err:  # still a ValueError, as scikit-learn's estimator checks require
            raise DatasetError(" ".join(str(err).split()) or "invalid input") from None

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> "DRSNClassifier":
        """Train a new network on ``X``, ``y`` (any previous fit is discarded).

        Args:
            X: array-like ``(N, C, L)`` / ``(N, L)`` for 1-D models, ``(N, C, H, W)`` /
                ``(N, H, W)`` for 2-D models.
            y: ``(N,)`` class labels of any type (at least two classes).

        Returns:
            self.

        Raises:
            ValueError: a bad parameter (the message names it), or bad ``X`` / ``y`` (shape,
                NaN/Inf, fewer than two classes, continuous targets).
        """
        _, spatial_dims = self._check_params()
        X, y = self._validate_X(X, reset=True, y=y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError(
                f"y has 1 class ({classes[0]!r}); a classifier needs at least 2 classes in the training data"
            )
        codes = encoder.transform(y).astype(np.int64)
        X = self._as_model_input(X, spatial_dims, "fit")
        seed = self._seed()

        vf = float(_plain(self.validation_fraction))
        train_idx, val_idx = _validation_split(codes, len(classes), vf, seed)
        n_train = train_idx.size

        cfg = config_from_dict(
            dict(
                model=self.model, model_args=dict(self.model_args or {}), data="arrays", noise="none",
                normalize=self.normalize, recipe=self.recipe, epochs=int(_plain(self.epochs)),
                batch_size=int(min(int(_plain(self.batch_size)), n_train)), lr=_plain(self.lr),
                weight_decay=_plain(self.weight_decay), early_stopping=int(_plain(self.early_stopping)),
                ema_decay=None if self.ema_decay is None else float(_plain(self.ema_decay)), val_fraction=vf,
                monitor="val_loss", keep="best", seed=seed, device=self.device, num_threads=_plain(self.num_threads),
                progress=("bar" if int(self.verbose) >= 2 else "log") if self.verbose else "off",
            ),
            source="DRSNClassifier",
        )  # fmt: skip
        cfg = resolve(cfg)
        try:
            device = resolve_device(cfg.device)
        except ValueError as err:  # ConfigError: no CUDA, or no such GPU
            raise ValueError(f"device={self.device!r}: {str(err).split(' (use --device')[0]}") from None

        x_t = torch.from_numpy(np.array(X, dtype=np.float32, copy=True))
        y_t = torch.from_numpy(codes)
        train_set: TrainingData = _Tensors(x_t[train_idx], y_t[train_idx])
        val_set: TrainingData | None = _Tensors(x_t[val_idx], y_t[val_idx]) if val_idx.size else None

        rng_state = capture_rng()
        try:
            with _torch_threads(_plain(self.num_threads)):
                seed_everything(derive_seed(cfg.seed, Purpose.INIT))
                net = create_model(cfg.model, in_channels=X.shape[1], num_classes=len(classes), input_length=X.shape[-1],
                                   **cfg.model_args)
                problem = input_too_short(net, min(X.shape[2:]))
                if problem is not None:  # any length fits (sklearn's contract): say so, and fit
                    warnings.warn(f"DRSNClassifier: {problem}", DeepshrinkWarning, stacklevel=2)
                log = print if self.verbose else None
                trainer = Trainer(cfg, net, train_set, val_set, ctx=DistContext(device=device), log=log)
                if self.verbose:
                    log(
                        f"DRSNClassifier: {cfg.model}, {net.num_parameters():,} parameters, {n_train} training and "
                        f"{val_idx.size} validation observations, {len(classes)} classes, input {tuple(X.shape[1:])}, "
                        f"{trainer.steps_per_epoch} step(s) of {cfg.batch_size} per epoch, device {device}"
                    )
                history = trainer.fit()
        finally:
            restore_rng(rng_state)
        net = trainer.model
        best_epoch = len(history)
        if trainer.validating and trainer.best_state is not None:
            net.load_state_dict(trainer.best_state)
            best_epoch = int(trainer.best["epoch"])
        net.eval()

        self.classes_ = classes
        self.input_shape_ = tuple(int(s) for s in X.shape[1:])
        self.model_ = net
        self.history_ = [dict(row) for row in history]
        self.n_iter_ = len(history)
        self.best_epoch_ = best_epoch
        self.train_config_ = cfg
        return self

    # ------------------------------------------------------------------ predict
    def _logits(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "model_")
        X = self._validate_X(X, reset=False)
        X = self._as_model_input(X, len(self.input_shape_) - 1, "predict")
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has observations of shape {tuple(X.shape[1:])}, but DRSNClassifier was fitted on "
                f"{self.input_shape_}"
            )
        device = next(self.model_.parameters()).device
        x = torch.from_numpy(np.array(X, dtype=np.float32, copy=True))
        with _torch_threads(_plain(self.num_threads)):
            return predict_logits(self.model_, x, batch_size=512, device=device, normalize=self.train_config_.normalize,
                                  amp_dtype=autocast_dtype(self.train_config_.amp, device))  # fmt: skip

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` (softmax of the network's outputs), columns in ``classes_`` order."""
        logits = self._logits(X).to(torch.float64)
        return torch.softmax(logits, dim=1).numpy()

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba` (computed stably from the logits)."""
        logits = self._logits(X).to(torch.float64)
        return torch.log_softmax(logits, dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each observation, as labels from ``classes_``.

        ``X`` must have the layout and observation shape of the training data (``(N, L)`` if
        fitted on ``(N, L)``, ``(N, C, L)`` if fitted on that), as scikit-learn's checks require.
        """
        codes = self._logits(X).argmax(1).numpy()  # checks fitted-ness first
        return self.classes_[codes]

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, directory: Any) -> Any:
        """Write the fitted network as ``config.json`` + ``model.safetensors`` (see
        :func:`deepshrink.serialization.save_pretrained`); the class labels are stored as text in
        ``label_names``, so ``deepshrink predict`` and :func:`deepshrink.from_pretrained` can use it."""
        check_is_fitted(self, "model_")
        return save_pretrained(
            self.model_, directory, label_names=[str(c) for c in self.classes_],
            input_spec={"length": self.input_shape_[-1], "shape": list(self.input_shape_), "normalize": self.train_config_.normalize},
            extra={"train_config": self.train_config_.to_dict(), "estimator": "deepshrink.sklearn.DRSNClassifier"},
        )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        model = state.get("model_")
        if model is not None and any(p.device.type != "cpu" for p in model.parameters()):
            state = dict(state)
            state["model_"] = copy.deepcopy(model).cpu()
        return state
