"""A study's ``results.csv``: one row per finished run, appended under a lock, read back typed."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepshrink.experiments.spec import AXIS_DEFAULTS, RunSpec, StudySpec
from deepshrink.fileio import atomic_write, csv_cell, locked

__all__ = ["RESULT_COLUMNS", "append_result", "read_results", "result_row"]

RESULT_COLUMNS = (
    "run_id", "model", "noise", "snr_db", "seed", "fold", "train_acc", "test_acc", "test_macro_f1",
    "test_loss", "seconds", "total_seconds", "epochs", "parameters", "n_train", "n_test",
    "noise_protocol", "data", "device", "finished", "num_classes", "status", "stack", "normalize", "split",
    "predict_seconds",
)  # fmt: skip
"""Columns of ``results.csv``. ``train_acc`` is the running accuracy of the last epoch on the
noisy training set (as the paper's training accuracy); ``seconds`` the training time (the sum
of the epochs, Table V), ``total_seconds`` the whole run including data and test; for a run
trained in a cohort of ``stack`` runs (one stacked network) both are the cohort's times divided
by ``stack``. ``status`` is ``finished``, ``stopped`` (early stopping) or ``diverged`` (NaN/Inf;
no test numbers, left out of the report). ``noise_protocol``, ``normalize`` and ``split`` are the
run's study axes; a ``clean``-protocol cell tested at a noise level is an evaluation of its clean
run (it repeats that run's train numbers, its ``seconds`` are 0). ``predict_seconds``: the time a
model without epochs (MiniRocket) took to predict the test set; its ``seconds`` are its fit."""



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



def append_result(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Append one row to ``results.csv`` (header written first if the file is new), under a lock.

    A file written by an older version, whose header lacks some of :data:`RESULT_COLUMNS`,
    is first rewritten with the full header (its rows keep their values, the new columns get
    the values they implied: see :func:`read_results`), so no column of a new row is lost.
    """
    path = Path(path)
    with locked(path):
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
        writer.writerow([csv_cell(row.get(c)) for c in columns])
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())


def _rewrite_with_header(path: Path, columns: list[str]) -> None:
    """Rewrite ``results.csv`` with ``columns`` (a superset of its header), atomically; the
    caller holds the lock."""
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
_IMPLIED = dict(AXIS_DEFAULTS)
_INT_COLUMNS = {"seed", "fold", "epochs", "parameters", "n_train", "n_test", "num_classes", "stack"}
_FLOAT_COLUMNS = {"snr_db", "train_acc", "test_acc", "test_macro_f1", "test_loss", "seconds", "total_seconds",
                  "predict_seconds"}


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


