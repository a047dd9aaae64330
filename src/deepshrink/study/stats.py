"""The numbers of a study report: means, stds, Student-t intervals, paired differences, verdicts.

Pure functions of ``results.csv`` rows (:func:`deepshrink.study.results.read_results`);
:mod:`deepshrink.study.report` and :mod:`deepshrink.study.plots` turn them into
text and figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.stats

from deepshrink.study.spec import AXES, DEFAULT_SETTING, FEATURE_MODELS
from deepshrink.models import is_model, model_family, model_label

__all__ = [
    "aggregate", "axis_differences", "chance_level", "ci95", "complete_repetitions", "display_name", "finished_rows",
    "mean_std", "overall_table", "paired_differences", "pick_baseline", "repetition_differences", "setting_label",
    "setting_of",
    "summary_rows", "time_table", "verdict",
]  # fmt: skip


def display_name(model: str) -> str:
    """The registry's label (``resnet_paper6`` -> ``ResNet (paper6)``, ``minirocket`` -> ``MiniRocket``);
    a name it does not know, as is."""
    return model_label(model) if is_model(model) else FEATURE_MODELS.get(model, model)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value; NaN for none)."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """The 95 % confidence interval ``(low, high)`` of the mean of ``values`` (Student's t; NaN below 2 values)."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size < 2:
        return float("nan"), float("nan")
    half = float(scipy.stats.t.ppf(0.975, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return float(v.mean()) - half, float(v.mean()) + half


Setting = tuple[str, str, str]
"""(noise protocol, normalize, split) of a row."""


_PROTOCOL_TEXT = {"fixed": "noise added once (the paper's)", "fresh": "training noise redrawn every epoch",
                  "clean": "trained on clean signals, tested at each noise level"}  # fmt: skip


_NORMALIZE_TEXT = {"none": "raw input", "per_sample": "per-window standardised input"}


_SPLIT_TEXT = {"recording": "split by recording (leak-free)",
               "window": "LEAKY split by window (the paper's: windows of one recording on both sides)",
               "condition": "split by operating condition", "predefined": "the dataset's own train/test split"}  # fmt: skip


def setting_of(row: dict[str, Any]) -> Setting:
    """The study axes of a ``results.csv`` row (older files: the defaults)."""
    return tuple(row.get(axis) or default for axis, default in zip(AXES, DEFAULT_SETTING))  # type: ignore[return-value]


def setting_label(setting: Setting, markdown: bool = False) -> str:
    """``noise added once (the paper's); raw input; split by recording (leak-free)``; leaky splits say so."""
    protocol, normalize, split = setting
    text = "; ".join([_PROTOCOL_TEXT.get(protocol, protocol), _NORMALIZE_TEXT.get(normalize, normalize),
                      _SPLIT_TEXT.get(split, split)])  # fmt: skip
    return text.replace("LEAKY", "**LEAKY**") if markdown else text


def verdict(name: str, baseline: str, mean: float, ci: tuple[float, float], n: int) -> str:
    """One sentence: ``name`` ahead of, behind, or not distinguishable from ``baseline``."""
    low, high = ci
    points = f"{100 * mean:+.2f} points"
    if math.isnan(low):
        return f"{name} vs {baseline}: {points} from {n} repetition(s), too few for an interval"
    interval = f"95 % CI [{100 * low:+.2f}, {100 * high:+.2f}], {n} repetitions"
    if low > 0:
        return f"{name} is ahead of {baseline}: {points} ({interval})"
    if high < 0:
        return f"{name} is behind {baseline}: {points} ({interval})"
    return f"{name} and {baseline} are not distinguishable at {n} repetitions: {points} ({interval}; it holds 0)"


def finished_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with test numbers (a diverged run has none)."""
    return [r for r in rows if r.get("status") != "diverged" and r.get("test_acc") is not None]


def repetition_of(row: dict[str, Any]) -> tuple[int, int]:
    return (int(row["seed"]), -1 if row.get("fold") is None else int(row["fold"]))


def in_order(values: Sequence[Any], order: Sequence[Any] | None = None) -> list[Any]:
    seen = list(dict.fromkeys(values))
    if order:
        return [v for v in order if v in seen] + [v for v in seen if v not in order]
    return seen


_BASELINE_FAMILIES = ("resnet", "convnet")
"""Families a study's models are compared with, in order of preference: the paper's baselines."""


def pick_baseline(models: Sequence[str]) -> str | None:
    """The comparison baseline: the first ResNet of ``models`` (by the registry), else the first ConvNet, else None."""
    for family in _BASELINE_FAMILIES:
        for m in models:
            if is_model(m) and model_family(m) == family:
                return m
    return None


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, float | None], dict[str, Any]]:
    """Per (model, noise, SNR): the number of repetitions and mean ± std of each metric."""
    groups: dict[tuple[str, str, float | None], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["noise"], r.get("snr_db"))].append(r)
    out = {}
    for key, rs in groups.items():
        out[key] = {
            "n": len(rs),
            "test_acc": mean_std([r["test_acc"] for r in rs]),
            "train_acc": mean_std([r["train_acc"] for r in rs]),
            "macro_f1": mean_std([r.get("test_macro_f1") for r in rs]),
            "seconds": mean_std([r.get("seconds") for r in rs]),
        }
    return out


def complete_repetitions(per_rep: dict[Any, dict[Any, float]]) -> dict[Any, list[float]]:
    """The repetitions that have every cell any repetition has, with their values: averages
    over a repetition's cells then always cover the same cells (a partial study, say seeds 3
    and 4 at one SNR only, must not mix a 2-cell average with a 9-cell one)."""
    cells = {c for by_cell in per_rep.values() for c in by_cell}
    return {rep: list(by_cell.values()) for rep, by_cell in per_rep.items() if set(by_cell) == cells}


def overall_table(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """Table III: per model, mean ± std over repetitions of the accuracy averaged over all cells.

    A repetition counts only if it has every cell of the model (:func:`complete_repetitions`);
    ``cells`` and ``reps`` say what went in, ``grid_cells`` how many cells the models have
    together, and ``full_grid`` whether this model has all of them (models measured on fewer
    cells are averaged over those only: not comparable).
    """
    grid = {(r["noise"], r.get("snr_db")) for r in rows if r["model"] in models}
    table = []
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        by_rep: dict[tuple[int, int], dict[Any, dict[str, Any]]] = defaultdict(dict)
        for r in mine:
            by_rep[repetition_of(r)][(r["noise"], r.get("snr_db"))] = r
        complete = complete_repetitions(by_rep)
        test = [float(np.mean([r["test_acc"] for r in v])) for v in complete.values()]
        train = [float(np.mean([r["train_acc"] for r in v])) for v in complete.values()]
        cells = {(r["noise"], r.get("snr_db")) for r in mine}
        table.append({"model": model, "test": mean_std(test), "train": mean_std(train), "cells": len(cells),
                      "grid_cells": len(grid), "full_grid": cells == grid, "reps": len(complete), "runs": len(mine),
                      "ci95": ci95(test)})  # fmt: skip
    return table


def _paired(rows: Sequence[dict[str, Any]], baseline: str, model: str
            ) -> tuple[dict[tuple[str, float | None], list[float]], dict[Any, dict[Any, float]]]:  # fmt: skip
    """``model`` minus ``baseline`` in the same repetition: by cell, and by repetition then cell."""
    index = {(r["model"], r["noise"], r.get("snr_db"), repetition_of(r)): r["test_acc"] for r in rows}
    per_cell: dict[tuple[str, float | None], list[float]] = defaultdict(list)
    per_rep: dict[Any, dict[Any, float]] = defaultdict(dict)
    for (m, noise, snr, rep), acc in index.items():
        if m != model:
            continue
        base = index.get((baseline, noise, snr, rep))
        if base is None:
            continue
        per_cell[(noise, snr)].append(acc - base)
        per_rep[rep][(noise, snr)] = acc - base
    return per_cell, per_rep


def repetition_differences(rows: Sequence[dict[str, Any]], baseline: str, model: str) -> dict[Any, float]:
    """Per repetition (seed, fold): ``model`` minus ``baseline``, averaged over the cells, for the
    repetitions that have every cell (:func:`complete_repetitions`): the values behind the
    ``all`` row of :func:`paired_differences`."""
    _, per_rep = _paired(rows, baseline, model)
    complete = complete_repetitions(per_rep)
    return {rep: float(np.mean(v)) for rep, v in sorted(complete.items())}


def paired_differences(
    rows: Sequence[dict[str, Any]], baseline: str, models: Sequence[str]
) -> list[dict[str, Any]]:
    """Per (model, noise, SNR): test accuracy of ``model`` minus ``baseline`` in the same repetition.

    Returns rows with ``diff`` (mean, std), ``wins`` (repetitions where the model was ahead),
    ``ties`` and ``n`` (paired repetitions); and an ``all`` row per model over every paired cell
    (``cells``), averaged per repetition first, over the repetitions that have them all (as
    :func:`overall_table`).
    """
    out = []
    for model in models:
        if model == baseline:
            continue
        per_cell, per_rep = _paired(rows, baseline, model)
        for (noise, snr), diffs in per_cell.items():
            out.append({"model": model, "noise": noise, "snr_db": snr, "diff": mean_std(diffs), "n": len(diffs),
                        "wins": sum(d > 0 for d in diffs), "ties": sum(d == 0 for d in diffs), "ci95": ci95(diffs),
                        "reps": len(diffs)})  # fmt: skip
        complete = complete_repetitions(per_rep)
        if complete:
            rep_means = [float(np.mean(v)) for v in complete.values()]
            all_diffs = [d for v in complete.values() for d in v]
            out.append({"model": model, "noise": "all", "snr_db": None, "diff": mean_std(rep_means),
                        "n": len(all_diffs), "wins": sum(d > 0 for d in all_diffs),
                        "ties": sum(d == 0 for d in all_diffs), "ci95": ci95(rep_means), "cells": len(per_cell),
                        "reps": len(rep_means), "reps_ahead": sum(d > 0 for d in rep_means)})  # fmt: skip
    return out


def axis_differences(rows: Sequence[dict[str, Any]], axis: int, reference: str, other: str) -> list[dict[str, Any]]:
    """Per (model, noise, SNR, rest of the setting): test accuracy with ``other`` minus with
    ``reference`` as value of setting ``axis`` (0 protocol, 1 normalize, 2 split), paired by
    repetition; an ``all`` row per (model, rest) averages each repetition's cells first, over the
    repetitions that have every cell (:func:`complete_repetitions`).

    Returns rows with ``model``, ``noise``, ``snr_db``, ``rest`` (the other two axis values),
    ``diff`` (mean, std), ``ci95``, ``n``, ``wins``.
    """
    index: dict[tuple[Any, ...], float] = {}
    for r in rows:
        st = setting_of(r)
        rest = tuple(v for k, v in enumerate(st) if k != axis)
        index[(r["model"], r["noise"], r.get("snr_db"), rest, st[axis], repetition_of(r))] = r["test_acc"]
    cells: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    per_rep: dict[tuple[Any, ...], dict[tuple[int, int], dict[Any, float]]] = defaultdict(lambda: defaultdict(dict))
    for (model, noise, snr, rest, value, rep), acc in index.items():
        if value != other:
            continue
        ref = index.get((model, noise, snr, rest, reference, rep))
        if ref is None:
            continue
        cells[(model, noise, snr, rest)].append(acc - ref)
        per_rep[(model, rest)][rep][(noise, snr)] = acc - ref
    out = [{"model": m, "noise": n, "snr_db": s, "rest": rest, "diff": mean_std(d), "ci95": ci95(d), "n": len(d),
            "wins": sum(x > 0 for x in d)} for (m, n, s, rest), d in cells.items()]  # fmt: skip
    for (model, rest), reps in per_rep.items():
        means = [float(np.mean(v)) for v in complete_repetitions(reps).values()]
        if means:
            out.append({"model": model, "noise": "all", "snr_db": None, "rest": rest, "diff": mean_std(means),
                        "ci95": ci95(means), "n": len(means), "wins": sum(x > 0 for x in means)})  # fmt: skip
    return out


def time_table(rows: Sequence[dict[str, Any]], models: Sequence[str], baseline: str | None) -> list[dict[str, Any]]:
    """Table V: training seconds per run (mean ± std), relative to the baseline, and parameters."""
    base_mean = None
    if baseline is not None:
        base_mean = mean_std([r["seconds"] for r in rows if r["model"] == baseline])[0]
    table = []
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        sec = mean_std([r["seconds"] for r in mine])
        params = next((r["parameters"] for r in mine if r.get("parameters")), None)
        epochs = mean_std([r.get("epochs") for r in mine])[0]
        rel = sec[0] / base_mean if base_mean else float("nan")
        table.append({"model": model, "seconds": sec, "relative": rel, "parameters": params,
                      "per_epoch": sec[0] / epochs if epochs else float("nan")})  # fmt: skip
    return table


def summary_rows(rows: Sequence[dict[str, Any]], models: Sequence[str], noises: Sequence[str],
                 snrs: Sequence[float | None]) -> list[dict[str, Any]]:  # fmt: skip
    """One row per (model, noise, SNR) with means and stds (the content of ``summary.csv``)."""
    agg = aggregate(rows)
    out = []
    for noise in noises:
        for snr in snrs:
            for model in models:
                a = agg.get((model, noise, snr))
                if a is None:
                    continue
                out.append({"model": model, "noise": noise, "snr_db": snr, "n": a["n"],
                            "test_acc_mean": a["test_acc"][0], "test_acc_std": a["test_acc"][1],
                            "train_acc_mean": a["train_acc"][0], "train_acc_std": a["train_acc"][1],
                            "macro_f1_mean": a["macro_f1"][0], "macro_f1_std": a["macro_f1"][1],
                            "seconds_mean": a["seconds"][0]})  # fmt: skip
    return out


def chance_level(rows: Sequence[dict[str, Any]]) -> float | None:
    """1 / number of classes when every row agrees on it (``num_classes`` column), else None."""
    ks = {r.get("num_classes") for r in rows}
    if len(ks) == 1 and None not in ks and ks != {0}:
        return 1.0 / float(next(iter(ks)))
    return None
