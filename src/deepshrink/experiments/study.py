"""The noise-robustness study: models x noise kinds x SNRs x seeds (or folds), resumable and shardable.

A study is described by a YAML file (or a preset, see :mod:`deepshrink.experiments.presets`)::

    name: my-study
    data: simulator                 # any spec load_dataset reads: simulator, ucr:FordA, a path ...
    data_args: {recordings_per_condition: 3, windows_per_recording: 12, window: 1024}
    models: [resnet_paper, drsn_cs_paper, drsn_cw_paper]
    noises: [gaussian, laplacian, pink]
    snrs: [-5, 0]
    seeds: [0, 1, 2]                # one run per seed (its own split by recording, noise, init) ...
    folds: 0                        # ... or k > 1: k-fold cross-validation by recording
    noise_protocol: fixed           # study axes: one value or a list (see below)
    normalize: none
    split: recording
    train: {epochs: 10, batch_size: 64, recipe: paper, test_fraction: 0.34, val_fraction: 0}

Every (model, noise, SNR, seed or fold) is one training run (:func:`deepshrink.train.train`)
with noise of that kind at that SNR added to its training and test signals, for every value of
the three **study axes** (each a value or a list; every report shows them):

* ``noise_protocol``: ``fixed`` (noise drawn once, the paper's), ``fresh`` (training noise
  redrawn every epoch) or ``clean`` (train once on clean signals, test that model at every
  noise kind and SNR: the protocol of the WDCNN line of work; the clean run is a cell too);
* ``normalize``: ``none`` (the raw signal, as the paper: it states no normalisation) or
  ``per_sample`` (each window standardised after the noise: the control that tells denoising
  from the amplitude normalisation τ = α·mean|x| also performs);
* ``split``: ``recording`` (leak-free), ``window`` (the paper's random split of windows:
  **leaky**, marked so in every table and figure), ``condition`` or ``predefined``.

A run's id carries its non-default axis values (``...-std-window-trainclean-seed0``). The
study folder::

    OUT/
      study.yaml        the study as run (a later call on OUT must describe the same setup)
      results.csv       one row per finished run, appended as each run finishes (keyed by run_id)
      runs/<run_id>/    each run's folder (config.yaml, model.safetensors, last.ckpt, test report)
      report.md, summary.csv, figures/*.png      written when every run of the study is done

Cohorts: runs of one model share every training setting, so the runner trains up to ``stack``
of them together as one stacked network (:mod:`deepshrink.models.stacked`, ``--stack S``;
``--stack 1`` trains them one by one). Each run keeps its own split, noise, initialisation,
shuffle and seed, and ends with the weights it would have trained alone; it still gets its own
row and an ordinary run folder. A cohort's checkpoint lives in ``OUT/cohorts/<id>/last.ckpt``
until all its runs are written.

Resuming: a run whose ``run_id`` is in ``results.csv`` is skipped; an unfinished run with a
``last.ckpt`` continues from it, an unfinished cohort from its checkpoint (mid-epoch too). Sharding: process ``i`` of ``n`` (``--shard i/n``, or
``RANK`` / ``WORLD_SIZE`` under torchrun) takes cohorts ``i, i + n, i + 2n, ...`` of the study's
cohort list (runs, with ``--stack 1``); all processes append to the one ``results.csv`` (under a file lock), and whichever
finds the study complete writes the report (or run ``deepshrink benchmark OUT --report``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepshrink.errors import ConfigError
from deepshrink.serialization import named_os_error

__all__ = [
    "StudySpec",
    "RunSpec",
    "RESULT_COLUMNS",
    "study_from_dict",
    "load_study",
    "study_to_yaml",
    "expand_runs",
    "parse_shard",
    "shard_runs",
    "run_config",
    "run_one",
    "run_cohort",
    "plan_cohorts",
    "default_stack",
    "run_study",
    "read_results",
    "append_result",
    "StudyProgress",
]

NOISE_KINDS = ("none", "gaussian", "laplacian", "uniform", "pink", "brown")
# TrainConfig keys the study sets per run; a study's ``train:`` mapping may not set them.
_STUDY_KEYS = frozenset({"model", "data", "data_args", "noise", "snr", "seed", "noise_protocol", "normalize", "split"})


def _choices(key: str) -> tuple[str, ...]:
    """The allowed values of a :class:`~deepshrink.train.TrainConfig` key (its ``Literal`` type)."""
    import typing

    from deepshrink.train.config import TrainConfig

    return tuple(typing.get_args(typing.get_type_hints(TrainConfig)[key]))


AXES = ("noise_protocol", "normalize", "split")
"""The study axes: study keys that take a value or a list, crossed with the grid."""
AXIS_DEFAULTS = {"noise_protocol": "fixed", "normalize": "none", "split": "recording"}
# the run-id tag of each non-default axis value
_TAGS = {"per_sample": "std", "fresh": "fresh", "clean": "trainclean"}
LEAKY_SPLITS = frozenset({"window"})
"""Splits that put windows of one recording on both sides (reports mark them leaky)."""


def axis_choices(axis: str) -> tuple[str, ...]:
    """The values a study axis takes (``noise_protocol`` adds ``clean`` to the training protocols)."""
    return _choices(axis) + (("clean",) if axis == "noise_protocol" else ())

RESULT_COLUMNS = (
    "run_id", "model", "noise", "snr_db", "seed", "fold", "train_acc", "test_acc", "test_macro_f1",
    "test_loss", "seconds", "total_seconds", "epochs", "parameters", "n_train", "n_test",
    "noise_protocol", "data", "device", "finished", "num_classes", "status", "stack", "normalize", "split",
)  # fmt: skip
"""Columns of ``results.csv``. ``train_acc`` is the running accuracy of the last epoch on the
noisy training set (as the paper's training accuracy); ``seconds`` the training time (the sum
of the epochs, Table V), ``total_seconds`` the whole run including data and test; for a run
trained in a cohort of ``stack`` runs (one stacked network) both are the cohort's times divided
by ``stack``. ``status`` is ``finished``, ``stopped`` (early stopping) or ``diverged`` (NaN/Inf;
no test numbers, left out of the report). ``noise_protocol``, ``normalize`` and ``split`` are the
run's study axes; a ``clean``-protocol cell tested at a noise level is an evaluation of its clean
run (it repeats that run's train numbers, its ``seconds`` are 0)."""


# ---------------------------------------------------------------------- the study spec
@dataclass
class StudySpec:
    """A study: the grid of runs and the training settings shared by all of them.

    Attributes:
        name: a label for reports.
        models: registered model names (``deepshrink models``).
        noises: noise kinds (``gaussian``, ``laplacian``, ``pink``, ``uniform``, ``brown``, ``none``).
        snrs: SNRs in dB; each run trains and tests at one of them (ignored for ``none``).
        seeds: repetitions; each seed draws its own split (``split: recording``), noise and
            initialisation. With ``folds`` the seed fixes the fold assignment and noise.
        folds: 0 (repetitions are ``seeds``) or k >= 2: k-fold cross-validation over
            recordings (:func:`deepshrink.data.kfold_by_recording`), one run per fold and seed.
        run_folds: with ``folds``, run only these fold indices (e.g. ``[0, 1, 2]`` of 10).
        data: dataset spec for :func:`deepshrink.data.load_dataset`.
        data_args: loader keyword arguments.
        noise_protocol: study axis: ``fixed`` (noise added once, the paper's), ``fresh`` (per
            epoch), ``clean`` (trained clean, tested at every noise kind and SNR).
        normalize: study axis: ``none`` or ``per_sample`` (per-window standardisation).
        split: study axis: ``recording``, ``window`` (leaky), ``condition``, ``predefined``.
        train: any other :class:`~deepshrink.train.TrainConfig` keys (epochs, batch_size,
            recipe, test_fraction, val_fraction, lr, ...).
        description: free text for the report.
    """

    models: list[str]
    noises: list[str]
    snrs: list[float]
    seeds: list[int] = field(default_factory=lambda: [0])
    folds: int = 0
    run_folds: list[int] | None = None
    data: str = "simulator"
    data_args: dict[str, Any] = field(default_factory=dict)
    noise_protocol: list[str] = field(default_factory=lambda: ["fixed"])
    normalize: list[str] = field(default_factory=lambda: ["none"])
    split: list[str] = field(default_factory=lambda: ["recording"])
    train: dict[str, Any] = field(default_factory=dict)
    name: str = "study"
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values (YAML/JSON friendly), in declaration order."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def setup_hash(self) -> str:
        """Hash of what every run shares (data, training settings, folds), not the grid or the axes.

        Two studies with the same setup hash may share a folder: adding a model, a noise kind,
        an SNR, a seed or an axis value to a finished study only runs the new cells. Runtime keys of ``train``
        (``compile``, ``device``, ``num_threads``, ...) may change between calls.
        """
        from deepshrink.train.config import RUNTIME_KEYS

        d = self.to_dict()
        keep = {k: d[k] for k in SETUP_KEYS}
        keep["train"] = {k: v for k, v in keep["train"].items() if k not in RUNTIME_KEYS}  # e.g. compile, device
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


_SPEC_FIELDS = {f.name for f in dataclasses.fields(StudySpec)}
SETUP_KEYS = ("data", "data_args", "train", "folds")
"""The study keys every run shares (a folder holds one setup; see :meth:`StudySpec.setup_hash`)."""


def _as_list(value: Any, key: str, where: str) -> list[Any]:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)) and value:
        return list(value)
    raise ConfigError(f"{where}: key {key!r} must be a non-empty list, got {value!r}")


