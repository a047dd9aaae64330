"""The training configuration: one typed dataclass, every setting declared once.

:class:`TrainConfig` holds every choice of a run (model, data, noise, split, optimiser,
schedule, seed, runtime); each field is one :func:`~deepshrink.settings.setting` call,
from which the YAML validation (:func:`config_from_dict`), the flags of ``deepshrink train``,
``--print-config`` and ``docs/config.md`` are derived (``python -m deepshrink.train.config``
writes the latter). Here are only the rules that tie settings together, the SNR specs, the
recipes (:func:`resolve` fills their defaults in) and how a run's config is layered
(:func:`layered_config`: defaults < YAML < flags < ``--set``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from deepshrink.checks import check_path
from deepshrink.errors import CheckpointError, ConfigError
from deepshrink.models.registry import RESERVED_ARGS, check_model_args, model_config
from deepshrink.noise import NOISE_KINDS, SNR_LIMIT_DB
import deepshrink.settings as settings
from deepshrink.settings import MAX_YAML_NODES, dump_yaml, load_yaml, parse_key_values, setting

__all__ = [
    "TrainConfig",
    "RECIPES",
    "NOISE_CHOICES",
    "RUNTIME_KEYS",
    "MAX_YAML_NODES",
    "load_config",
    "config_from_dict",
    "apply_overrides",
    "layered_config",
    "resolve",
    "config_hash",
    "config_diff",
    "config_reference",
    "to_yaml",
    "parse_snr",
    "parse_key_values",
    "load_yaml",
    "dump_yaml",
]

RECIPES: dict[str, dict[str, Any]] = {
    "paper": dict(optimizer="sgd", lr=0.1, weight_decay=1e-4, schedule="step"),
    "adamw": dict(optimizer="adamw", lr=1e-3, weight_decay=0.05, schedule="cosine"),
}
"""Optimiser defaults of each recipe; ``lr`` / ``weight_decay`` set in a config win."""


# Checks of single values (the type is checked before): None if fine, else what is wrong.
def _not_empty(value: str) -> str | None:
    return None if value else "must not be empty"


def _device(value: str) -> str | None:
    if value in ("auto", "cpu", "cuda"):
        return None
    if value.startswith("cuda:"):
        return None if value[5:].isdigit() else "must be 'cuda:N' with an integer N"
    return "must be 'auto', 'cpu', 'cuda' or 'cuda:N'"


def _fractions(value: list[float]) -> str | None:
    ok = all(0.0 < m < 1.0 for m in value) and sorted(value) == value
    return None if ok else "must be increasing fractions of the epochs in (0, 1)"


# How flags give values their type alone does not say.
def _snr_flag(text: str) -> float | str:
    """A plain number becomes a float; ranges and sets stay text (checked with the config)."""
    try:
        return float(text)
    except ValueError:
        return text


def _compile_flag(text: str) -> bool | str:
    """``--compile auto``, ``--compile true`` / ``false`` (also on / off, yes / no)."""
    word = text.strip().lower()
    if word in ("true", "on", "yes"):
        return True
    if word in ("false", "off", "no"):
        return False
    return word  # "auto", or a mistake the config check names


def _lists(conditions: dict[str, Any]) -> dict[str, list[Any]]:
    """``--test-condition speed_hz=40`` means ``{speed_hz: [40]}``."""
    return {k: v if isinstance(v, list) else [v] for k, v in conditions.items()}


@dataclass
class TrainConfig:
    """Everything a training run needs; the fields are the keys of ``config.yaml``.

    A run is reproducible from its ``config.yaml`` alone. Settings come from, in order: the
    defaults < a YAML file of flat ``key: value`` pairs (``--config FILE``) < flags <
    ``--set KEY=VALUE``; ``deepshrink train --print-config`` shows the result. Every key is
    checked when read (type, allowed values, range): a wrong one is one line naming the key
    and the file.

    Recipes: ``paper`` (the default; Zhao et al. 2020) is SGD with momentum 0.9, lr 0.1
    divided by 10 at 40 % and 80 % of the epochs, batch 128, weight decay 1e-4 on the
    convolution and linear weights only (not on biases or BatchNorm); ``adamw`` is AdamW
    (lr 1e-3, weight decay 0.05 on the same weights), linear warm-up for ``warmup_epochs``,
    then cosine decay to zero, per step. ``lr`` and ``weight_decay`` set in a config win.

    ``batch_size`` is the global batch: under ``torchrun`` with W processes each process
    takes ``batch_size / W`` observations of every batch (so W must divide it), and a
    2-process run makes the same optimisation steps as a 1-process run.

    SNR specs: ``0`` (one SNR), ``[-5, 5]`` or ``"-5:5"`` (uniform per observation),
    ``"-5:5:1"`` or ``"-5,0,5"`` (a set: every observation gets one of them, balanced).

    Splits: ``recording`` holds out whole recordings (``test_fraction`` of them);
    ``condition`` the observations whose conditions match ``test_conditions``; ``predefined``
    the dataset's own train/test files (UCR); ``window`` the paper's random split of the
    windows of each class (leaky: windows of one recording land on both sides; kept to
    measure the leak).
    """

    model: str = setting(
        "drsn_cw_paper", "registered model name (`deepshrink models` lists them)",
        group="model", metavar="NAME", check=_not_empty,
    )  # fmt: skip
    model_args: dict[str, Any] = setting(
        {}, "extra ResidualNet arguments, e.g. drop_rate=0.1", group="model", flag="--model-arg", merge=True,
    )  # fmt: skip
    init_from: Union[str, None] = setting(
        None, "start from the weights of this run folder (weights only, as a new run; the classifier is "
        "recreated when the classes differ)", group="model", metavar="RUN",
    )  # fmt: skip
    data: str = setting(
        "simulator", "dataset: simulator, cwru, ucr:NAME or a path (.npz, folder)",
        group="data", metavar="SPEC", check=_not_empty,
    )  # fmt: skip
    data_args: dict[str, Any] = setting(
        {}, "loader arguments, e.g. window=1024", group="data", flag="--data-arg", merge=True,
    )  # fmt: skip
    noise: Literal[("none", *NOISE_KINDS)] = setting(  # the kinds of deepshrink.noise, their one list
        "gaussian", "noise added to train, validation and test signals", group="data",
    )  # fmt: skip
    snr: Union[float, list[float], str, None] = setting(
        0.0, "SNR in dB: 0, -5:5 or [-5, 5] (range), -5:5:1 or -5,0,5 (a set); null only with noise none",
        group="data", metavar="SPEC", parse=_snr_flag,
    )  # fmt: skip
    noise_protocol: Literal["fixed", "fresh"] = setting(
        "fixed", "noise drawn once (fixed, the paper's) or each epoch for the training set (fresh)", group="data",
    )  # fmt: skip
    split: Literal["recording", "condition", "predefined", "window"] = setting(
        "recording", "how the test set is held out (recording, condition, predefined, window: leaky)", group="data",
    )  # fmt: skip
    test_fraction: float = setting(
        0.2, "share of recordings (split recording) or windows (split window) for test",
        group="data", interval="(0, 1)", metavar="F",
    )  # fmt: skip
    test_conditions: dict[str, Any] = setting(
        {}, "held-out conditions of split condition, e.g. speed_hz=40 (implies --split condition)",
        group="data", flag="--test-condition", metavar="KEY=VALUES", parse=_lists, implies={"split": "condition"},
    )  # fmt: skip
    val_fraction: float = setting(
        0.1, "share of training recordings for validation (0: none, the last epoch is kept)",
        group="data", interval="[0, 1)", metavar="F",
    )  # fmt: skip
    normalize: Literal["none", "per_sample"] = setting(
        "none", "per_sample: zero mean, unit variance per observation and channel, after the noise", group="data",
    )  # fmt: skip
    recipe: Literal[tuple(RECIPES)] = setting(  # the names of RECIPES above
        "paper", "paper (SGD, step lr) or adamw (AdamW, warm-up + cosine)", group="optimisation",
    )  # fmt: skip
    epochs: int = setting(100, "number of epochs", group="optimisation", interval="[1, 1000000]", metavar="N")
    batch_size: int = setting(
        128, "GLOBAL batch size (split over torchrun processes)", group="optimisation", interval="[1, inf)", metavar="N",
    )  # fmt: skip
    lr: Union[float, None] = setting(
        None, "base learning rate; null: the recipe's (" + ", ".join(f"{n} {r['lr']:g}" for n, r in RECIPES.items()) + ")",
        group="optimisation", interval="(0, inf)",
    )  # fmt: skip
    weight_decay: Union[float, None] = setting(
        None, "weight decay on conv and linear weights; null: the recipe's ("
        + ", ".join(f"{n} {r['weight_decay']:g}" for n, r in RECIPES.items()) + ")", group="optimisation", interval="[0, inf)",
    )  # fmt: skip
    momentum: float = setting(0.9, "SGD momentum", group="optimisation", interval="[0, 1)", metavar="M")
    milestones: list[float] = setting(
        [0.4, 0.8], "paper recipe: fractions of the epochs where the lr drops by lr_decay",
        group="optimisation", check=_fractions, metavar="F",
    )  # fmt: skip
    lr_decay: float = setting(0.1, "factor of each lr drop", group="optimisation", interval="(0, 1]", metavar="F")
    warmup_epochs: float = setting(
        5.0, "adamw recipe: linear warm-up length in epochs (may be fractional)",
        group="optimisation", interval="[0, inf)", metavar="EPOCHS",
    )  # fmt: skip
    grad_clip: Union[float, None] = setting(
        None, "clip the global gradient norm to this value; null: no clipping",
        group="optimisation", interval="(0, inf)", metavar="NORM",
    )  # fmt: skip
    label_smoothing: float = setting(
        0.0, "cross-entropy label smoothing", group="optimisation", interval="[0, 1)", metavar="F",
    )  # fmt: skip
    ema_decay: Union[float, None] = setting(
        None, "validate, keep and save an exponential moving average of the weights with this decay per step "
        "(e.g. 0.999); null: the weights themselves", group="optimisation", interval="(0, 1)", metavar="D",
    )  # fmt: skip
    early_stopping: int = setting(
        0, "stop after this many epochs without improvement of monitor (0: off)",
        group="optimisation", interval="[0, inf)", metavar="PATIENCE",
    )  # fmt: skip
    monitor: Literal["val_loss", "val_acc"] = setting(
        "val_loss", "what early stopping and keep best watch", group="optimisation",
    )  # fmt: skip
    keep: Literal["best", "last"] = setting(
        "best", "weights saved as model.safetensors: best (by monitor) or last", group="optimisation",
    )  # fmt: skip
    sync_bn: bool = setting(True, "under DDP, synchronise BatchNorm statistics across processes", group="optimisation")
    seed: int = setting(
        0, "seed of initialisation, shuffling, splits and noise", group="optimisation", interval="[0, 9223372036854775807]",
    )  # fmt: skip
    device: str = setting(
        "auto", "auto (CUDA if available), cpu, cuda or cuda:N", group="runtime", check=_device, runtime=True,
    )  # fmt: skip
    amp: Literal["auto", "bf16", "off"] = setting(
        "auto", "mixed precision (auto: bf16 autocast on CUDA, off on CPU)", group="runtime",
    )  # fmt: skip
    compile: Union[bool, Literal["auto"]] = setting(
        "auto", "torch.compile the model: true, false, or auto (on the CPU, a network with gates for runs of "
        "enough steps to pay; a failed compile goes on eager)", group="runtime", runtime=True, parse=_compile_flag, metavar="{auto,true,false}",
    )  # fmt: skip
    num_threads: Union[int, None] = setting(
        None, "CPU threads per process; null: torch's default (divided among torchrun's local processes)",
        group="runtime", interval="[1, 4096]", metavar="N", runtime=True, flag="--threads",
    )  # fmt: skip
    eval_batch_size: int = setting(
        512, "batch size for validation and test", group="runtime", interval="[1, inf)", metavar="N", runtime=True,
    )  # fmt: skip
    checkpoint_every: int = setting(
        0, "also write last.ckpt every N optimiser steps (0: at epoch ends only)",
        group="runtime", interval="[0, inf)", metavar="STEPS", runtime=True,
    )  # fmt: skip
    progress: Literal["auto", "bar", "log", "off"] = setting(
        "auto", "auto (a bar on a terminal, log lines otherwise), bar, log or off", group="runtime", runtime=True,
    )  # fmt: skip
    log: Literal["none", "tensorboard"] = setting(
        "none", "also write per-epoch scalars: none, or tensorboard (into RUN/tensorboard/; needs the tensorboard "
        "package)", group="runtime", runtime=True,
    )  # fmt: skip

    # ------------------------------------------------------------------ conveniences
    def to_dict(self) -> dict[str, Any]:
        """The fields as plain (YAML/JSON-friendly) values, in declaration order."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some fields changed."""
        return config_from_dict({**self.to_dict(), **changes}, source="arguments")


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


