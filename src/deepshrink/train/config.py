"""The training configuration: one typed dataclass, read from YAML, overridden by flags.

A run is reproducible from its ``config.yaml`` alone: :class:`TrainConfig` holds every choice
(model, data, noise, split, optimiser, schedule, seed, runtime), :func:`resolve` fills the
recipe defaults in, and the run folder stores the resolved result.

Two recipes:

* ``paper`` (default), Zhao et al. (2020): SGD with momentum 0.9, lr 0.1, divided by 10 at 40 %
  and 80 % of the epochs (epochs 41 and 81 of 100), batch 128, weight decay 1e-4 on the
  convolution and linear weights only (not on biases or BatchNorm).
* ``adamw``: AdamW (lr 1e-3, weight decay 0.05 on the same weights), linear warm-up for
  ``warmup_epochs`` then cosine decay to zero, per step.

``batch_size`` is the **global** batch: under ``torchrun`` with W processes each process takes
``batch_size / W`` observations of every batch (so it must divide), and a 2-process run makes
the same optimisation steps as a 1-process run.

Every field is validated on load (type and allowed values); a wrong one raises
:class:`~deepshrink.errors.ConfigError` naming the key and the file it came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from deepshrink.errors import ConfigError
from deepshrink.models.registry import RESERVED_ARGS, check_model_args, model_config
from deepshrink.noise import SNR_LIMIT_DB
from deepshrink.serialization import check_path

__all__ = [
    "TrainConfig",
    "RECIPES",
    "NOISE_CHOICES",
    "RUNTIME_KEYS",
    "load_config",
    "config_from_dict",
    "apply_overrides",
    "resolve",
    "config_hash",
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

NOISE_CHOICES = ("none", "gaussian", "laplacian", "uniform", "pink", "brown")

RUNTIME_KEYS = frozenset(
    {"device", "progress", "num_threads", "compile", "eval_batch_size", "checkpoint_every"}
)
"""Keys that do not change the numbers a run computes (on one device type): a resumed run may
change them; any other difference between a checkpoint's config and the resumed one is refused."""