def _parse_snrs(value: Any, where: str) -> list[float]:
    if isinstance(value, str):
        from deepshrink.train.config import parse_snr

        parsed = parse_snr(value, f"{where}: key 'snrs'")
        if isinstance(parsed, tuple):
            raise ConfigError(f"{where}: key 'snrs' must list SNRs ('-5:5:1' or '-5,0'), not a range {value!r}")
        return [float(v) for v in ([parsed] if isinstance(parsed, float) else parsed)]
    from deepshrink.train.config import parse_snr

    out = []
    for v in _as_list(value, "snrs", where):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{where}: key 'snrs' must hold numbers, got {v!r}")
        out.append(float(parse_snr(v, f"{where}: key 'snrs'")))  # the range check of every SNR
    return out


def study_from_dict(values: dict[str, Any], *, source: str = "study") -> StudySpec:
    """Build and check a :class:`StudySpec` from a mapping (parsed YAML or a preset).

    Checks model names, noise kinds, SNRs, seeds, folds and the ``train`` keys (against
    :class:`~deepshrink.train.TrainConfig`), so that a mistake fails before the first run.

    Raises:
        ConfigError: naming ``source`` and the key at fault.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: a study must be a mapping of key: value, got {type(values).__name__}")
    unknown = sorted(set(values) - _SPEC_FIELDS)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(_SPEC_FIELDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{source}: unknown key {unknown[0]!r}{hint} (keys: {', '.join(sorted(_SPEC_FIELDS))})")
    for key in ("models", "noises", "snrs"):
        if key not in values:
            raise ConfigError(f"{source}: key {key!r} is required")
    from deepshrink.models import list_models

    models = [str(m) for m in _as_list(values["models"], "models", source)]
    known = set(list_models())
    for m in models:
        if m not in known:
            import difflib

            close = difflib.get_close_matches(m, sorted(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{source}: key 'models': unknown model {m!r}{hint}")
    noises = [str(n) for n in _as_list(values["noises"], "noises", source)]
    for n in noises:
        if n not in NOISE_KINDS:
            raise ConfigError(f"{source}: key 'noises': unknown noise kind {n!r} (one of {', '.join(NOISE_KINDS)})")
    snrs = _parse_snrs(values["snrs"], source)
    seeds = _as_list(values.get("seeds", [0]), "seeds", source)
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"{source}: key 'seeds' must hold non-negative integers, got {seeds!r}")
    folds = values.get("folds", 0) or 0
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0 or folds == 1:
        raise ConfigError(f"{source}: key 'folds' must be 0 (use seeds) or an integer >= 2, got {folds!r}")
    run_folds = values.get("run_folds")
    if run_folds is not None:
        if not folds:
            raise ConfigError(f"{source}: key 'run_folds' needs 'folds' >= 2")
        run_folds = _as_list(run_folds, "run_folds", source)
        if any(isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < folds for f in run_folds):
            raise ConfigError(f"{source}: key 'run_folds' must hold fold indices in [0, {folds}), got {run_folds!r}")
    axes = {}
    for axis in AXES:
        axes[axis] = [str(v) for v in _as_list(values.get(axis, AXIS_DEFAULTS[axis]), axis, source)]
        allowed = axis_choices(axis)
        bad = [v for v in axes[axis] if v not in allowed]
        if bad:
            raise ConfigError(f"{source}: key {axis!r}: unknown value {bad[0]!r} (one of {', '.join(allowed)})")
        if len(set(axes[axis])) != len(axes[axis]):
            raise ConfigError(f"{source}: key {axis!r} lists a value twice: {axes[axis]!r}")
    if folds and axes["split"] != ["recording"]:
        raise ConfigError(f"{source}: 'folds' splits by recording; key 'split' must be 'recording', got {axes['split']!r}")
    train = values.get("train") or {}
    if not isinstance(train, dict):
        raise ConfigError(f"{source}: key 'train' must be a mapping of TrainConfig keys, got {train!r}")
    clash = sorted(set(train) & _STUDY_KEYS)
    if clash:
        own = f"the study key {clash[0]!r}" if clash[0] in AXES else "the study's own keys"
        raise ConfigError(f"{source}: key 'train.{clash[0]}' is set by the study (use {own})")
    data_args = values.get("data_args") or {}
    if not isinstance(data_args, dict):
        raise ConfigError(f"{source}: key 'data_args' must be a mapping, got {data_args!r}")
    spec = StudySpec(
        models=models, noises=noises, snrs=snrs, seeds=[int(s) for s in seeds], folds=int(folds),
        run_folds=None if run_folds is None else [int(f) for f in run_folds], data=str(values.get("data", "simulator")),
        data_args=dict(data_args), train=dict(train), **axes,
        name=str(values.get("name", "study")), description=str(values.get("description", "")),
    )  # fmt: skip
    # the training keys: validated by building the config of one run per combination of axes
    firsts: dict[tuple[str, str, str], RunSpec] = {}
    for run in expand_runs(spec):
        firsts.setdefault((run.protocol, run.normalize, run.split), run)
    for run in firsts.values():
        try:
            run_config(spec, run)
        except ConfigError as err:
            raise ConfigError(f"{source}: key 'train': {err}") from None
    return spec


def load_study(source: str | os.PathLike) -> StudySpec:
    """A study from a preset name (``paper``, ``quick``, ``forda``, ``demo``) or a YAML file.

    Raises:
        ConfigError: unknown preset and no such file; bad YAML; a bad key.
    """
    from deepshrink.experiments.presets import PRESETS, get_preset

    text = str(source)
    if text in PRESETS and not Path(text).is_file():
        return study_from_dict(get_preset(text), source=f"preset {text!r}")
    path = Path(source)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such study file, and not a preset (presets: {', '.join(sorted(PRESETS))})"
        )
    from deepshrink.train.config import load_yaml

    values = load_yaml(path.read_text(encoding="utf-8"), str(path))  # duplicate keys, aliases, YAML 1.2
    return study_from_dict(values or {}, source=str(path))


def study_to_yaml(spec: StudySpec) -> str:
    """The study as YAML (readable by :func:`load_study`)."""
    from deepshrink.train.config import dump_yaml

    d = spec.to_dict()
    if d["run_folds"] is None:
        del d["run_folds"]
    return dump_yaml(d, width=100)


# ---------------------------------------------------------------------- the runs
@dataclass(frozen=True)
class RunSpec:
    """One run of a study: a model trained and tested at one noise kind and SNR."""

    model: str
    noise: str
    snr_db: float | None
    seed: int
    fold: int | None = None
    protocol: str = "fixed"
    normalize: str = "none"
    split: str = "recording"

    @property
    def run_id(self) -> str:
        """``<model>-<noise>-<snr>dB[-<axes>]-seed<s>[-fold<f>]``, e.g. ``drsn_cw_paper-pink-m5dB-seed0``;
        non-default axis values are tagged: ``-std`` (per_sample), ``-window``, ``-fresh``, ``-trainclean``."""
        if self.snr_db is None:
            level = "clean"
        else:
            v = float(self.snr_db)
            text = f"{abs(v):g}".replace(".", "p")
            level = f"{'m' if v < 0 else ''}{text}dB"
        tags = "".join(f"-{_TAGS.get(getattr(self, a), getattr(self, a))}" for a in ("normalize", "split", "protocol")
                       if getattr(self, a) != AXIS_DEFAULTS["noise_protocol" if a == "protocol" else a])  # fmt: skip
        tail = f"-seed{self.seed}" + ("" if self.fold is None else f"-fold{self.fold}")
        return f"{self.model}-{self.noise}-{level}{tags}{tail}"

    @property
    def trains(self) -> bool:
        """Whether this run trains a model (a ``clean``-protocol cell at a noise level only tests one)."""
        return self.protocol != "clean" or self.noise == "none"

    @property
    def clean_run(self) -> "RunSpec":
        """The run whose model this one tests (itself unless it is a ``clean``-protocol cell)."""
        return self if self.trains else dataclasses.replace(self, noise="none", snr_db=None)

    @property
    def leaky(self) -> bool:
        return self.split in LEAKY_SPLITS


def expand_runs(spec: StudySpec) -> list[RunSpec]:
    """Every run of the study, in a fixed order (repetition, axes, noise, SNR, model: the models of
    a cell run next to each other, so a partial study already compares them). A ``clean``
    protocol adds each model's clean run (noise ``none``) before the cells that test it."""
    reps: list[tuple[int, int | None]]
    if spec.folds:
        folds = spec.run_folds if spec.run_folds is not None else list(range(spec.folds))
        reps = [(s, f) for s in spec.seeds for f in folds]
    else:
        reps = [(s, None) for s in spec.seeds]
    runs = []
    for seed, fold in reps:
        for protocol in spec.noise_protocol:
            for normalize in spec.normalize:
                for split in spec.split:
                    noises = (["none"] if protocol == "clean" else []) + [n for n in spec.noises
                                                                          if not (protocol == "clean" and n == "none")]  # fmt: skip
                    for noise in noises:
                        levels: Sequence[float | None] = [None] if noise == "none" else spec.snrs
                        for snr in levels:
                            for model in spec.models:
                                runs.append(RunSpec(model, noise, snr, seed, fold, protocol, normalize, split))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ConfigError("study: repeated runs (a model, noise kind, SNR or seed is listed twice)")
    return runs


