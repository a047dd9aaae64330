"""The study report: mean ± std tables (Tables III and V of the paper, Figs. 6-8 as tables) and figures.

From the rows of ``results.csv`` (:func:`deepshrink.experiments.study.read_results`):

* **overall** (Table III): per model, the test (and train) accuracy averaged over every noise
  kind and SNR of the study, then mean ± std over the repetitions (seeds or folds). The std is
  thus the spread of a whole study's average from one repetition to the next (as the paper's
  10-fold std), not the spread across noise levels.
* **per noise kind** (Figs. 6-8): one table per noise kind, a row per SNR, a column per model,
  mean ± std of the test accuracy over the repetitions, the best mean in bold.
* **paired differences**: each other model minus the baseline (ResNet when present) in the
  same cell and repetition (same split, noise and seed), mean ± std, the 95 % confidence
  interval of the mean difference (Student's t over the repetitions), in how many of the
  repetitions the model was ahead, and a verdict: ahead, behind, or not distinguishable at this
  number of repetitions (the interval holds 0).
* **settings**: a study crossed with its axes (noise protocol, normalisation, split; see
  :mod:`deepshrink.experiments.study`) gets the tables above once per setting, each headed by
  the setting (a ``window`` split is marked **LEAKY**), then the paired effect of each axis:
  the same model, cell and repetition under two values of one axis (e.g. window − recording:
  the points the leak adds).

Runs that diverged (``status`` ``diverged`` in ``results.csv``) have no test numbers; they are
counted in the setup and left out of every table.
* **time** (Table V): training seconds per run, mean ± std, relative to the baseline; parameters.

All numbers are percentages with two decimals, as in the paper.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepshrink.errors import ConfigError

__all__ = [
    "aggregate",
    "overall_table",
    "paired_differences",
    "time_table",
    "summary_rows",
    "format_markdown_report",
    "format_console_table",
    "write_study_report",
    "pick_baseline",
    "mean_std",
    "chance_level",
    "display_name",
    "ci95",
    "finished_rows",
    "setting_of",
    "setting_label",
    "axis_differences",
    "verdict",
]

SUMMARY_COLUMNS = ("model", "noise", "snr_db", "n", "test_acc_mean", "test_acc_std", "train_acc_mean",
                   "train_acc_std", "macro_f1_mean", "macro_f1_std", "seconds_mean")  # fmt: skip

_DISPLAY = {
    "convnet": "ConvNet", "resnet": "ResNet", "se_resnet": "SE-ResNet", "drsn_cs": "DRSN-CS", "drsn_cw": "DRSN-CW",
}  # fmt: skip


def display_name(model: str) -> str:
    """``drsn_cw_paper`` -> ``DRSN-CW``, ``resnet_paper6`` -> ``ResNet (paper6)``; others as is."""
    for family in sorted(_DISPLAY, key=len, reverse=True):
        if model.startswith(family + "_") or model == family:
            rest = model[len(family) + 1 :]
            return _DISPLAY[family] + ("" if rest in ("", "paper") else f" ({rest})")
    return model


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value; NaN for none)."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (then the normal's 1.96)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """The 95 % confidence interval ``(low, high)`` of the mean of ``values`` (Student's t; NaN below 2 values)."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size < 2:
        return float("nan"), float("nan")
    t = _T975[v.size - 2] if v.size - 1 <= len(_T975) else 1.96
    half = t * float(v.std(ddof=1)) / math.sqrt(v.size)
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
    return (row.get("noise_protocol") or "fixed", row.get("normalize") or "none", row.get("split") or "recording")


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


def _pct(mean: float, std: float | None = None, bold: bool = False) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{100 * mean:.2f}" + ("" if std is None or math.isnan(std) else f" ± {100 * std:.2f}")
    return f"**{text}**" if bold else text


def _rep(row: dict[str, Any]) -> tuple[int, int]:
    return (int(row["seed"]), -1 if row.get("fold") is None else int(row["fold"]))


def _ordered(values: Sequence[Any], order: Sequence[Any] | None = None) -> list[Any]:
    seen = list(dict.fromkeys(values))
    if order:
        return [v for v in order if v in seen] + [v for v in seen if v not in order]
    return seen


def pick_baseline(models: Sequence[str]) -> str | None:
    """The comparison baseline: the first ``resnet_*`` model, else the first ``convnet_*``, else None."""
    for family in ("resnet_", "convnet_"):
        for m in models:
            if m.startswith(family):
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


def overall_table(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """Table III: per model, mean ± std over repetitions of the accuracy averaged over all cells.

    A repetition counts only if it has every cell of the model (so partial studies do not mix
    averages over different cells); ``cells`` and ``reps`` say what went in.
    """
    table = []
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        cells = {(r["noise"], r.get("snr_db")) for r in mine}
        by_rep: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
        for r in mine:
            by_rep[_rep(r)].append(r)
        complete = {k: v for k, v in by_rep.items() if {(r["noise"], r.get("snr_db")) for r in v} == cells}
        test = [float(np.mean([r["test_acc"] for r in v])) for v in complete.values()]
        train = [float(np.mean([r["train_acc"] for r in v])) for v in complete.values()]
        table.append({"model": model, "test": mean_std(test), "train": mean_std(train), "cells": len(cells),
                      "reps": len(complete), "runs": len(mine), "ci95": ci95(test)})  # fmt: skip
    return table


def paired_differences(
    rows: Sequence[dict[str, Any]], baseline: str, models: Sequence[str]
) -> list[dict[str, Any]]:
    """Per (model, noise, SNR): test accuracy of ``model`` minus ``baseline`` in the same repetition.

    Returns rows with ``diff`` (mean, std), ``wins`` (repetitions where the model was ahead),
    ``ties`` and ``n`` (paired repetitions); and an ``all`` row per model over every cell,
    averaged per repetition first (as :func:`overall_table`).
    """
    index = {(r["model"], r["noise"], r.get("snr_db"), _rep(r)): r["test_acc"] for r in rows}
    out = []
    for model in models:
        if model == baseline:
            continue
        per_cell: dict[tuple[str, float | None], list[float]] = defaultdict(list)
        per_rep: dict[tuple[int, int], list[float]] = defaultdict(list)
        for (m, noise, snr, rep), acc in index.items():
            if m != model:
                continue
            base = index.get((baseline, noise, snr, rep))
            if base is None:
                continue
            per_cell[(noise, snr)].append(acc - base)
            per_rep[rep].append(acc - base)
        for (noise, snr), diffs in per_cell.items():
            out.append({"model": model, "noise": noise, "snr_db": snr, "diff": mean_std(diffs), "n": len(diffs),
                        "wins": sum(d > 0 for d in diffs), "ties": sum(d == 0 for d in diffs), "ci95": ci95(diffs),
                        "reps": len(diffs)})  # fmt: skip
        if per_rep:
            rep_means = [float(np.mean(v)) for v in per_rep.values()]
            all_diffs = [d for v in per_cell.values() for d in v]
            out.append({"model": model, "noise": "all", "snr_db": None, "diff": mean_std(rep_means),
                        "n": len(all_diffs), "wins": sum(d > 0 for d in all_diffs),
                        "ties": sum(d == 0 for d in all_diffs), "ci95": ci95(rep_means),
                        "reps": len(rep_means), "reps_ahead": sum(d > 0 for d in rep_means)})  # fmt: skip
    return out


def axis_differences(rows: Sequence[dict[str, Any]], axis: int, reference: str, other: str) -> list[dict[str, Any]]:
    """Per (model, noise, SNR, rest of the setting): test accuracy with ``other`` minus with
    ``reference`` as value of setting ``axis`` (0 protocol, 1 normalize, 2 split), paired by
    repetition; an ``all`` row per (model, rest) averages each repetition's cells first.

    Returns rows with ``model``, ``noise``, ``snr_db``, ``rest`` (the other two axis values),
    ``diff`` (mean, std), ``ci95``, ``n``, ``wins``.
    """
    index: dict[tuple[Any, ...], float] = {}
    for r in rows:
        st = setting_of(r)
        rest = tuple(v for k, v in enumerate(st) if k != axis)
        index[(r["model"], r["noise"], r.get("snr_db"), rest, st[axis], _rep(r))] = r["test_acc"]
    cells: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    per_rep: dict[tuple[Any, ...], dict[tuple[int, int], list[float]]] = defaultdict(lambda: defaultdict(list))
    for (model, noise, snr, rest, value, rep), acc in index.items():
        if value != other:
            continue
        ref = index.get((model, noise, snr, rest, reference, rep))
        if ref is None:
            continue
        cells[(model, noise, snr, rest)].append(acc - ref)
        per_rep[(model, rest)][rep].append(acc - ref)
    out = [{"model": m, "noise": n, "snr_db": s, "rest": rest, "diff": mean_std(d), "ci95": ci95(d), "n": len(d),
            "wins": sum(x > 0 for x in d)} for (m, n, s, rest), d in cells.items()]  # fmt: skip
    for (model, rest), reps in per_rep.items():
        means = [float(np.mean(v)) for v in reps.values()]
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


def fill_num_classes(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike) -> None:
    """Fill a missing ``num_classes`` from the run folder's ``config.json`` (older results files)."""
    import json

    for r in rows:
        if r.get("num_classes"):
            continue
        cfg = Path(out_dir) / "runs" / r["run_id"] / "config.json"
        try:
            r["num_classes"] = int(json.loads(cfg.read_text())["model_args"]["num_classes"])
        except (OSError, ValueError, KeyError, TypeError):
            pass


def _axes(rows: Sequence[dict[str, Any]], spec: Any | None) -> tuple[list[str], list[str], list[float | None]]:
    models = _ordered([r["model"] for r in rows], getattr(spec, "models", None))
    noises = _ordered([r["noise"] for r in rows], getattr(spec, "noises", None))
    snr_values = {r.get("snr_db") for r in rows}
    snrs: list[float | None] = sorted(v for v in snr_values if v is not None)
    if None in snr_values:
        snrs.append(None)
    return models, noises, snrs


def _snr_label(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g} dB"


def _md_table(header: Sequence[str], body: Sequence[Sequence[str]], align: str | None = None) -> list[str]:
    align = align or ("l" + "r" * (len(header) - 1))
    marks = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return lines


def format_console_table(rows: Sequence[dict[str, Any]], spec: Any | None = None) -> str:
    """A plain-text table for the terminal, per setting: mean ± std test accuracy (%) per
    noise/SNR and model, then each model's paired difference to the baseline with its 95 %
    confidence interval and verdict, over all cells and per cell."""
    diverged = len(rows) - len(finished_rows(rows))
    rows = finished_rows(rows)
    if not rows:
        return "no finished runs" + (f" ({diverged} diverged)" if diverged else "")
    models, noises, snrs = _axes(rows, spec)
    settings = _settings(rows, spec)
    lines: list[str] = []
    for st in settings:
        mine = [r for r in rows if setting_of(r) == st]
        if len(settings) > 1 or st != ("fixed", "none", "recording"):
            lines += ([""] if lines else []) + [f"== {setting_label(st)}"]
        lines += _console_setting(mine, [m for m in models if any(r["model"] == m for r in mine)], noises, snrs)
    chance = chance_level(rows)
    if chance is not None:
        lines.append(f"(chance level {100 * chance:.1f} %; ± is the std over {len({_rep(r) for r in rows})} repetition(s))")
    if diverged:
        lines.append(f"({diverged} run(s) diverged and are left out; see results.csv)")
    return "\n".join(lines)


def _console_setting(rows: Sequence[dict[str, Any]], models: list[str], noises: list[str],
                     snrs: list[float | None]) -> list[str]:  # fmt: skip
    agg = aggregate(rows)
    names = [display_name(m) for m in models]
    first = max([len("noise / SNR")] + [len(f"{n} {_snr_label(s)}") for n in noises for s in snrs])
    widths = [max(len(n), 15) for n in names]
    lines = ["test accuracy (%), mean ± std over repetitions",
             f"{'noise / SNR':<{first}}  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths))]  # fmt: skip
    for noise in noises:
        for snr in snrs:
            cells = [agg.get((m, noise, snr)) for m in models]
            if all(c is None for c in cells):
                continue
            text = [
                "–" if c is None else f"{100 * c['test_acc'][0]:.2f} ± {100 * c['test_acc'][1]:.2f}" for c in cells
            ]
            lines.append(f"{noise + ' ' + _snr_label(snr):<{first}}  " + "  ".join(f"{t:>{w}}" for t, w in zip(text, widths)))
    overall = overall_table(rows, models)
    text = [_pct(*o["test"]) for o in overall]
    lines.append(f"{'all (Table III)':<{first}}  " + "  ".join(f"{t:>{w}}" for t, w in zip(text, widths)))
    baseline = pick_baseline(models)
    if baseline is not None and len(models) > 1:
        diffs = paired_differences(rows, baseline, models)
        multi_cell = sum(d["noise"] != "all" for d in diffs) > len(models) - 1
        for d in sorted(diffs, key=lambda d: d["noise"] != "all"):
            if d["noise"] != "all" and not multi_cell:
                continue
            where = "all cells" if d["noise"] == "all" else f"{d['noise']} {_snr_label(d['snr_db'])}"
            lines.append(f"{where}: paired, {verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}"
                         + (f", ahead in {d['reps_ahead']}/{d['reps']}" if "reps_ahead" in d else f", ahead in {d['wins']}/{d['n']}"))  # fmt: skip
    return lines


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True, timeout=5)  # fmt: skip
        if out.returncode == 0:
            return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def _settings(rows: Sequence[dict[str, Any]], spec: Any | None) -> list[Setting]:
    """The settings present in ``rows``, in the order of the study's axes."""
    present = {setting_of(r) for r in rows}
    if spec is None or not hasattr(spec, "normalize"):
        return sorted(present)
    order = [(p, n, sp) for p in spec.noise_protocol for n in spec.normalize for sp in spec.split]
    return [st for st in order if st in present] + sorted(present - set(order))


def _diff_text(c: dict[str, Any]) -> str:
    low, high = c["ci95"]
    ci = "" if math.isnan(low) else f", 95 % CI [{100 * low:+.2f}, {100 * high:+.2f}]"
    return f"{100 * c['diff'][0]:+.2f} ± {100 * c['diff'][1]:.2f}{ci} ({c['wins']}/{c['n']} ahead)"


def _setting_tables(rows: Sequence[dict[str, Any]], models: list[str], noises: list[str],
                    snrs: list[float | None], h: str) -> list[str]:  # fmt: skip
    """Table III, the per-noise tables and the paired differences of one setting's rows."""
    agg = aggregate(rows)
    baseline = pick_baseline(models)
    models = [m for m in models if any(r["model"] == m for r in rows)]
    L = [f"{h} Overall (Table III style)", "",
         "Accuracy averaged over every noise kind and SNR of the setting, then mean ± std over the repetitions "
         "(%), and the 95 % confidence interval of that mean.", ""]  # fmt: skip
    overall = overall_table(rows, models)
    best = max((o["test"][0] for o in overall if not math.isnan(o["test"][0])), default=float("nan"))
    L += _md_table(
        ["model", "test accuracy", "95 % CI", "train accuracy", "cells", "repetitions"],
        [[display_name(o["model"]), _pct(*o["test"], bold=o["test"][0] == best),
          "–" if math.isnan(o["ci95"][0]) else f"[{100 * o['ci95'][0]:.2f}, {100 * o['ci95'][1]:.2f}]",
          _pct(*o["train"]), str(o["cells"]), str(o["reps"])] for o in overall],
    )  # fmt: skip
    L += ["", f"{h} Test accuracy per noise kind and SNR (Figs. 6-8 style)", "",
          "Mean ± std over the repetitions (%); the best mean of each row in bold.", ""]  # fmt: skip
    for noise in noises:
        body = []
        for snr in snrs:
            cells = [agg.get((m, noise, snr)) for m in models]
            if all(c is None for c in cells):
                continue
            top = max((c["test_acc"][0] for c in cells if c is not None), default=float("nan"))
            body.append([_snr_label(snr)] + [
                "–" if c is None else _pct(*c["test_acc"], bold=c["test_acc"][0] == top) for c in cells
            ])  # fmt: skip
        if body:
            L += [f"{h}# {noise}", ""] + _md_table(["SNR"] + [display_name(m) for m in models], body) + [""]
    if baseline is not None and len(models) > 1:
        diffs = paired_differences(rows, baseline, models)
        L += [f"{h} Difference to {display_name(baseline)} (paired)", "",
              f"Test accuracy of each model minus {display_name(baseline)} in the same repetition (same split, noise "
              "and seed), in percentage points: mean ± std over repetitions, the 95 % confidence interval of the mean "
              "(Student's t), and in how many repetitions the model was ahead.", ""]  # fmt: skip
        others = [m for m in models if m != baseline]
        body = []
        for noise in noises + ["all"]:
            for snr in (snrs if noise != "all" else [None]):
                cells = [next((d for d in diffs if d["model"] == m and d["noise"] == noise and d["snr_db"] == snr), None)
                         for m in others]  # fmt: skip
                if all(c is None for c in cells):
                    continue
                label = "all cells" if noise == "all" else f"{noise} {_snr_label(snr)}"
                body.append([label] + ["–" if c is None else _diff_text(c) for c in cells])
        L += _md_table(["noise / SNR"] + [display_name(m) for m in others], body)
        L.append("")
        for d in diffs:
            if d["noise"] == "all":
                L.append(f"- {verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}"
                         " (all cells).")  # fmt: skip
        for d in diffs:
            if d["noise"] != "all":
                L.append(f"- {d['noise']} {_snr_label(d['snr_db'])}: "
                         f"{verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}.")  # fmt: skip
        L.append("")
    return L


_AXIS_NAMES = ("noise protocol", "normalisation", "split")
_AXIS_TITLES = {("recording", "window"): "What the leak adds: window (leaky) − recording split",
                ("none", "per_sample"): "Per-window standardisation − raw input",
                ("fixed", "clean"): "Trained clean − trained on the noise (fixed)",
                ("fixed", "fresh"): "Noise redrawn per epoch − noise fixed"}  # fmt: skip


def _axis_sections(rows: Sequence[dict[str, Any]], settings: list[Setting], models: list[str]) -> list[str]:
    L: list[str] = []
    for axis in range(3):
        values = list(dict.fromkeys(st[axis] for st in settings))
        if len(values) < 2:
            continue
        reference = values[0]
        for other in values[1:]:
            diffs = axis_differences(rows, axis, reference, other)
            if not diffs:
                continue
            title = _AXIS_TITLES.get((reference, other), f"{_AXIS_NAMES[axis]}: {other} − {reference}")
            L += [f"## {title} (paired)", "",
                  f"Test accuracy of the same model, cell and repetition with {_AXIS_NAMES[axis]} `{other}` minus "
                  f"`{reference}` (percentage points, mean ± std, 95 % CI, repetitions where `{other}` scored higher).",
                  ""]  # fmt: skip
            body = []
            for d in sorted(diffs, key=lambda d: (d["rest"], models.index(d["model"]) if d["model"] in models else 99,
                                                  d["noise"] == "all", d["noise"], d["snr_db"] is None, d["snr_db"] or 0)):  # fmt: skip
                cell = "all cells" if d["noise"] == "all" else f"{d['noise']} {_snr_label(d['snr_db'])}"
                body.append([display_name(d["model"]), cell, " / ".join(d["rest"]), _diff_text(d)])
            L += _md_table(["model", "cell", "other axes", f"{other} − {reference}"], body, align="lllr") + [""]
    return L


def format_markdown_report(
    rows: Sequence[dict[str, Any]],
    spec: Any | None = None,
    *,
    figures: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """The whole ``report.md`` text."""
    diverged = len(rows) - len(finished_rows(rows))
    rows = finished_rows(rows)
    if not rows:
        raise ConfigError("report: no finished runs in results.csv")
    models, noises, snrs = _axes(rows, spec)
    baseline = pick_baseline(models)
    reps = sorted({_rep(r) for r in rows})
    settings = _settings(rows, spec)
    L: list[str] = [f"# {title or ('Study: ' + (getattr(spec, 'name', None) or 'results'))}", ""]
    if spec is not None and getattr(spec, "description", ""):
        L += [spec.description, ""]
    # setup
    L += ["## Setup", ""]
    if spec is not None:
        rep_text = (f"{spec.folds}-fold cross-validation by recording"
                    + (f" (folds {spec.run_folds} run)" if spec.run_folds is not None else "")
                    + f", seed(s) {spec.seeds}") if spec.folds else f"seeds {spec.seeds} (each its own split, noise and initialisation)"  # fmt: skip
        train = ", ".join(f"{k} {v}" for k, v in spec.train.items()) or "defaults"
        L += [
            f"- data: `{spec.data}`" + (f" with {', '.join(f'{k}={v}' for k, v in spec.data_args.items())}" if spec.data_args else ""),
            f"- models: {', '.join(f'{display_name(m)} (`{m}`)' for m in models)}",
            f"- noise: {', '.join(noises)} at {', '.join(_snr_label(s) for s in snrs)}",
            f"- repetitions: {rep_text}",
            f"- training: {train}",
        ]
    L += [f"- setting{'s' if len(settings) > 1 else ''}: " + " | ".join(setting_label(st, markdown=True) for st in settings)]
    n_train = mean_std([r.get("n_train") for r in rows if r.get("n_train")])[0]
    n_test = mean_std([r.get("n_test") for r in rows if r.get("n_test")])[0]
    devices = sorted({r.get("device", "") for r in rows})
    chance = chance_level(rows)
    L += [
        f"- {len(rows)} runs finished ({len(reps)} repetition(s)); about {n_train:.0f} training and {n_test:.0f} "
        f"test observations per run; device(s): {', '.join(devices)}"
        + (f"; chance level {100 * chance:.1f} %" if chance else "")
        + (f"; {diverged} run(s) diverged (NaN/Inf) and are left out" if diverged else ""),
        "",
    ]
    for st in settings:
        mine = [r for r in rows if setting_of(r) == st]
        if len(settings) > 1:
            L += [f"## Setting: {setting_label(st, markdown=True)}", ""]
        L += _setting_tables(mine, models, noises, snrs, "###" if len(settings) > 1 else "##")
    L += _axis_sections(rows, settings, models)
    # Table V
    L += ["## Training time and size (Table V style)", ""]
    trained = [r for r in rows if r.get("noise_protocol") != "clean" or r["noise"] == "none"]
    tt = time_table(trained, models, baseline)
    L += _md_table(
        ["model", "parameters", "seconds per run", "seconds per epoch", f"× {display_name(baseline) if baseline else 'baseline'}"],
        [[display_name(t["model"]), f"{t['parameters']:,}" if t["parameters"] else "–",
          f"{t['seconds'][0]:.1f} ± {t['seconds'][1]:.1f}", f"{t['per_epoch']:.2f}",
          "–" if math.isnan(t["relative"]) else f"{t['relative']:.2f}"] for t in tt],
    )  # fmt: skip
    L += ["", "Seconds are the training loop only (the epochs), on the device(s) above; on a shared machine they "
          "depend on the load at the time.", ""]  # fmt: skip
    stacks = sorted({int(r["stack"]) for r in rows if r.get("stack")})
    if stacks and stacks[-1] > 1:
        L[-1:] = [f"Runs were trained together in cohorts of up to {stacks[-1]} (one stacked network per cohort): "
                  "a run's seconds are its cohort's divided by the cohort's size.", ""]  # fmt: skip
    if figures:
        L += ["## Figures", ""]
        L += [f"![{Path(f).stem}]({f})" for f in figures]
        L.append("")
    commit = _git_commit(Path(__file__).resolve().parents[3])
    L += [f"_Written {time.strftime('%Y-%m-%d %H:%M')} by deepshrink"
          + (f" (git {commit})" if commit else "") + f", Python {platform.python_version()}._", ""]  # fmt: skip
    return "\n".join(L)


def write_study_report(
    out_dir: str | os.PathLike,
    *,
    rows: Sequence[dict[str, Any]] | None = None,
    spec: Any | None = None,
    figures_dir: str | os.PathLike | None = None,
    report_name: str = "report.md",
    title: str | None = None,
) -> Path:
    """Write ``report.md``, ``summary.csv`` and the figures of a study folder.

    Args:
        out_dir: the study folder (``results.csv``, ``study.yaml``).
        rows: use these rows instead of reading ``results.csv``.
        spec: the study (default: ``study.yaml`` of the folder, if any).
        figures_dir: where the PNGs go (default ``out_dir/figures``); linked relative to the report.
        report_name: file name of the report inside ``out_dir``.
        title: report title.

    Returns:
        The path of the report.

    Raises:
        ConfigError: no finished runs.
    """
    from deepshrink.experiments.plots import plot_accuracy_vs_snr
    from deepshrink.experiments.study import load_study, read_results
    from deepshrink.serialization import atomic_write

    out = Path(out_dir)
    if rows is None:
        rows = read_results(out / "results.csv")
    if not rows:
        raise ConfigError(f"{out / 'results.csv'}: no finished runs to report")
    if spec is None and (out / "study.yaml").is_file():
        try:
            spec = load_study(out / "study.yaml")
        except ConfigError:
            spec = None
    if not finished_rows(rows):
        raise ConfigError(f"{out / 'results.csv'}: no finished runs to report (every run diverged)")
    all_rows = [dict(r) for r in rows]
    fill_num_classes(all_rows, out)
    rows = finished_rows(all_rows)
    models, noises, snrs = _axes(rows, spec)
    fig_dir = Path(figures_dir) if figures_dir is not None else out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(rows, spec)
    figures = []
    for st in settings:
        tag = "".join(f"{t}_" for t, default in zip(st, ("fixed", "none", "recording")) if t != default)
        plain = len(settings) == 1 and not tag
        figures += plot_accuracy_vs_snr([r for r in rows if setting_of(r) == st], fig_dir, models=models, noises=noises,
                                        prefix=(getattr(spec, "name", None) or "study") + "_" + tag,
                                        title=None if plain else setting_label(st))  # fmt: skip
    rel = [os.path.relpath(p, out) for p in figures]
    text = format_markdown_report(all_rows, spec, figures=rel, title=title)
    report = out / report_name
    atomic_write(report, text.encode("utf-8"))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_COLUMNS)
    for r in summary_rows(rows, models, noises, snrs):
        w.writerow(["" if r[c] is None else (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]) for c in SUMMARY_COLUMNS])
    atomic_write(out / "summary.csv", buf.getvalue().encode())
    return report