@dataclass
class TrainConfig:
    """Everything a training run needs; the fields are the keys of ``config.yaml``.

    Model:
        model: a registered model name (``deepshrink models`` lists them).
        model_args: extra :class:`~deepshrink.models.ResidualNet` arguments (e.g. ``drop_rate``).

    Data:
        data: dataset spec for :func:`deepshrink.data.load_dataset` (``simulator``, ``ucr:FordA``,
            a ``.npz`` file, a folder, a CWRU folder).
        data_args: keyword arguments of the loader (e.g. ``{window: 512}`` for the simulator).
        noise: noise kind added to train, validation and test signals, or ``none``.
        snr: SNR in dB: a number, ``[low, high]`` (uniform per observation), or a string
            ``"low:high"`` (range), ``"low:high:step"`` or ``"a,b,c"`` (a discrete set; every
            observation gets one of them, balanced). Required unless ``noise: none``.
        noise_protocol: ``fixed`` (noise drawn once, the paper's) or ``fresh`` (redrawn each epoch
            for the training set; validation and test noise stay fixed).
        split: ``recording`` (whole recordings go to test, ``test_fraction`` of them),
            ``condition`` (observations whose conditions match ``test_conditions`` are the test
            set), ``predefined`` (the dataset's own train/test files, e.g. UCR) or ``window``
            (the paper's random split of observations: **leaky**, windows of one recording on
            both sides; ``test_fraction`` of the windows of each class).
        test_fraction: share of recordings (``split: recording``) or windows (``split: window``)
            held out for test.
        test_conditions: ``{condition: [values]}`` for ``split: condition``, e.g. ``{speed_hz: [40]}``.
        val_fraction: share of the training recordings held out for validation (early stopping,
            best-epoch selection); 0 validates on nothing (the last epoch is kept).
        normalize: ``none`` or ``per_sample`` (zero mean, unit variance per observation and
            channel, applied after the noise; ``predict`` applies it too).

    Optimisation:
        recipe: ``paper`` or ``adamw`` (see the module docstring).
        epochs: number of epochs.
        batch_size: global batch (all processes together).
        lr, weight_decay: default from the recipe when null.
        momentum: SGD momentum.
        milestones: ``paper`` recipe: fractions of the epochs where the lr drops by ``lr_decay``.
        lr_decay: factor of each drop.
        warmup_epochs: ``adamw`` recipe: linear warm-up length (may be fractional).
        grad_clip: clip the global gradient norm to this value; null = no clipping.
        label_smoothing: cross-entropy label smoothing.
        early_stopping: stop after this many epochs without improvement of ``monitor``; 0 = off.
        monitor: ``val_loss`` or ``val_acc``, for early stopping and ``keep: best``.
        keep: which weights go to ``model.safetensors``: ``best`` (best ``monitor``) or ``last``.
        sync_bn: under DDP, synchronise BatchNorm statistics across processes.
        seed: seeds model initialisation, shuffling, splits and noise.

    Runtime (may change on resume):
        device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
        amp: ``auto`` (bf16 autocast on CUDA, off on CPU), ``bf16`` or ``off``.
        compile: wrap the model in ``torch.compile``.
        num_threads: CPU threads per process; null = torch's default (divided by the local
            number of processes under torchrun).
        eval_batch_size: batch size for validation and test.
        checkpoint_every: also write ``last.ckpt`` every N optimiser steps (0 = at epoch ends only).
        progress: ``auto`` (a bar on a terminal, log lines otherwise), ``bar``, ``log`` or ``off``.
    """

    model: str = "drsn_cw_paper"
    model_args: dict[str, Any] = field(default_factory=dict)
    data: str = "simulator"
    data_args: dict[str, Any] = field(default_factory=dict)
    noise: Literal["none", "gaussian", "laplacian", "uniform", "pink", "brown"] = "gaussian"
    snr: Union[float, list[float], str, None] = 0.0
    noise_protocol: Literal["fixed", "fresh"] = "fixed"
    split: Literal["recording", "condition", "predefined", "window"] = "recording"
    test_fraction: float = 0.2
    test_conditions: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.1
    normalize: Literal["none", "per_sample"] = "none"
    recipe: Literal["paper", "adamw"] = "paper"
    epochs: int = 100
    batch_size: int = 128
    lr: Union[float, None] = None
    weight_decay: Union[float, None] = None
    momentum: float = 0.9
    milestones: list[float] = field(default_factory=lambda: [0.4, 0.8])
    lr_decay: float = 0.1
    warmup_epochs: float = 5.0
    grad_clip: Union[float, None] = None
    label_smoothing: float = 0.0
    early_stopping: int = 0
    monitor: Literal["val_loss", "val_acc"] = "val_loss"
    keep: Literal["best", "last"] = "best"
    sync_bn: bool = True
    seed: int = 0
    device: str = "auto"
    amp: Literal["auto", "bf16", "off"] = "auto"
    compile: bool = False
    num_threads: Union[int, None] = None
    eval_batch_size: int = 512
    checkpoint_every: int = 0
    progress: Literal["auto", "bar", "log", "off"] = "auto"

    # ------------------------------------------------------------------ conveniences
    def to_dict(self) -> dict[str, Any]:
        """The fields as plain (YAML/JSON-friendly) values, in declaration order."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some fields changed."""
        return config_from_dict({**self.to_dict(), **changes}, source="arguments")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_HINTS = typing.get_type_hints(TrainConfig)