def parse_shard(text: str | None = None) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)``; None: ``RANK`` / ``WORLD_SIZE`` from the environment, else ``(0, 1)``.

    Raises:
        ConfigError: malformed, or ``i`` not in ``[0, n)``.
    """
    if text is None:
        rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        if rank is None or world is None:
            return (0, 1)
        text = f"{rank}/{world}"
    try:
        i_text, n_text = str(text).split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ConfigError(f"--shard: expected I/N (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard: I must be in [0, N) and N >= 1, got {text!r}")
    return (i, n)


def shard_runs(runs: Sequence[RunSpec], shard: tuple[int, int]) -> list[RunSpec]:
    """Runs ``i, i + n, i + 2n, ...`` of ``runs`` for shard ``(i, n)``."""
    i, n = shard
    return list(runs[i::n])


def run_config(spec: StudySpec, run: RunSpec, **runtime: Any):
    """The :class:`~deepshrink.train.TrainConfig` of one run.

    Study defaults (the paper's protocol): no validation split (``val_fraction: 0``) and the
    last epoch's weights (``keep: last``); ``spec.train`` overrides them. With ``folds`` the
    run uses ``split: predefined`` on a copy of the data marked by
    :func:`deepshrink.data.kfold_by_recording` (see :func:`fold_dataset`).

    Args:
        runtime: runtime keys (``device``, ``num_threads``, ``progress``, ...).
    """
    from deepshrink.train.config import config_from_dict

    values: dict[str, Any] = {"val_fraction": 0.0, "keep": "last", "progress": "off"}
    values.update(spec.train)
    trained = run.clean_run  # a clean-protocol cell: the config of the clean run that made its model
    values.update(
        model=run.model, data=spec.data, data_args=dict(spec.data_args), noise=trained.noise,
        snr=None if trained.snr_db is None else float(trained.snr_db), seed=int(run.seed if run.fold is None else run.seed * 1000 + run.fold),
        noise_protocol="fixed" if run.protocol == "clean" else run.protocol, normalize=run.normalize, split=run.split,
    )  # fmt: skip
    if run.fold is not None:
        values["split"] = "predefined"
    values.update({k: v for k, v in runtime.items() if v is not None})
    return config_from_dict(values, source=f"run {run.run_id}")


def fold_dataset(ds: Any, folds: int, fold: int, seed: int) -> Any:
    """``ds`` with a ``split`` condition: ``test`` for the recordings of ``fold``, ``train`` otherwise."""
    import numpy as np

    from deepshrink.data import kfold_by_recording

    train_idx, test_idx = kfold_by_recording(ds, folds, seed=seed)[fold]
    marks = np.full(len(ds), "none", dtype=object)
    marks[train_idx] = "train"
    marks[test_idx] = "test"
    out = ds.subset(np.arange(len(ds)))
    out.conditions = {**out.conditions, "split": marks.astype(str)}
    return out


# ---------------------------------------------------------------------- results.csv
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on the hidden file ``.<name>.lock`` next to ``path`` (no-op
    where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = open(path.parent / f".{path.name}.lock", "a+")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        lock.close()


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def append_result(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Append one row to ``results.csv`` (header written first if the file is new), under a lock.

    A file written by an older version, whose header lacks some of :data:`RESULT_COLUMNS`,
    is first rewritten with the full header (its rows keep their values, the new columns get
    the values they implied: see :func:`read_results`), so no column of a new row is lost.
    """
    path = Path(path)
    with _locked(path):
        new = not path.exists() or path.stat().st_size == 0
        columns: Sequence[str] = RESULT_COLUMNS
        if not new:
            with open(path, newline="", encoding="utf-8") as f:
                columns = next(csv.reader(f), None) or RESULT_COLUMNS
            if set(RESULT_COLUMNS) - set(columns):
                _rewrite_with_header(path, list(columns) + [c for c in RESULT_COLUMNS if c not in columns])
                with open(path, newline="", encoding="utf-8") as f:
                    columns = next(csv.reader(f))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if new:
            writer.writerow(columns)
        writer.writerow([_fmt(row.get(c)) for c in columns])
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())


