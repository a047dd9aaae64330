"""Classification metrics and the files ``evaluate`` writes (numpy only; plots with matplotlib Agg).

* :func:`confusion_matrix`, :func:`classification_report`: accuracy, macro-F1, per-class
  precision / recall / F1 / support, and accuracy per SNR when the observations have several.
* :func:`write_report`: ``metrics.json``, ``confusion_matrix.csv``, ``confusion_matrix.png``,
  ``per_class.csv`` and, with SNRs, ``accuracy_by_snr.csv`` (and its figure) into a folder.
* :func:`plot_training_curves`: a run's loss and accuracy per epoch.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepshrink.figures import new_figure, save_png
from deepshrink.fileio import atomic_write

__all__ = [
    "confusion_matrix", "classification_report", "accuracy_by_snr", "write_report", "plot_confusion_matrix",
    "plot_training_curves", "plot_accuracy_by_snr",
]  # fmt: skip


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` = number of observations of class ``i`` predicted as ``j`` (int64, K x K)."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def accuracy_by_snr(y_true: np.ndarray, y_pred: np.ndarray, snr_db: np.ndarray, decimals: int = 0) -> list[dict[str, Any]]:
    """Accuracy per SNR, with SNRs rounded to ``decimals`` (whole dB by default)."""
    snr = np.round(np.asarray(snr_db, dtype=np.float64), decimals)
    rows = []
    for value in np.unique(snr):
        mask = snr == value
        rows.append({"snr_db": float(value), "count": int(mask.sum()), "accuracy": float((y_true[mask] == y_pred[mask]).mean())})
    return rows


def classification_report(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    label_names: Sequence[str],
    snr_db: Sequence[float] | np.ndarray | None = None,
    loss: float | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class metrics and the confusion matrix, JSON-friendly.

    Macro-F1 averages the F1 of the classes present in ``y_true`` or ``y_pred`` (a class with
    neither has no defined F1 and is left out, as in scikit-learn with ``labels`` unset).
    ``accuracy_by_snr`` is included when ``snr_db`` has more than one distinct (rounded) value.
    """
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    k = len(label_names)
    cm = confusion_matrix(t, p, k)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(1).astype(np.float64)
    predicted = cm.sum(0).astype(np.float64)
    recall = _safe_div(tp, support)
    precision = _safe_div(tp, predicted)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    present = (support + predicted) > 0
    report: dict[str, Any] = {
        "num_observations": int(t.size),
        "accuracy": float((t == p).mean()) if t.size else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "balanced_accuracy": float(recall[support > 0].mean()) if (support > 0).any() else float("nan"),
        "per_class": [
            {"class": name, "support": int(support[i]), "precision": float(precision[i]),
             "recall": float(recall[i]), "f1": float(f1[i])}
            for i, name in enumerate(label_names)
        ],  # fmt: skip
        "confusion_matrix": cm.tolist(),
        "label_names": list(label_names),
    }
    if loss is not None:
        report["loss"] = float(loss)
    if snr_db is not None:
        snr = np.asarray(snr_db, dtype=np.float64).reshape(-1)
        rows = accuracy_by_snr(t, p, snr)
        if len(rows) > 1:
            report["accuracy_by_snr"] = rows
    return report


def _figure(width: float, height: float, panels: int = 1) -> tuple[Any, list[Any]]:
    fig = new_figure(width, height)
    return fig, [fig.add_subplot(1, panels, k + 1) for k in range(panels)]


def plot_confusion_matrix(cm: np.ndarray, label_names: Sequence[str], path: str | os.PathLike, title: str = "") -> None:
    """A PNG of the row-normalised confusion matrix (counts printed in the cells)."""
    cm = np.asarray(cm)
    k = len(label_names)
    rows = cm.sum(1, keepdims=True)
    norm = _safe_div(cm.astype(np.float64), np.broadcast_to(rows, cm.shape).astype(np.float64))
    size = max(4.0, 0.6 * k + 2.0)
    fig, (ax,) = _figure(size + 1.0, size)
    im = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(k), labels=list(label_names), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels=list(label_names), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=10)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")  # fmt: skip
    save_png(fig, path)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "") -> None:
    """A PNG of loss and accuracy per epoch, training and (when there is one) validation: a run's
    ``metrics.csv`` at a glance (is it still improving? over-fitting? diverging?)."""
    fig, (loss_ax, acc_ax) = _figure(9.0, 3.4, panels=2)
    epochs = [int(r["epoch"]) for r in history]
    for ax, key, label in ((loss_ax, "loss", "cross-entropy loss"), (acc_ax, "acc", "accuracy")):
        ax.plot(epochs, [float(r[f"train_{key}"]) for r in history], label="training", color="tab:blue")
        val = [float(r.get(f"val_{key}", float("nan"))) for r in history]
        if any(np.isfinite(val)):
            ax.plot(epochs, val, label="validation", color="tab:orange")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    save_png(fig, path)


def plot_accuracy_by_snr(rows: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "") -> None:
    """A PNG of accuracy against SNR (``accuracy_by_snr`` rows of a report: ``snr_db``, ``count``, ``accuracy``)."""
    fig, (ax,) = _figure(5.0, 3.4)
    snrs = [float(r["snr_db"]) for r in rows]
    ax.plot(snrs, [100.0 * float(r["accuracy"]) for r in rows], marker="o", color="tab:blue")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path)


def _csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def write_report(report: dict[str, Any], directory: str | os.PathLike, prefix: str = "test", title: str = "") -> list[Path]:
    """Write a :func:`classification_report` as files named ``{prefix}_*`` into ``directory``.

    Files: ``{prefix}_metrics.json`` (everything), ``{prefix}_confusion_matrix.csv`` (rows are
    true classes), ``{prefix}_confusion_matrix.png``, ``{prefix}_per_class.csv`` and, when
    present, ``{prefix}_accuracy_by_snr.csv`` (with ``.png`` when there are several SNRs).

    Returns:
        The paths written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = report["label_names"]
    cm = np.asarray(report["confusion_matrix"])
    paths = []
    p = directory / f"{prefix}_metrics.json"
    atomic_write(p, (json.dumps(report, indent=2) + "\n").encode())
    paths.append(p)
    p = directory / f"{prefix}_confusion_matrix.csv"
    atomic_write(p, _csv_bytes(["true \\ predicted", *names], [[n, *map(int, row)] for n, row in zip(names, cm)]))
    paths.append(p)
    p = directory / f"{prefix}_confusion_matrix.png"
    plot_confusion_matrix(cm, names, p, title=title)
    paths.append(p)
    p = directory / f"{prefix}_per_class.csv"
    atomic_write(p, _csv_bytes(
        ["class", "support", "precision", "recall", "f1"],
        [[r["class"], r["support"], f"{r['precision']:.6f}", f"{r['recall']:.6f}", f"{r['f1']:.6f}"] for r in report["per_class"]],
    ))  # fmt: skip
    paths.append(p)
    if "accuracy_by_snr" in report:
        p = directory / f"{prefix}_accuracy_by_snr.csv"
        atomic_write(p, _csv_bytes(
            ["snr_db", "count", "accuracy"],
            [[f"{r['snr_db']:g}", r["count"], f"{r['accuracy']:.6f}"] for r in report["accuracy_by_snr"]],
        ))  # fmt: skip
        paths.append(p)
        if len(report["accuracy_by_snr"]) > 1:
            p = directory / f"{prefix}_accuracy_by_snr.png"
            plot_accuracy_by_snr(report["accuracy_by_snr"], p, title=title)
            paths.append(p)
    return paths