# ---------------------------------------------------------------------- type checking
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` checked against ``tp`` (ints accepted for floats); raises TypeError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if isinstance(value, str) and value in typing.get_args(tp):
            return value
        raise TypeError
    if origin is Union:
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg)
            except TypeError:
                continue
        raise TypeError
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        (item,) = typing.get_args(tp)
        return [_coerce(v, item) for v in value]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise TypeError
        return dict(value)
    if tp is type(None):
        if value is None:
            return None
        raise TypeError
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError
    raise TypeError


def _unknown_key(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(_FIELDS), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint}")


def config_from_dict(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a mapping (e.g. parsed YAML).

    Args:
        values: key -> value; missing keys take their defaults.
        source: where the values came from (a file name), for error messages.

    Raises:
        ConfigError: an unknown key, a value of the wrong type or outside its choices, or a
            value out of range; the message names the key and ``source``.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a mapping of key: value, got {type(values).__name__}")
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or key not in _FIELDS:
            raise _unknown_key(str(key), source)
        try:
            checked[key] = _coerce(value, _HINTS[key])
        except TypeError:
            raise ConfigError(
                f"{source}: key {key!r} must be {_type_name(_HINTS[key])}, got {type(value).__name__} {value!r}"
            ) from None
    cfg = TrainConfig(**checked)
    _validate(cfg, source)
    return cfg


def _validate(cfg: TrainConfig, where: str) -> None:
    def bad(key: str, message: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} {message}, got {getattr(cfg, key)!r}")

    for key in ("epochs", "batch_size", "eval_batch_size"):
        if getattr(cfg, key) < 1:
            raise bad(key, "must be >= 1")
    for key in ("early_stopping", "checkpoint_every", "seed"):
        if getattr(cfg, key) < 0:
            raise bad(key, "must be >= 0")
    if cfg.num_threads is not None and not 1 <= cfg.num_threads <= 4096:
        raise bad("num_threads", "must be in [1, 4096] or null")
    if cfg.epochs > 1_000_000:
        raise bad("epochs", "must be <= 1000000 (a typo?)")
    if not 0.0 < cfg.test_fraction < 1.0:
        raise bad("test_fraction", "must be between 0 and 1 (exclusive)")
    if not 0.0 <= cfg.val_fraction < 1.0:
        raise bad("val_fraction", "must be in [0, 1)")
    for key in ("lr", "weight_decay", "grad_clip"):
        value = getattr(cfg, key)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise bad(key, "must be a non-negative number or null")
    if cfg.lr is not None and cfg.lr == 0:
        raise bad("lr", "must be > 0")
    if cfg.grad_clip is not None and cfg.grad_clip == 0:
        raise bad("grad_clip", "must be > 0 or null")
    if not 0.0 <= cfg.momentum < 1.0:
        raise bad("momentum", "must be in [0, 1)")
    if not 0.0 <= cfg.label_smoothing < 1.0:
        raise bad("label_smoothing", "must be in [0, 1)")
    if not 0.0 < cfg.lr_decay <= 1.0:
        raise bad("lr_decay", "must be in (0, 1]")
    if any(not 0.0 < m < 1.0 for m in cfg.milestones) or sorted(cfg.milestones) != cfg.milestones:
        raise bad("milestones", "must be increasing fractions of the epochs in (0, 1)")
    if not (math.isfinite(cfg.warmup_epochs) and cfg.warmup_epochs >= 0):
        raise bad("warmup_epochs", "must be >= 0")
    if cfg.device != "auto" and not (cfg.device in ("cpu", "cuda") or cfg.device.startswith("cuda:")):
        raise bad("device", "must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if cfg.device.startswith("cuda:") and not cfg.device[5:].isdigit():
        raise bad("device", "must be 'cuda:N' with an integer N")
    if cfg.noise != "none":
        if cfg.snr is None:
            raise ConfigError(f"{where}: key 'snr' is required when noise is {cfg.noise!r} (or set noise: none)")
        parse_snr(cfg.snr, f"{where}: key 'snr'")
    if cfg.split == "condition" and not cfg.test_conditions:
        raise ConfigError(
            f"{where}: key 'test_conditions' is required for split: condition, e.g. {{speed_hz: [40]}}"
        )
    if not cfg.model:
        raise bad("model", "must not be empty")
    reserved = sorted(set(cfg.model_args) & set(RESERVED_ARGS))
    if reserved:
        raise ConfigError(
            f"{where}: key 'model_args' must not set {', '.join(reserved)}: "
            "training takes the input channels and the number of classes from the data"
        )
    check_model_args(cfg.model_args, f"{where}: key 'model_args'")
    try:  # the preset and the arguments together: caught here, not after the data is loaded
        model_config(cfg.model, **cfg.model_args)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    if not cfg.data:
        raise bad("data", "must not be empty")


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


# ---------------------------------------------------------------------- YAML
MAX_YAML_NODES = 100_000
"""Largest YAML document (nodes, with aliases expanded) :func:`load_yaml` reads: a config or
study file has a few hundred; a "billion laughs" of nested aliases is refused before it grows."""

# The YAML 1.2 core schema's plain scalars (what a reader of the file expects), instead of
# PyYAML's YAML 1.1 ones: no sexagesimal numbers (1.1 reads `snr: 5:10` as 310 and `-5:5` as
# -305), no octal `010`, no yes/no/on/off booleans, no dates; and floats without a dot (1e-3,
# which 1.1 leaves a string). (tag, regexp, first characters), in the order they are tried.
_CORE_SCALARS: list[tuple[str, str, list[str]]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9_]*)$|^0x[0-9a-fA-F_]+$|^0o[0-7_]+$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$"
        r"|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
]


def _strict_loader() -> type:
    """A SafeLoader with the YAML 1.2 core scalars that refuses duplicate keys and oversized aliases."""
    global _STRICT_LOADER
    if _STRICT_LOADER is not None:
        return _STRICT_LOADER
    import re

    import yaml

    class StrictLoader(yaml.SafeLoader):
        yaml_implicit_resolvers: dict = {}

        def compose_document(self):  # type: ignore[no-untyped-def]
            node = super().compose_document()
            _check_yaml_size(node)
            return node

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue  # the base class reports unhashable keys
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None,
                            f"duplicate key {key!r} (first on line {seen[key] + 1}; only one may be given)",
                            key_node.start_mark,
                        )  # fmt: skip
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node):  # type: ignore[no-untyped-def]
            value = self.construct_scalar(node).replace("_", "")
            if value.startswith("0o"):
                return int(value[2:], 8)
            return int(value, 16) if value.startswith("0x") else int(value)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    for tag, regexp, first in _CORE_SCALARS:
        StrictLoader.add_implicit_resolver(tag, re.compile(regexp), first)
    _STRICT_LOADER = StrictLoader
    return StrictLoader


_STRICT_LOADER: type | None = None


def _check_yaml_size(node: Any) -> None:
    """Refuse recursive aliases and documents that expand to more than MAX_YAML_NODES nodes."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: Any) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.composer.ComposerError(None, None, "recursive alias (an anchor used inside itself)", n.start_mark)
        active.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            for child in n.value:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
                if total > MAX_YAML_NODES:
                    break
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"the document expands to more than {MAX_YAML_NODES:,} values (aliases nested too deep)", n.start_mark
            )  # fmt: skip
        sizes[key] = total
        return total

    if node is not None:
        size(node)


def load_yaml(text: str, source: str = "YAML") -> Any:
    """Parse YAML text safely: no Python objects, no duplicate keys, bounded aliases, YAML 1.2 scalars.

    Plain scalars follow the YAML 1.2 core schema: ``1e-3`` is a float, ``5:10`` and ``-5:5``
    stay strings (SNR ranges, not the base-60 integers 310 and -305 of YAML 1.1), ``yes``/``no``
    and dates stay strings, ``true``/``false`` are booleans.

    Args:
        text: the document.
        source: what it is (a file name, ``--set``), for the message.

    Raises:
        ConfigError: not valid YAML, a duplicate key, a recursive alias or a document that
            expands beyond :data:`MAX_YAML_NODES`; the message names ``source`` and the line.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506  # a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML ({_yaml_error_line(err)})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid YAML (nested too deeply)") from None


def _yaml_error_line(err: Exception) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


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


def _strict_dumper() -> type:
    """A SafeDumper that quotes every string :func:`load_yaml` would read as something else ('1e-3')."""
    global _STRICT_DUMPER
    if _STRICT_DUMPER is None:
        import re

        import yaml

        class StrictDumper(yaml.SafeDumper):
            pass

        for tag, regexp, first in _CORE_SCALARS:  # quote what either schema would read as no string
            StrictDumper.add_implicit_resolver(tag, re.compile(regexp), first)
        _STRICT_DUMPER = StrictDumper
    return _STRICT_DUMPER


_STRICT_DUMPER: type | None = None


def dump_yaml(values: Any, **kwargs: Any) -> str:
    """``values`` as YAML that :func:`load_yaml` reads back unchanged (keys in the given order)."""
    import yaml

    kwargs.setdefault("sort_keys", False)
    kwargs.setdefault("default_flow_style", None)
    return yaml.dump(values, Dumper=_strict_dumper(), **kwargs)


def to_yaml(cfg: TrainConfig) -> str:
    """The config as YAML (keys in declaration order), read back unchanged by :func:`load_config`."""
    return dump_yaml(cfg.to_dict())


def parse_key_values(items: list[str] | None, where: str) -> dict[str, Any]:
    """``["a=1", "b=[2, 3]"]`` -> ``{"a": 1, "b": [2, 3]}``; values are parsed as YAML.

    A value that is not valid YAML stays text (``name=a:b: c``); a key given twice takes the
    last value, as repeated command-line flags do.
    """
    out: dict[str, Any] = {}
    if items is not None and (isinstance(items, str) or not isinstance(items, (list, tuple))):
        raise ConfigError(f"{where}: expected a list of KEY=VALUE strings, got {type(items).__name__} {items!r:.60}")
    for item in items or []:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: expected KEY=VALUE, got {type(item).__name__} {item!r:.60}")
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{where}: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = load_yaml(text, f"{where} {key}") if text.strip() else None
        except ConfigError as err:
            if "duplicate key" in str(err) or "expands to more" in str(err) or "recursive alias" in str(err):
                raise
            out[key] = text
    return out


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any], *, source: str = "command line") -> TrainConfig:
    """``cfg`` with ``overrides`` applied (None values are ignored) and validated again."""
    values = cfg.to_dict()
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in _FIELDS:
            raise _unknown_key(key, source)
        values[key] = value
    # Errors name the override's source when it was the override that is wrong.
    try:
        return config_from_dict(values, source=source)
    except ConfigError:
        raise


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill in recipe defaults (``lr``, ``weight_decay``); the result is what ``config.yaml`` stores."""
    recipe = RECIPES[cfg.recipe]
    return dataclasses.replace(
        cfg,
        lr=recipe["lr"] if cfg.lr is None else cfg.lr,
        weight_decay=recipe["weight_decay"] if cfg.weight_decay is None else cfg.weight_decay,
    )


def config_hash(cfg: TrainConfig) -> str:
    """SHA-256 of the keys that change what a run computes (all but :data:`RUNTIME_KEYS`)."""
    values = {k: v for k, v in resolve(cfg).to_dict().items() if k not in RUNTIME_KEYS}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def config_diff(a: TrainConfig, b: TrainConfig, *, ignore_runtime: bool = True) -> list[str]:
    """Human-readable ``key: old -> new`` lines for the keys where two configs differ."""
    da, db = resolve(a).to_dict(), resolve(b).to_dict()
    return [
        f"{k}: {da[k]!r} -> {db[k]!r}"
        for k in da
        if da[k] != db[k] and not (ignore_runtime and k in RUNTIME_KEYS)
    ]
