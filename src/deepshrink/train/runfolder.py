"""A run's folder: its name, the refusal to overwrite one, the files a run writes there
(:class:`RunWriter`: config, metrics, checkpoint, model) and its log.

A run folder looks like::

    runs/20250101-120000-drsn_cw_paper-simulator/
      config.yaml          the full resolved TrainConfig (re-run with --config config.yaml)
      metrics.csv          per epoch: train/val loss and accuracy, lr, seconds
      train.log            the log lines, with times
      config.json          model name and arguments, label names, input spec   } serialization.
      model.safetensors    weights (best validation epoch, or the last)         } save_pretrained
      last.ckpt            everything to resume (model, optimizer, schedule step, RNG states, ...)
      test_metrics.json    test accuracy, macro-F1, per-class recall, confusion matrix, per-SNR
      test_confusion_matrix.csv / .png, test_per_class.csv, [test_accuracy_by_snr.csv]

Only rank 0 writes. An existing folder is never overwritten without ``force=True``.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from deepshrink.errors import ConfigError
from deepshrink.fileio import atomic_write
from deepshrink.models.registry import build_model
from deepshrink.serialization import save_pretrained
from deepshrink.train.checkpoint import CKPT_NAME, save_checkpoint
from deepshrink.train.config import TrainConfig
from deepshrink.train.engine import METRIC_COLUMNS
from deepshrink.train.metrics import plot_training_curves
from deepshrink.train.prepare import RunData
from deepshrink.train.scalars import TensorBoardLog

__all__ = ["RunWriter", "check_new_output", "create_run_folder", "read_metrics", "run_folder_name"]

CONFIG_YAML = "config.yaml"
METRICS_CSV = "metrics.csv"
CURVES_PNG = "training_curves.png"
LOG_NAME = "train.log"
RUN_FILES = (CONFIG_YAML, METRICS_CSV, LOG_NAME, CKPT_NAME, "config.json", "model.safetensors")


# ---------------------------------------------------------------------- run folder
def _slug(text: str) -> str:
    p = Path(text)
    if "/" in text or os.sep in text or p.suffix:
        text = p.stem or p.name
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-.") or "data"


def run_folder_name(cfg: TrainConfig, stamp: str | None = None) -> str:
    """``<YYYYmmdd-HHMMSS>-<model>-<data>``."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{_slug(cfg.model)}-{_slug(cfg.data)}"


def _is_run_folder(path: Path) -> bool:
    entries = {p.name for p in path.iterdir()}
    return not entries or bool(entries & {CONFIG_YAML, CKPT_NAME})


def check_new_output(output: str | os.PathLike, force: bool) -> None:
    """Refuse an ``output`` that is a file, or a folder with files in it unless ``force``."""
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a folder")
    if path.is_dir() and not force and any(path.iterdir()):
        raise ConfigError(f"{path}: run folder already exists; pass --force to overwrite it, or --resume {path} to continue it")


def create_run_folder(cfg: TrainConfig, output: str | os.PathLike | None, runs_root: str | os.PathLike, force: bool) -> Path:
    """Make the run folder (rank 0): an explicit ``output`` or ``runs_root/<stamp>-<model>-<data>``.

    Raises:
        ConfigError: the folder exists (and is not empty) without ``force``; or ``force`` would
            delete a folder that does not look like a run folder.
    """
    if output is not None:
        path = Path(output)
        if path.exists():
            check_new_output(path, force)
            if any(path.iterdir()):
                if not _is_run_folder(path):
                    raise ConfigError(f"{path}: --force refused: the folder does not look like a run folder (no config.yaml or last.ckpt)")
                shutil.rmtree(path)
    else:
        root = Path(runs_root)
        base = run_folder_name(cfg)
        path = root / base
        n = 2
        while path.exists():  # never reuse an existing auto-named folder
            path = root / f"{base}-{n}"
            n += 1
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return str(value)


def plain_model(config: dict[str, Any], state: dict[str, Tensor], model_name: str | None) -> nn.Module:
    """A fresh model of ``config`` carrying ``state`` (kept weights, or a cohort's slice)."""
    model = build_model(config)
    model.load_state_dict(state)
    model.model_name = model_name
    return model