def _rewrite_with_header(path: Path, columns: list[str]) -> None:
    """Rewrite ``results.csv`` with ``columns`` (a superset of its header), atomically; the
    caller holds the lock."""
    from deepshrink.serialization import atomic_write

    with open(path, newline="", encoding="utf-8") as f:
        old = list(csv.DictReader(f))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for raw in old:
        filled = {**_IMPLIED, **{k: v for k, v in raw.items() if k is not None and v not in (None, "")}}
        writer.writerow([filled.get(c, "") for c in columns])
    atomic_write(path, buf.getvalue().encode("utf-8"))


# what a row of an older results.csv without these columns was
_IMPLIED = {"normalize": "none", "split": "recording", "noise_protocol": "fixed"}
_INT_COLUMNS = {"seed", "fold", "epochs", "parameters", "n_train", "n_test", "num_classes", "stack"}
_FLOAT_COLUMNS = {"snr_db", "train_acc", "test_acc", "test_macro_f1", "test_loss", "seconds", "total_seconds"}


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a ``results.csv`` (numbers parsed; empty cells None), the last row of each
    ``run_id`` winning. A missing file gives ``[]``."""
    path = Path(path)
    if not path.is_file():
        return []
    rows: dict[str, dict[str, Any]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            if not raw.get("run_id"):
                continue
            row: dict[str, Any] = dict(_IMPLIED)
            for key, text in raw.items():
                if key is None:
                    continue
                text = (text or "").strip()
                if key in _INT_COLUMNS:
                    row[key] = int(float(text)) if text else None
                elif key in _FLOAT_COLUMNS:
                    row[key] = float(text) if text else None
                elif text or key not in _IMPLIED:
                    row[key] = text
            rows[row["run_id"]] = row
    return list(rows.values())


# ---------------------------------------------------------------------- running
@contextlib.contextmanager
def _single_process_env() -> Iterator[None]:
    """Hide torchrun's variables: each shard trains its runs alone (no process group)."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT")
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def shard_device(device: str = "auto") -> str:
    """``auto`` under torchrun on a CUDA machine: ``cuda:LOCAL_RANK`` (one GPU per shard)."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        return f"cuda:{local % torch.cuda.device_count()}"
    return "cpu"


class _DataCache:
    """The clean dataset of a study, loaded once per process.

    With a folder, the dataset is also stored as ``folder/data-<hash>.npz`` the first time
    (under a lock, so parallel shards generate it once) and always read back from there: every
    run of the study, including runs resumed later with a changed simulator, sees the same
    signals, and each run's ``config.yaml`` points at that file, so ``deepshrink evaluate`` and
    ``deepshrink thresholds`` rebuild exactly the run's test set.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._key: str | None = None
        self._ds: Any = None
        self.path: Path | None = None

    def get(self, spec: StudySpec, cfg: Any) -> Any:
        from deepshrink.train.run import load_data_spec

        key = json.dumps([spec.data, spec.data_args, cfg.split == "predefined"], sort_keys=True)
        if key == self._key:
            return self._ds
        if self.folder is None:
            self._ds, self.path = load_data_spec(spec.data, spec.data_args, cfg.split), None
        else:
            from deepshrink.data import load_npz, save_npz

            self.folder.mkdir(parents=True, exist_ok=True)
            path = (self.folder / f"data-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz").resolve()
            with _locked(path):
                if not path.is_file():
                    ds = load_data_spec(spec.data, spec.data_args, cfg.split)
                    tmp = path.with_name(f".{path.stem}.tmp.npz")
                    try:
                        save_npz(ds, tmp)
                        os.replace(tmp, path)
                    except OSError as err:
                        tmp.unlink(missing_ok=True)
                        raise named_os_error(err, path) from None
            self._ds, self.path = load_npz(path), path
        self._key = key
        return self._ds