NOISE_CHOICES: tuple[str, ...] = settings.declared(TrainConfig)["noise"].choices  # type: ignore[assignment]
"""``noise`` values: ``none`` and the kinds of :mod:`deepshrink.noise`."""

RUNTIME_KEYS = frozenset(name for name, s in settings.declared(TrainConfig).items() if s.runtime)
"""Keys that do not change the numbers a run computes (on one device type): a resumed run may
change them; any other difference between a checkpoint's config and the resumed one is refused."""


def config_from_dict(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a mapping (e.g. parsed YAML).

    Args:
        values: key -> value; missing keys take their defaults.
        source: where the values came from (a file name), for error messages.

    Raises:
        ConfigError: an unknown key, a value of the wrong type or outside its choices, or a
            value out of range; the message names the key and ``source``.
    """
    cfg = settings.build(TrainConfig, values, source)
    _check_together(cfg, source)
    return cfg


def _check_together(cfg: TrainConfig, where: str) -> None:
    """The rules that involve more than one setting (each setting alone is checked by its declaration)."""
    if cfg.noise != "none":
        if cfg.snr is None:
            raise ConfigError(f"{where}: key 'snr' is required when noise is {cfg.noise!r} (or set noise: none)")
        parse_snr(cfg.snr, f"{where}: key 'snr'")
    if cfg.split == "condition" and not cfg.test_conditions:
        raise ConfigError(
            f"{where}: key 'test_conditions' is required for split: condition, e.g. {{speed_hz: [40]}}"
        )
    reserved = sorted(set(cfg.model_args) & set(RESERVED_ARGS))
    if reserved:
        raise ConfigError(
            f"{where}: key 'model_args' must not set {', '.join(reserved)}: "
            "training takes the input channels, the number of classes and the input length from the data"
        )
    check_model_args(cfg.model_args, f"{where}: key 'model_args'", model=cfg.model)
    try:  # the preset and the arguments together: caught here, not after the data is loaded
        model_config(cfg.model, **cfg.model_args)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


# ---------------------------------------------------------------------- SNR specs
def parse_snr(value: Any, where: str = "snr") -> float | tuple[float, float] | list[float]:
    """Interpret an SNR spec.

    Returns:
        a float (one SNR), a ``(low, high)`` tuple (uniform range) or a list of discrete values.

    Raises:
        ConfigError: a malformed spec, or an SNR beyond +-:data:`~deepshrink.noise.SNR_LIMIT_DB`
            dB; the message starts with ``where``.
    """
    def number(text: Any) -> float:
        try:
            v = float(text)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {text!r} is not a number (SNR spec {value!r})") from None
        if not math.isfinite(v):
            raise ConfigError(f"{where}: SNR must be finite, got {value!r}")
        if abs(v) > SNR_LIMIT_DB:
            raise ConfigError(
                f"{where}: SNR {v:g} dB is outside [-{SNR_LIMIT_DB:g}, {SNR_LIMIT_DB:g}] dB "
                f"(a typo? -20 dB is already 100x more noise than signal)"
            )
        return v

    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, [low, high] or 'low:high[:step]', got {value!r}")
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{where}: a list must be [low, high], got {list(value)!r} (use 'a,b,c' for a set)")
        low, high = number(value[0]), number(value[1])
        if low > high:
            raise ConfigError(f"{where}: low {low} is above high {high}")
        return (low, high)
    if isinstance(value, str):
        text = value.strip()
        if ":" in text:
            parts = [p.strip() for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ConfigError(f"{where}: expected 'low:high' or 'low:high:step', got {value!r}")
            low, high = number(parts[0]), number(parts[1])
            if low > high:
                raise ConfigError(f"{where}: low {low} is above high {high}")
            if len(parts) == 2:
                return (low, high)
            step = number(parts[2])
            if step <= 0:
                raise ConfigError(f"{where}: step must be > 0, got {value!r}")
            count = int(math.floor((high - low) / step + 1e-9)) + 1
            if count > 1000:
                raise ConfigError(f"{where}: {count} SNR values is too many, got {value!r}")
            return [round(low + i * step, 10) for i in range(count)]
        if "," in text:
            values = [number(p) for p in text.split(",") if p.strip()]
            if not values:
                raise ConfigError(f"{where}: empty SNR list {value!r}")
            return values
        return number(text)
    raise ConfigError(f"{where}: expected a number, [low, high] or 'low:high[:step]', got {value!r}")


# ---------------------------------------------------------------------- files and layers
def load_config(path: str | os.PathLike) -> TrainConfig:
    """Read a YAML config file (flat ``key: value`` pairs; see :class:`TrainConfig`).

    Raises:
        ConfigError: the file is missing, not YAML (or has a key twice), not a mapping, or a
            key is wrong.
    """
    p = check_path(path, "config")
    if not p.is_file():
        raise ConfigError(f"{p}: config file does not exist" if not p.exists() else f"{p}: config is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: cannot be read ({err})") from None
    values = load_yaml(text, str(p))
    if values is None:
        values = {}
    return config_from_dict(values, source=str(p))


def to_yaml(cfg: TrainConfig, *, comments: bool = False) -> str:
    """The config as YAML (keys in declaration order), read back unchanged by :func:`load_config`.

    Args:
        comments: add each group's name and each key's help as YAML comments (``--print-config``).
    """
    return settings.to_text(TrainConfig, cfg.to_dict(), comments=comments)


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any], *, source: str = "command line") -> TrainConfig:
    """``cfg`` with ``overrides`` applied (None values are ignored) and validated again."""
    values = cfg.to_dict()
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in values:
            raise settings.unknown_key(TrainConfig, key, source)
        values[key] = value
    return config_from_dict(values, source=source)


def layered_config(
    *,
    config: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    flags: dict[str, Any] | None = None,
    sets: list[str] | None = None,
) -> TrainConfig:
    """A run's config: the defaults < ``config`` (else ``resume``'s ``config.yaml``) < ``flags`` < ``sets``.

    Args:
        config: a YAML file.
        resume: a run folder to continue; its ``config.yaml`` is the base when ``config`` is None.
        flags: settings given as flags (:func:`~deepshrink.settings.flag_values`): a
            mapping declared ``merge`` adds to the base's, ``implies`` sets what no flag gave.
        sets: ``KEY=VALUE`` texts (``--set``), values read as YAML.

    Raises:
        ConfigError: a file or a value is wrong; the message names where it came from
            (the file, ``command line``, ``--set``).
        CheckpointError: ``resume`` is no run folder.
    """
    if config is not None:
        cfg = load_config(config)
    elif resume is not None:
        saved = Path(resume) / "config.yaml"
        if not Path(resume).is_dir():
            raise CheckpointError(f"{resume}: run folder to resume does not exist")
        if not saved.is_file():
            raise CheckpointError(f"{saved}: missing; cannot resume a folder that is not a deepshrink run")
        cfg = load_config(saved)
    else:
        cfg = TrainConfig()
    if flags:
        cfg = config_from_dict(settings.apply_flags(TrainConfig, cfg.to_dict(), flags), source="command line")
    if sets:
        cfg = apply_overrides(cfg, parse_key_values(sets, "--set"), source="--set")
    return cfg


# ---------------------------------------------------------------------- recipes and comparisons
def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill in recipe defaults (``lr``, ``weight_decay``); the result is what ``config.yaml`` stores."""
    recipe = RECIPES[cfg.recipe]
    return dataclasses.replace(
        cfg,
        lr=recipe["lr"] if cfg.lr is None else cfg.lr,
        weight_decay=recipe["weight_decay"] if cfg.weight_decay is None else cfg.weight_decay,
    )