def run_writer(cfg: TrainConfig, data: RunData, run_dir: Path) -> RunWriter:
    """The writer of one run's folder: its ``config.json`` records the input spec, config and data."""
    input_spec = {"length": data.length, "sampling_rate": data.sampling_rate, "normalize": cfg.normalize}
    extra = {"train_config": cfg.to_dict(), "data": data.info}
    return RunWriter(run_dir, data.label_names, input_spec, extra)


def tensorboard_log(cfg: TrainConfig, run_dir: Path) -> TensorBoardLog | None:
    """The run's TensorBoard log when ``cfg.log`` asks for one (its metrics.csv says where a resumed run was)."""
    return TensorBoardLog(run_dir, run_dir / METRICS_CSV) if cfg.log == "tensorboard" else None


class RunWriter:
    """Writes a run's files (call on rank 0 only); ``scalars`` mirrors each epoch elsewhere (TensorBoard)."""

    def __init__(self, run_dir: Path, label_names: list[str], input_spec: dict[str, Any], extra: dict[str, Any],
                 scalars: TensorBoardLog | None = None) -> None:  # fmt: skip
        self.run_dir = Path(run_dir)
        self.label_names = label_names
        self.input_spec = input_spec
        self.extra = extra
        self.scalars = scalars
        self.wrote = False  # a file of the run was replaced (each write is whole or not at all)

    def checkpoint(self, state: dict[str, Any]) -> None:
        save_checkpoint(state, self.run_dir / CKPT_NAME)
        self.wrote = True

    def metrics(self, history: list[dict[str, Any]]) -> None:
        lines = [",".join(METRIC_COLUMNS)]
        lines += [",".join(_fmt(row.get(c, "")) for c in METRIC_COLUMNS) for row in history]
        atomic_write(self.run_dir / METRICS_CSV, ("\n".join(lines) + "\n").encode())
        self.wrote = True
        if self.scalars is not None:
            self.scalars.epochs(history)

    def curves(self, history: list[dict[str, Any]], title: str = "") -> None:
        """``training_curves.png``: loss and accuracy per epoch, as in ``metrics.csv``."""
        if history:
            plot_training_curves(history, self.run_dir / CURVES_PNG, title=title)

    def model(self, model: nn.Module, state: dict[str, Tensor] | None = None) -> None:
        if state is not None:  # the best weights: a plain copy of the model carrying them
            model = plain_model(model.config, state, getattr(model, "model_name", None))
        save_pretrained(model, self.run_dir, label_names=self.label_names, input_spec=self.input_spec, extra=self.extra)
        self.wrote = True


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """``metrics.csv`` of a run as a list of dicts of floats."""
    path = Path(run_dir) / METRICS_CSV
    with open(path, newline="") as f:
        return [{k: float(v) if v != "" else float("nan") for k, v in row.items()} for row in csv.DictReader(f)]


# ---------------------------------------------------------------------- logging
RUN_LOGGER = "deepshrink.train.run"
COHORT_LOGGER = "deepshrink.train.cohort"


class _LogFile(logging.FileHandler):
    """``train.log``: a line that cannot be written (a full disk) is dropped quietly; the run's
    next file write fails with the one-line error instead of logging's traceback per line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def make_logger(run_dir: Path | None, console: bool, name: str = RUN_LOGGER) -> tuple[logging.Logger, list[logging.Handler]]:
    """Logger ``name`` writing to stdout (``console``) and ``run_dir/train.log`` (a folder given)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handlers: list[logging.Handler] = []
    if console:
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(logging.Formatter("%(message)s"))
        handlers.append(h)
    if run_dir is not None:
        h = _LogFile(run_dir / LOG_NAME, encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        handlers.append(h)
    for h in handlers:
        logger.addHandler(h)
    return logger, handlers


def close_logger(name: str, handlers: list[logging.Handler]) -> None:
    """Close and detach the handlers :func:`make_logger` added (the logger outlives the run)."""
    for h in handlers:
        h.close()
        logging.getLogger(name).removeHandler(h)