def run_one(
    spec: StudySpec,
    run: RunSpec,
    out_dir: str | os.PathLike,
    *,
    dataset: Any = None,
    data_file: str | os.PathLike | None = None,
    device: str = "auto",
    num_threads: int | None = None,
    save_runs: bool = True,
) -> dict[str, Any]:
    """Train and test one run; returns its ``results.csv`` row (not written here).

    Args:
        spec: the study.
        run: the run.
        out_dir: the study folder (the run folder is ``out_dir/runs/<run_id>``).
        dataset: the study's clean dataset (loaded from ``spec.data`` when None).
        data_file: the ``.npz`` file ``dataset`` was read from; the run's config then names it
            as its data, so the run folder rebuilds its own test set.
        device, num_threads: runtime settings of the run.
        save_runs: write the run folder (weights, checkpoint, test report); False trains in memory.
    """
    from deepshrink.train.run import load_data_spec, train

    started = time.perf_counter()
    cfg = run_config(spec, run, device=device, num_threads=num_threads)
    if data_file is not None:
        cfg = cfg.replace(data=str(data_file), data_args={})
    ds = dataset if dataset is not None else load_data_spec(spec.data, spec.data_args, cfg.split)
    if run.fold is not None:
        ds = fold_dataset(ds, spec.folds, run.fold, run.seed)
    run_dir = Path(out_dir) / "runs" / run.run_id
    kwargs: dict[str, Any] = {"dataset": ds, "console": False, "write": save_runs}
    if save_runs:
        if (run_dir / "last.ckpt").is_file():
            kwargs["resume"] = run_dir
        else:
            kwargs.update(output=run_dir, force=run_dir.exists())
    with _single_process_env():
        result = train(cfg, **kwargs)
    report = result.test_report or {}
    data_info = {}
    if result.run_dir is not None and (result.run_dir / "config.json").is_file():
        with contextlib.suppress(Exception):
            data_info = json.loads((result.run_dir / "config.json").read_text()).get("extra", {}).get("data", {})
    n_train = (data_info.get("observations") or {}).get("train")
    if n_train is None:  # no run folder: count the training part of the split
        from deepshrink.train.run import clean_parts

        n_train = len(clean_parts(cfg, ds)[0])
    return result_row(spec, run, history=result.history, report=report, model=result.model, n_train=n_train,
                      total_seconds=time.perf_counter() - started)  # fmt: skip


def result_row(
    spec: StudySpec,
    run: RunSpec,
    *,
    history: list[dict[str, Any]],
    report: dict[str, Any] | None,
    model: Any,
    n_train: int | None,
    total_seconds: float,
    status: str = "finished",
    stack: int = 1,
) -> dict[str, Any]:
    """The ``results.csv`` row of a run (see :data:`RESULT_COLUMNS`)."""
    report = report or {}
    last = history[-1] if history else {}
    params = None if model is None else sum(p.numel() for p in model.parameters())
    return {
        "run_id": run.run_id,
        "model": run.model,
        "noise": run.noise,
        "snr_db": run.snr_db,
        "seed": run.seed,
        "fold": run.fold,
        "train_acc": last.get("train_acc"),
        "test_acc": report.get("accuracy"),
        "test_macro_f1": report.get("macro_f1"),
        "test_loss": report.get("loss"),
        "seconds": round(sum(float(r.get("seconds", 0.0)) for r in history), 3),
        "total_seconds": round(total_seconds, 3),
        "epochs": len(history),
        "parameters": params,
        "n_train": n_train,
        "n_test": report.get("num_observations"),
        "noise_protocol": run.protocol,
        "normalize": run.normalize,
        "split": run.split,
        "data": spec.data,
        "device": None if model is None else str(next(model.parameters()).device),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "num_classes": getattr(model, "num_classes", None),
        "status": status,
        "stack": stack,
    }


