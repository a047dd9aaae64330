"""A study's description: the grid of runs, the study axes, and each run's training config.

A study is described by a YAML file (or a preset, see :mod:`deepshrink.study.presets`)::

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

A run's id carries its non-default axis values (``...-std-window-trainclean-seed0``).
Running a study: :mod:`deepshrink.study.runner`; its ``results.csv``:
:mod:`deepshrink.study.results`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepshrink.data import kfold_by_recording
from deepshrink.data.dataset import SignalData
from deepshrink.errors import ConfigError
from deepshrink.study.presets import PRESETS, get_preset
from deepshrink.models import list_models
from deepshrink.seeds import Purpose, derive_seed
from deepshrink.train.config import (
    NOISE_CHOICES,
    RUNTIME_KEYS,
    TrainConfig,
    config_from_dict,
    dump_yaml,
    load_yaml,
    parse_snr,
)
from deepshrink.settings import declared

__all__ = [
    "StudySpec",
    "RunSpec",
    "AXES",
    "AXIS_DEFAULTS",
    "FEATURE_MODELS",
    "DEFAULT_SETTING",
    "LEAKY_SPLITS",
    "SETUP_KEYS",
    "GRID_KEYS",
    "axis_choices",
    "study_from_dict",
    "load_study",
    "study_to_yaml",
    "expand_runs",
    "parse_shard",
    "shard_runs",
    "run_config",
    "fold_dataset",
]

NOISE_KINDS = NOISE_CHOICES
"""The noise kinds a study takes: those of :mod:`deepshrink.noise`, and ``none`` (the training setting's)."""


def _choices(key: str) -> tuple[str, ...]:
    """The allowed values of a :class:`~deepshrink.train.TrainConfig` key (its one declaration)."""
    return tuple(declared(TrainConfig)[key].choices)


FEATURE_MODELS = {"minirocket": "MiniRocket"}
"""Study models that are not networks (name -> label): random-kernel features and a linear
classifier, run by :mod:`deepshrink.study.rocket` in the same cells as the networks."""
# their runs' TrainConfig: only its data settings are used, which do not depend on the model
_DATA_ONLY_MODEL = "resnet_paper"

AXES = ("noise_protocol", "normalize", "split")
"""The study axes: study keys that take a value or a list, crossed with the grid."""
AXIS_DEFAULTS = {"noise_protocol": "fixed", "normalize": "none", "split": "recording"}
DEFAULT_SETTING = tuple(AXIS_DEFAULTS[a] for a in AXES)
"""The axis values of a run that names none (and of every row of an older ``results.csv``)."""
# TrainConfig keys the study sets per run; a study's ``train:`` mapping may not set them.
_STUDY_KEYS = frozenset({"model", "data", "data_args", "noise", "snr", "seed", *AXES})
# the run-id tag of each non-default axis value
_TAGS = {"per_sample": "std", "fresh": "fresh", "clean": "trainclean"}
LEAKY_SPLITS = frozenset({"window"})
"""Splits that put windows of one recording on both sides (reports mark them leaky)."""


def axis_choices(axis: str) -> tuple[str, ...]:
    """The values a study axis takes (``noise_protocol`` adds ``clean`` to the training protocols)."""
    return _choices(axis) + (("clean",) if axis == "noise_protocol" else ())

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
        grids: more grids of the same setup, each a mapping of :data:`GRID_KEYS` (the keys it
            leaves out are this study's): the study is the union of its own grid and these.
            A study folder records so each grid run in it, so resuming the folder runs what
            was asked for, not the cross of everything.
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
    grids: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (YAML/JSON friendly), in declaration order."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def parts(self) -> list[StudySpec]:
        """The study as studies of one grid each: its own grid, then each of :attr:`grids`."""
        own = dataclasses.replace(self, grids=[])
        return [own] + [dataclasses.replace(own, **grid) for grid in self.grids]

    def values(self, key: str) -> list[Any]:
        """The values of grid key ``key`` over all the grids, in order of first appearance."""
        seen: list[Any] = []
        for part in self.parts():
            seen += [v for v in (getattr(part, key) or []) if v not in seen]
        return seen

    def with_grids_of(self, other: StudySpec) -> StudySpec:
        """This study plus each grid of ``other`` (same setup) that holds a run this one lacks."""
        have = {r.run_id for r in expand_runs(self)}
        grids = list(self.grids)
        for part in other.parts():
            ids = {r.run_id for r in expand_runs(part)}
            if not ids <= have:
                grids.append({k: getattr(part, k) for k in GRID_KEYS})
                have |= ids
        return dataclasses.replace(self, grids=json.loads(json.dumps(grids)))

    def setup_hash(self) -> str:
        """Hash of what every run shares (data, training settings, folds), not the grid or the axes.

        Two studies with the same setup hash may share a folder: adding a model, a noise kind,
        an SNR, a seed or an axis value to a finished study only runs the new cells. Runtime keys of ``train``
        (``compile``, ``device``, ``num_threads``, ...) may change between calls.
        """
        d = self.to_dict()
        keep = {k: d[k] for k in SETUP_KEYS}
        keep["train"] = {k: v for k, v in keep["train"].items() if k not in RUNTIME_KEYS}  # e.g. compile, device
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


_SPEC_FIELDS = {f.name for f in dataclasses.fields(StudySpec)}
SETUP_KEYS = ("data", "data_args", "train", "folds")
"""The study keys every run shares (a folder holds one setup; see :meth:`StudySpec.setup_hash`)."""
GRID_KEYS = ("models", "noises", "snrs", "seeds", "run_folds", *AXES)
"""The study keys that make a grid of runs (:attr:`StudySpec.grids`)."""


def _as_list(value: Any, key: str, where: str) -> list[Any]:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)) and value:
        return list(value)
    raise ConfigError(f"{where}: key {key!r} must be a non-empty list, got {value!r}")


