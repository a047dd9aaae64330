"""A study's ``results.csv``: one row per finished run, appended under a lock, read back typed."""

from __future__ import annotations

import csv
import io
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepshrink.errors import ConfigError, DeepshrinkWarning
from deepshrink.study.spec import AXIS_DEFAULTS, RunSpec, StudySpec
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
        _drop_cut_row(path)
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


def _drop_cut_row(path: Path) -> None:
    """A ``results.csv`` whose last row was cut short (an interrupted write) loses that row, with a
    warning, before the next row is appended after it (appending would glue the two); the caller
    holds the lock."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:  # the last byte says it all (the whole file only when it is cut)
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
    data = path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    warnings.warn(f"{path}: the last row was cut short (an interrupted write); it is removed and its run runs "
                  "again", DeepshrinkWarning, stacklevel=3)  # fmt: skip
    atomic_write(path, keep)


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


def _text(path: Path, data: bytes) -> str:
    """``data`` as UTF-8, or a one-line error naming the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path}, line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); the file is damaged: "
                          "fix or delete that row (its run then runs again)") from None  # fmt: skip


def _cell(path: Path, line: int, key: str, text: str) -> Any:
    try:
        if key in _INT_COLUMNS:
            return int(float(text)) if text else None
        return float(text) if text else None
    except ValueError:
        raise ConfigError(f"{path}, line {line}: column {key!r} holds {text[:40]!r}, not a number; the file is "
                          "damaged: fix or delete that row (its run then runs again)") from None  # fmt: skip


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a ``results.csv`` (numbers parsed; empty cells None). A missing file gives ``[]``.

    Read strictly, never used silently when damaged: a last row cut short (a write that was
    interrupted) is left out with a one-line :class:`DeepshrinkWarning` (its run runs again);
    a run recorded twice counts once, its last row, with one warning; a row of the wrong length
    elsewhere, bad bytes or a non-number in a number column is a :class:`ConfigError` naming the
    file and line.
    """
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    text = _text(path, data)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return []
    rows: dict[str, dict[str, Any]] = {}
    repeated: list[int] = []
    cut = not text.endswith("\n")
    for cells in reader:
        line = reader.line_num
        if len(cells) != len(header):
            if cut and line == text.count("\n") + 1:  # the unterminated last line
                warnings.warn(f"{path}, line {line}: the last row is cut short (an interrupted write); it is left "
                              "out and its run runs again", DeepshrinkWarning, stacklevel=2)  # fmt: skip
                break
            if not any(c.strip() for c in cells):
                continue
            raise ConfigError(f"{path}, line {line}: {len(cells)} cells where the header has {len(header)}; the file "
                              "is damaged: fix or delete that row (its run then runs again)")  # fmt: skip
        raw = dict(zip(header, cells))
        if not raw.get("run_id"):
            continue
        row: dict[str, Any] = dict(_IMPLIED)
        for key, value in raw.items():
            value = (value or "").strip()
            if key in _INT_COLUMNS or key in _FLOAT_COLUMNS:
                row[key] = _cell(path, line, key, value)
            elif value or key not in _IMPLIED:
                row[key] = value
        if row["run_id"] in rows:
            repeated.append(line)
        rows[row["run_id"]] = row
    if repeated:
        warnings.warn(f"{path}: {len(repeated)} run(s) recorded more than once (lines {', '.join(map(str, repeated[:5]))}"
                      f"{', ...' if len(repeated) > 5 else ''}); the last row of each counts", DeepshrinkWarning,
                      stacklevel=2)  # fmt: skip
    return list(rows.values())