# ---------------------------------------------------------------------- cohorts (stacked runs)
def _stackable(spec: StudySpec) -> bool:
    """Runs can share one stacked network exactly unless the model draws random numbers (dropout)."""
    return float((spec.train.get("model_args") or {}).get("drop_rate", 0.0) or 0.0) == 0.0


def plan_cohorts(spec: StudySpec, runs: Sequence[RunSpec], stack: int) -> list[list[RunSpec]]:
    """Group ``runs`` into cohorts of up to ``stack`` runs of one model and one value of each
    study axis (the rest of the training settings all runs share), in run order, as few and as
    even as possible; cohorts are ordered by their first run, so ``stack=1`` gives the runs one
    by one, in order. A study with dropout is never stacked. Only runs that train are planned
    (``clean``-protocol cells at a noise level test their clean run's model)."""
    if stack < 1:
        raise ConfigError(f"--stack must be >= 1, got {stack}")
    runs = [r for r in runs if r.trains]
    if stack == 1 or not _stackable(spec):
        return [[r] for r in runs]
    position = {r.run_id: k for k, r in enumerate(runs)}
    by_model: dict[tuple[str, str, str, str], list[RunSpec]] = {}
    for r in runs:
        by_model.setdefault((r.model, r.protocol, r.normalize, r.split), []).append(r)
    cohorts = []
    for rs in by_model.values():  # ceil(n / stack) cohorts of near-equal size (18 runs at 16: 9 + 9, not 16 + 2)
        k = -(-len(rs) // stack)
        bounds = [round(j * len(rs) / k) for j in range(k + 1)]
        cohorts += [rs[a:b] for a, b in zip(bounds, bounds[1:])]
    return sorted(cohorts, key=lambda c: position[c[0].run_id])


def _free_memory(device: str) -> int | None:
    try:
        if device.startswith("cuda"):
            import torch

            free, _ = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, RuntimeError, AttributeError):
        return None