HASHED_ONLY_WHEN_SET = ("ema_decay",)
"""Settings added after runs were made: left out of :func:`config_hash` at their default (off),
so a ``last.ckpt`` of an earlier version still resumes."""


def config_hash(cfg: TrainConfig) -> str:
    """SHA-256 of the keys that change what a run computes (all but :data:`RUNTIME_KEYS`)."""
    declared = settings.declared(TrainConfig)
    values = {k: v for k, v in resolve(cfg).to_dict().items()
              if k not in RUNTIME_KEYS and not (k in HASHED_ONLY_WHEN_SET and v == declared[k].default)}  # fmt: skip
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def config_diff(a: TrainConfig, b: TrainConfig, *, ignore_runtime: bool = True) -> list[str]:
    """Human-readable ``key: old -> new`` lines for the keys where two configs differ."""
    da, db = resolve(a).to_dict(), resolve(b).to_dict()
    return [
        f"{k}: {da[k]!r} -> {db[k]!r}"
        for k in da
        if da[k] != db[k] and not (ignore_runtime and k in RUNTIME_KEYS)
    ]


def config_reference() -> str:
    """The Markdown reference of every setting, as ``docs/config.md`` holds it."""
    return settings.reference(TrainConfig, "Training settings", "python -m deepshrink.train.config > docs/config.md")


if __name__ == "__main__":
    sys.stdout.write(config_reference())
