"""Per-epoch scalars for TensorBoard (``deepshrink train --log tensorboard``), off by default.

The run folder's ``metrics.csv`` stays the record; this mirrors it into ``RUN/tensorboard/`` for
``tensorboard --logdir runs/``. The ``tensorboard`` package is needed only when this is asked for.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from deepshrink.errors import ConfigError

__all__ = ["TensorBoardLog", "TENSORBOARD_DIR", "require_tensorboard"]

TENSORBOARD_DIR = "tensorboard"
_SCALARS = (("loss/train", "train_loss"), ("loss/val", "val_loss"), ("accuracy/train", "train_acc"),
            ("accuracy/val", "val_acc"), ("lr", "lr"), ("seconds_per_epoch", "seconds"))  # fmt: skip


def _last_epoch(metrics_csv: Path) -> int:
    """The last epoch already in a run's ``metrics.csv`` (0 for a new run): a resumed run logs on from there."""
    if not metrics_csv.is_file():
        return 0
    with open(metrics_csv, newline="") as f:
        epochs = [int(float(row["epoch"])) for row in csv.DictReader(f) if row.get("epoch")]
    return max(epochs, default=0)


def require_tensorboard() -> None:
    """Fail before anything is written when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (lazy: needs the tensorboard package)
    except ImportError:
        raise ConfigError("--log tensorboard needs the tensorboard package: pip install tensorboard") from None


class TensorBoardLog:
    """Writes each new epoch of a run's history as TensorBoard scalars."""

    def __init__(self, run_dir: str | Path, metrics_csv: str | Path) -> None:
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.logged = _last_epoch(Path(metrics_csv))
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))

    def epochs(self, history: list[dict[str, Any]]) -> None:
        """Log the rows of ``history`` after the last epoch logged."""
        for row in history:
            epoch = int(row["epoch"])
            if epoch <= self.logged:
                continue
            for tag, key in _SCALARS:
                value = float(row.get(key, float("nan")))
                if value == value:  # NaN: no validation set
                    self.writer.add_scalar(tag, value, epoch)
            self.logged = epoch
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