def default_stack(device: str, dataset: Any | None = None, runs: int | None = None, *, share: int = 1) -> int:
    """The cohort size when ``--stack`` is not given: up to 16 runs on a CPU (measured: 2x the
    samples/s of one run on 2 cores) and 64 on a GPU (one small run is bound by kernel
    launches), as many as a quarter of the free memory holds (each run keeps about three
    copies of the data: clean split, noisy, and the cohort's on the device); ``share``
    processes splitting the memory."""
    cap = 64 if str(device).startswith("cuda") else 16
    if dataset is not None and hasattr(dataset, "x"):
        free = _free_memory(str(device))
        per_run = 3 * int(dataset.x.numel()) * 4
        if free and per_run:
            cap = min(cap, max(1, free // 4 // max(1, share) // per_run))
    if runs is not None:
        cap = min(cap, max(1, runs))
    return int(cap)


def _cohort_dir(out: Path, group: Sequence[RunSpec]) -> Path:
    ids = "\n".join(r.run_id for r in group)
    return out / "cohorts" / f"{group[0].model}-{hashlib.sha256(ids.encode()).hexdigest()[:12]}"


def run_cohort(
    spec: StudySpec,
    runs: Sequence[RunSpec],
    out_dir: str | os.PathLike,
    *,
    dataset: Any = None,
    data_file: str | os.PathLike | None = None,
    device: str = "auto",
    num_threads: int | None = None,
    save_runs: bool = True,
    done: set[str] | frozenset[str] = frozenset(),
    on_row: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train runs of one model together as stacked networks; returns the new ``results.csv`` rows.

    Runs whose training sets give different numbers of steps per epoch go to separate cohorts; a
    cohort of one is an ordinary run (:func:`run_one`). With ``save_runs`` the cohort's
    checkpoint is ``out_dir/cohorts/<model>-<hash of its run ids>/last.ckpt`` (a killed study
    resumes from it, mid-epoch too), removed when every run of the cohort is written; each run
    gets its ordinary folder ``out_dir/runs/<run_id>``.

    Args:
        done: run ids already in ``results.csv`` (they train with their cohort but are not written again).
        on_row: called with each run's row as soon as its folder is written (e.g. :func:`append_result`).
    """
    import shutil

    from deepshrink.train.run import clean_parts, load_data_spec, train_cohort

    emit = on_row or (lambda row: None)
    cfgs, dsets = [], []
    for run in runs:
        cfg = run_config(spec, run, device=device, num_threads=num_threads)
        if data_file is not None:
            cfg = cfg.replace(data=str(data_file), data_args={})
        ds = dataset if dataset is not None else load_data_spec(spec.data, spec.data_args, cfg.split)
        if run.fold is not None:
            ds = fold_dataset(ds, spec.folds, run.fold, run.seed)
        cfgs.append(cfg)
        dsets.append(ds)
    groups: dict[int, list[int]] = {}
    for k, (cfg, ds) in enumerate(zip(cfgs, dsets)):
        groups.setdefault(len(clean_parts(cfg, ds)[0]) // cfg.batch_size, []).append(k)
    rows: list[dict[str, Any]] = []
    for members in groups.values():
        if len(members) == 1:
            run = runs[members[0]]
            if run.run_id not in done:
                rows.append(run_one(spec, run, out_dir, dataset=dataset, data_file=data_file, device=device,
                                    num_threads=num_threads, save_runs=save_runs))  # fmt: skip
                emit(rows[-1])
            continue
        out = Path(out_dir)
        cohort_dir = _cohort_dir(out, [runs[k] for k in members]) if save_runs else None
        if cohort_dir is None or not (cohort_dir / "last.ckpt").is_file():  # nothing to resume: train only what is left
            members = [k for k in members if runs[k].run_id not in done]
            if not members:
                continue
            if len(members) == 1:
                rows.append(run_one(spec, runs[members[0]], out_dir, dataset=dataset, data_file=data_file,
                                    device=device, num_threads=num_threads, save_runs=save_runs))  # fmt: skip
                emit(rows[-1])
                continue
            cohort_dir = _cohort_dir(out, [runs[k] for k in members]) if save_runs else None
        group = [runs[k] for k in members]
        ids = [r.run_id for r in group]
        started = time.perf_counter()
        run_dirs = [out / "runs" / i for i in ids] if save_runs else None

        def on_done(i: int, result: Any, group: list[RunSpec] = group, started: float = started) -> None:
            if result.run_dir is not None:
                (result.run_dir / "last.ckpt").unlink(missing_ok=True)  # a stale one of an earlier run alone
            row = result_row(spec, group[i], history=result.history, report=result.test_report, model=result.model,
                             n_train=result.n_train, total_seconds=(time.perf_counter() - started) / len(group),
                             status=result.status, stack=len(group))  # fmt: skip
            rows.append(row)
            emit(row)

        with _single_process_env():
            train_cohort([cfgs[k] for k in members], [dsets[k] for k in members], names=ids, run_dirs=run_dirs,
                         cohort_dir=cohort_dir, skip={i for i, r in enumerate(group) if r.run_id in done},
                         on_done=on_done, log=log)  # fmt: skip
        if cohort_dir is not None:
            shutil.rmtree(cohort_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                cohort_dir.parent.rmdir()  # only when no other cohort is under way
    return rows


def evaluate_clean_cell(spec: StudySpec, run: RunSpec, out_dir: str | os.PathLike, clean_row: dict[str, Any],
                        *, device: str = "auto") -> dict[str, Any]:  # fmt: skip
    """The row of a ``clean``-protocol cell: the model of its clean run tested at the cell's noise.

    The test windows are those of the clean run's split, and the test noise is drawn from the
    same seed as a ``fixed``-protocol run of that seed, kind and SNR would draw, so the two
    protocols are compared on identical test signals. The report files go to the clean run's
    folder as ``test_<noise>_<snr>_*``.
    """
    from deepshrink.train.evaluation import evaluate_run

    started = time.perf_counter()
    level = run.run_id.split("-")[2]
    report = evaluate_run(Path(out_dir) / "runs" / run.clean_run.run_id, noise=run.noise, snr=float(run.snr_db),
                          device=device, prefix=f"test_{run.noise}_{level}")  # fmt: skip
    row = dict(clean_row)
    row.update(run_id=run.run_id, noise=run.noise, snr_db=run.snr_db, test_acc=report.get("accuracy"),
               test_macro_f1=report.get("macro_f1"), test_loss=report.get("loss"),
               n_test=report.get("num_observations"), seconds=0.0,
               total_seconds=round(time.perf_counter() - started, 3), finished=time.strftime("%Y-%m-%dT%H:%M:%S"))  # fmt: skip
    return row


@dataclass
class StudyProgress:
    """What :func:`run_study` did."""

    out_dir: Path
    total: int
    done_before: int
    ran: list[str]
    remaining: int
    report: Path | None


def _prepare_folder(spec: StudySpec, out: Path, force: bool) -> None:
    """Create ``out`` with ``study.yaml``, or check that an existing one has the same setup."""
    from deepshrink.serialization import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    saved = out / "study.yaml"
    with _locked(saved):
        if saved.is_file() and not force:
            try:
                old = load_study(saved)
            except ConfigError:
                old = None
            if old is not None and old.setup_hash() != spec.setup_hash():
                a, b = old.to_dict(), spec.to_dict()
                diff = [k for k in SETUP_KEYS if a[k] != b[k]]
                raise ConfigError(
                    f"{out}: holds a study with another setup ({', '.join(diff)} differ); "
                    "use another --output, or --force to start over in this folder"
                )
            if old is not None:
                # keep the union of the grids, so the report covers every cell run here
                merged = spec.to_dict()
                for key in ("models", "noises", "snrs", "seeds", *AXES):
                    merged[key] = list(dict.fromkeys(a_ for a_ in old.to_dict()[key] + merged[key]))
                spec = study_from_dict({k: v for k, v in merged.items() if v is not None}, source=str(saved))
        atomic_write(saved, study_to_yaml(spec).encode())


def run_study(
    spec: StudySpec,
    out_dir: str | os.PathLike,
    *,
    shard: tuple[int, int] = (0, 1),
    device: str = "auto",
    num_threads: int | None = None,
    save_runs: bool = True,
    force: bool = False,
    max_runs: int | None = None,
    report: bool = True,
    cache_data: bool = True,
    stack: int | None = None,
    log: Callable[[str], None] | None = print,
) -> StudyProgress:
    """Run this process's share of a study, appending to ``results.csv``; report when complete.

    Args:
        spec: the study.
        out_dir: the study folder (created; an existing one must hold the same setup).
        shard: ``(i, n)``: run runs ``i, i + n, ...`` (see :func:`parse_shard`).
        device: ``auto`` (under torchrun: ``cuda:LOCAL_RANK`` when CUDA is there), ``cpu``, ``cuda:N``.
        num_threads: torch CPU threads for this process (None: torch's default; under torchrun
            on a CPU, the cores divided by ``LOCAL_WORLD_SIZE``, so the shards never oversubscribe).
        save_runs: keep each run's folder (weights, checkpoint, report).
        force: start over in ``out_dir`` (existing results are deleted).
        max_runs: stop after this many runs (for a time-boxed session; the rest resume later).
        report: write ``report.md`` and the figures once every run of the study is in ``results.csv``.
        cache_data: store the clean dataset once in ``out_dir/data/`` and train every run on
            that file (see :class:`_DataCache`); False loads ``spec.data`` in memory only.
        stack: train up to this many runs of a model together as one stacked network (see
            :func:`run_cohort`); 1 trains them one by one; None picks it from the device and
            memory (:func:`default_stack`). Shards split the study by cohort.
        log: called with one line per event (None: silent).

    Returns:
        :class:`StudyProgress`.
    """
    say = log or (lambda message: None)
    out = Path(out_dir)
    if force and out.exists():
        for name in ("results.csv", "study.yaml", "report.md", "summary.csv"):
            (out / name).unlink(missing_ok=True)
    runs = expand_runs(spec)
    if not save_runs and not all(r.trains for r in runs):
        raise ConfigError("noise_protocol 'clean' tests each clean run's saved model: it needs the run folders "
                          "(drop --no-save-runs)")  # fmt: skip
    _prepare_folder(spec, out, force)
    results_path = out / "results.csv"
    from deepshrink.experiments.parallel import available_cpus

    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    if num_threads is None and local > 1 and shard_device(device) == "cpu":  # torchrun shards share the cores
        num_threads = max(1, available_cpus() // local)
    if num_threads is not None:
        import torch

        if num_threads * local > available_cpus():
            say(f"warning: {local} process(es) x {num_threads} thread(s) on {available_cpus()} core(s) "
                "oversubscribe the machine; each step can get many times slower")  # fmt: skip
        torch.set_num_threads(num_threads)
    device = shard_device(device)
    cache = _DataCache(out / "data" if cache_data else None)
    if stack is None:  # shards must agree on the cohorts: there, the device's cap only (not its free memory)
        data = cache.get(spec, run_config(spec, runs[0])) if shard[1] == 1 else None
        stack = default_stack(device, data, len(runs))
    cohorts = plan_cohorts(spec, runs, stack)
    i, n = shard
    mine_cohorts = cohorts[i::n]
    trained_here = {r.run_id for c in mine_cohorts for r in c}
    cells = [r for r in runs if not r.trains and r.clean_run.run_id in trained_here]  # tested by this shard
    mine = [r for c in mine_cohorts for r in c] + cells
    done = {r["run_id"] for r in read_results(results_path)}
    todo = [r for r in mine if r.run_id not in done]
    todo_cohorts = [c for c in mine_cohorts if any(r.run_id not in done for r in c)]
    tag = f"[shard {shard[0]}/{shard[1]}] " if shard[1] > 1 else ""
    grouping = f" in {len(todo_cohorts)} cohort(s) of up to {stack} stacked runs" if stack > 1 and todo else ""
    say(f"{tag}study {spec.name}: {len(runs)} runs in all, {len(mine)} in this shard, "
        f"{len(mine) - len(todo)} already done, {len(todo)} to run{grouping} -> {out}")  # fmt: skip
    planned = {_cohort_dir(out, c).name for c in cohorts}
    planned |= {_cohort_dir(out, left).name for c in cohorts if (left := [r for r in c if r.run_id not in done])}
    root = out / "cohorts"
    orphans = sorted(p.parent.name for p in root.glob("*/last.ckpt") if p.parent.name not in planned) if root.is_dir() else []
    if orphans and shard[1] == 1:
        say(f"note: {len(orphans)} unfinished cohort checkpoint(s) in {root} do not match this --stack "
            f"(e.g. {orphans[0]}); rerun with the --stack they were started with to resume them")  # fmt: skip
    ran: list[str] = []

    def record(row: dict[str, Any]) -> None:
        append_result(results_path, row)
        ran.append(row["run_id"])
        if row.get("status") == "diverged":
            say(f"{tag}[{len(ran)}/{len(todo)}] {row['run_id']}: diverged (see its train.log); recorded without test numbers")
            return
        say(f"{tag}[{len(ran)}/{len(todo)}] {row['run_id']}: test acc {row['test_acc']:.4f}, "
            f"train acc {row['train_acc']:.4f}, {row['seconds']:.0f} s")  # fmt: skip

    for cohort in todo_cohorts:
        if max_runs is not None and len(ran) >= max_runs:
            break
        left = [r for r in cohort if r.run_id not in done]
        budget = None if max_runs is None else max_runs - len(ran)
        if budget is not None and len(left) > budget and not (_cohort_dir(out, cohort) / "last.ckpt").is_file():
            cohort = left[:budget]  # --max-runs: a smaller cohort now, the rest later (an unfinished cohort is finished whole)
        cfg = run_config(spec, cohort[0])
        ds = cache.get(spec, cfg)
        if len(cohort) == 1:
            record(run_one(spec, cohort[0], out, dataset=ds, data_file=cache.path, device=device,
                           num_threads=num_threads, save_runs=save_runs))  # fmt: skip
        else:
            run_cohort(spec, cohort, out, dataset=ds, data_file=cache.path, device=device, num_threads=num_threads,
                       save_runs=save_runs, done=done, on_row=record, log=lambda m: say(tag + m))  # fmt: skip
    if cells and (max_runs is None or len(ran) < max_runs):
        clean_rows = {r["run_id"]: r for r in read_results(results_path)}
        for cell in cells:
            base = clean_rows.get(cell.clean_run.run_id)
            if cell.run_id in done or base is None:
                continue
            if base.get("status") == "diverged":
                record({**base, "run_id": cell.run_id, "noise": cell.noise, "snr_db": cell.snr_db, "seconds": 0.0})
            else:
                record(evaluate_clean_cell(spec, cell, out, base, device=device))
    all_ids = {r.run_id for r in runs}
    finished = {r["run_id"] for r in read_results(results_path)} & all_ids
    report_path = None
    if report and len(finished) == len(all_ids):
        from deepshrink.experiments.report import write_study_report

        report_path = write_study_report(out)
        say(f"{tag}study complete: wrote {report_path}")
    return StudyProgress(out, len(runs), len(done & all_ids), ran, len(all_ids - finished), report_path)