def _parse_snrs(value: Any, where: str) -> list[float]:
    if isinstance(value, str):
        parsed = parse_snr(value, f"{where}: key 'snrs'")
        if isinstance(parsed, tuple):
            raise ConfigError(f"{where}: key 'snrs' must list SNRs ('-5:5:1' or '-5,0'), not a range {value!r}")
        return [float(v) for v in ([parsed] if isinstance(parsed, float) else parsed)]

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
        close = difflib.get_close_matches(unknown[0], sorted(_SPEC_FIELDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{source}: unknown key {unknown[0]!r}{hint} (keys: {', '.join(sorted(_SPEC_FIELDS))})")
    for key in ("models", "noises", "snrs"):
        if key not in values:
            raise ConfigError(f"{source}: key {key!r} is required")

    models = _parse_models(values["models"], source)
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
    axes = {axis: _parse_axis(values, axis, source) for axis in AXES}
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
    _check_train_keys(spec, source)
    grids = _parse_grids(values, source)
    return dataclasses.replace(spec, grids=grids) if grids else spec


def _parse_models(value: Any, source: str) -> list[str]:
    models = [str(m) for m in _as_list(value, "models", source)]
    known = set(list_models()) | set(FEATURE_MODELS)
    for m in models:
        if m not in known:
            close = difflib.get_close_matches(m, sorted(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{source}: key 'models': unknown model {m!r}{hint}")
    return models


def _parse_axis(values: dict[str, Any], axis: str, source: str) -> list[str]:
    chosen = [str(v) for v in _as_list(values.get(axis, AXIS_DEFAULTS[axis]), axis, source)]
    allowed = axis_choices(axis)
    bad = [v for v in chosen if v not in allowed]
    if bad:
        raise ConfigError(f"{source}: key {axis!r}: unknown value {bad[0]!r} (one of {', '.join(allowed)})")
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"{source}: key {axis!r} lists a value twice: {chosen!r}")
    return chosen


def _check_train_keys(spec: StudySpec, source: str) -> None:
    """The training keys, checked by building the config of one run per combination of axes."""
    firsts: dict[tuple[str, str, str], RunSpec] = {}
    for run in expand_runs(spec):
        firsts.setdefault((run.protocol, run.normalize, run.split), run)
    for run in firsts.values():
        try:
            run_config(spec, run)
        except ConfigError as err:
            raise ConfigError(f"{source}: key 'train': {err}") from None


def _parse_grids(values: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """More grids: each checked as this study with its keys replaced (which checks its own runs)."""
    raw_grids = values.get("grids")
    own = {key: v for key, v in values.items() if key != "grids"}
    grids = []
    for k, grid in enumerate(_as_list(raw_grids, "grids", source) if raw_grids else []):
        where = f"{source}: key 'grids', entry {k + 1}"
        if not isinstance(grid, dict) or not grid or set(grid) - set(GRID_KEYS):
            raise ConfigError(f"{where}: must be a mapping of grid keys ({', '.join(GRID_KEYS)}), got {grid!r}")
        part = study_from_dict({**own, **grid}, source=where)
        grids.append({key: getattr(part, key) for key in GRID_KEYS})
    return grids


def load_study(source: str | os.PathLike) -> StudySpec:
    """A study from a preset name (``paper``, ``quick``, ``forda``, ``demo``) or a YAML file.

    Raises:
        ConfigError: unknown preset and no such file; bad YAML; a bad key.
    """
    text = str(source)
    if text in PRESETS and not Path(text).is_file():
        return study_from_dict(get_preset(text), source=f"preset {text!r}")
    path = Path(source)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such study file, and not a preset (presets: {', '.join(sorted(PRESETS))})"
        )

    values = load_yaml(path.read_text(encoding="utf-8"), str(path))  # duplicate keys, aliases, YAML 1.2
    return study_from_dict(values or {}, source=str(path))


def study_to_yaml(spec: StudySpec) -> str:
    """The study as YAML (readable by :func:`load_study`)."""
    d = spec.to_dict()
    if d["run_folds"] is None:
        del d["run_folds"]
    for grid in d["grids"]:
        for key in [k for k in GRID_KEYS if grid.get(k) == d.get(k)]:
            del grid[key]  # a grid writes only what differs from the study's own
    if not d["grids"]:
        del d["grids"]
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
        axes = {"normalize": self.normalize, "split": self.split, "noise_protocol": self.protocol}  # the ids' tag order
        tags = "".join(f"-{_TAGS.get(v, v)}" for axis, v in axes.items() if v != AXIS_DEFAULTS[axis])
        tail = f"-seed{self.seed}" + ("" if self.fold is None else f"-fold{self.fold}")
        return f"{self.model}-{self.noise}-{self.level}{tags}{tail}"

    @property
    def level(self) -> str:
        """The SNR as the run id writes it: ``m5dB``, ``0dB``, ``2p5dB``, or ``clean``."""
        if self.snr_db is None:
            return "clean"
        v = float(self.snr_db)
        return f"{'m' if v < 0 else ''}{f'{abs(v):g}'.replace('.', 'p')}dB"

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
    protocol adds each model's clean run (noise ``none``) before the cells that test it. With
    :attr:`~StudySpec.grids`: the runs of each grid in turn, each run once."""
    if spec.grids:
        runs, seen = [], set()
        for part in spec.parts():
            for run in expand_runs(part):
                if run.run_id not in seen:
                    seen.add(run.run_id)
                    runs.append(run)
        return runs
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

    A run of a :data:`FEATURE_MODELS` model gets the config of a network's run of the same cell
    (its data settings are all it uses).

    Args:
        runtime: runtime keys (``device``, ``num_threads``, ``progress``, ...).
    """
    values: dict[str, Any] = {"val_fraction": 0.0, "keep": "last", "progress": "off"}
    values.update(spec.train)
    trained = run.clean_run  # a clean-protocol cell: the config of the clean run that made its model
    values.update(
        model=_DATA_ONLY_MODEL if run.model in FEATURE_MODELS else run.model, data=spec.data, data_args=dict(spec.data_args), noise=trained.noise,
        snr=None if trained.snr_db is None else float(trained.snr_db), seed=int(run.seed if run.fold is None else derive_seed(run.seed, Purpose.FOLD, run.fold)),
        noise_protocol="fixed" if run.protocol == "clean" else run.protocol, normalize=run.normalize, split=run.split,
    )  # fmt: skip
    if run.fold is not None:
        values["split"] = "predefined"
    values.update({k: v for k, v in runtime.items() if v is not None})
    return config_from_dict(values, source=f"run {run.run_id}")


def fold_dataset(ds: SignalData, folds: int, fold: int, seed: int) -> SignalData:
    """``ds`` with a ``split`` condition: ``test`` for the recordings of ``fold``, ``train`` otherwise."""
    train_idx, test_idx = kfold_by_recording(ds, folds, seed=derive_seed(seed, Purpose.FOLD_SPLIT))[fold]
    marks = np.full(len(ds), "none", dtype=object)
    marks[train_idx] = "train"
    marks[test_idx] = "test"
    return ds.with_conditions(split=marks.astype(str))


