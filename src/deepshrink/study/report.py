"""The study report: mean ± std tables (Tables III and V of the paper, Figs. 6-8 as tables) and figures.

From the rows of ``results.csv`` (:func:`deepshrink.study.runner.read_results`):

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
  number of repetitions (the interval holds 0); and the p-value of the paired t-test behind the
  interval, Holm-adjusted over every comparison of the table (one family: with many models and
  cells some intervals miss 0 by chance).
* **ranks** (studies of 3 or more models over 2 or more cells): each model's rank in each cell
  (noise kind × SNR) averaged over the cells, Friedman's test, Wilcoxon-Holm tests between every
  pair over the cells, the cliques of models not distinguishable, and a critical-difference
  diagram (:mod:`deepshrink.study.ranking`).
* **settings**: a study crossed with its axes (noise protocol, normalisation, split; see
  :mod:`deepshrink.study.runner`) gets the tables above once per setting, each headed by
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
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deepshrink.errors import ConfigError
from deepshrink.study.plots import (
    plot_accuracy_per_model,
    plot_accuracy_vs_snr,
    plot_critical_difference,
    plot_paired_differences,
)
from deepshrink.study.results import read_results
from deepshrink.study.spec import DEFAULT_SETTING, load_study
from deepshrink.study.stats import (
    Setting,
    aggregate,
    axis_differences,
    chance_level,
    display_name,
    finished_rows,
    in_order,
    mean_std,
    overall_table,
    paired_differences,
    pick_baseline,
    repetition_of,
    setting_label,
    setting_of,
    summary_rows,
    time_table,
    verdict,
)
from deepshrink.study.sections import (
    RANK_MIN_MODELS,
    add_holm,
    diff_text,
    holm_verdict,
    md_table,
    p_text,
    pct,
    ranking_of,
    ranks_section,
    snr_label,
)
from deepshrink.fileio import atomic_write
from deepshrink.models import uses_shrinkage

__all__ = ["SUMMARY_COLUMNS", "fill_num_classes", "format_console_table", "format_markdown_report", "write_study_report"]

SUMMARY_COLUMNS = ("model", "noise", "snr_db", "n", "test_acc_mean", "test_acc_std", "train_acc_mean",
                   "train_acc_std", "macro_f1_mean", "macro_f1_std", "seconds_mean")  # fmt: skip


def fill_num_classes(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike) -> None:
    """Fill a missing ``num_classes`` from the run folder's ``config.json`` (older results files)."""

    for r in rows:
        if r.get("num_classes"):
            continue
        cfg = Path(out_dir) / "runs" / r["run_id"] / "config.json"
        try:
            r["num_classes"] = int(json.loads(cfg.read_text())["model_args"]["num_classes"])
        except (OSError, ValueError, KeyError, TypeError):
            pass


def _axes(rows: Sequence[dict[str, Any]], spec: Any | None) -> tuple[list[str], list[str], list[float | None]]:
    models = in_order([r["model"] for r in rows], spec.values("models") if spec is not None else None)
    noises = in_order([r["noise"] for r in rows], spec.values("noises") if spec is not None else None)
    snr_values = {r.get("snr_db") for r in rows}
    snrs: list[float | None] = sorted(v for v in snr_values if v is not None)
    if None in snr_values:
        snrs.append(None)
    return models, noises, snrs


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
        if len(settings) > 1 or st != DEFAULT_SETTING:
            lines += ([""] if lines else []) + [f"== {setting_label(st)}"]
        lines += _console_setting(mine, [m for m in models if any(r["model"] == m for r in mine)], noises, snrs)
    chance = chance_level(rows)
    if chance is not None:
        lines.append(f"(chance level {100 * chance:.1f} %; ± is the std over {len({repetition_of(r) for r in rows})} repetition(s))")
    if diverged:
        lines.append(f"({diverged} run(s) diverged and are left out; see results.csv)")
    return "\n".join(lines)


def _console_setting(rows: Sequence[dict[str, Any]], models: list[str], noises: list[str],
                     snrs: list[float | None]) -> list[str]:  # fmt: skip
    agg = aggregate(rows)
    names = [display_name(m) for m in models]
    first = max([len("noise / SNR")] + [len(f"{n} {snr_label(s)}") for n in noises for s in snrs])
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
            lines.append(f"{noise + ' ' + snr_label(snr):<{first}}  " + "  ".join(f"{t:>{w}}" for t, w in zip(text, widths)))
    overall = overall_table(rows, models)
    text = [pct(*o["test"]) + ("" if o["full_grid"] else "*") for o in overall]
    lines.append(f"{'all (Table III)':<{first}}  " + "  ".join(f"{t:>{w}}" for t, w in zip(text, widths)))
    if not all(o["full_grid"] for o in overall):
        lines.append("(* over that model's cells only, fewer than the others': not comparable)")
    baseline = pick_baseline(models)
    if baseline is not None and len(models) > 1:
        diffs = paired_differences(rows, baseline, models)
        multi_cell = sum(d["noise"] != "all" for d in diffs) > len(models) - 1
        shown = [d for d in sorted(diffs, key=lambda d: d["noise"] != "all") if d["noise"] == "all" or multi_cell]
        add_holm(shown)
        for d in shown:
            where = "all cells" if d["noise"] == "all" else f"{d['noise']} {snr_label(d['snr_db'])}"
            lines.append(f"{where}: paired, {verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}"
                         + (f", ahead in {d['reps_ahead']}/{d['reps']}" if "reps_ahead" in d else f", ahead in {d['wins']}/{d['n']}")
                         + f", Holm p {p_text(d['p_holm'])}")  # fmt: skip
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
    if spec is None:
        return sorted(present)
    order = [(p, n, sp) for p in spec.values("noise_protocol") for n in spec.values("normalize")
             for sp in spec.values("split")]  # fmt: skip
    return [st for st in order if st in present] + sorted(present - set(order))


def _setting_tables(rows: Sequence[dict[str, Any]], models: list[str], noises: list[str],
                    snrs: list[float | None], h: str, cd_figure: str | None = None) -> list[str]:  # fmt: skip
    """Table III, the per-noise tables, the paired differences and the ranks of one setting's rows."""
    agg = aggregate(rows)
    baseline = pick_baseline(models)
    models = [m for m in models if any(r["model"] == m for r in rows)]
    L = [f"{h} Overall (Table III style)", "",
         "Accuracy averaged over every noise kind and SNR of the setting, then mean ± std over the repetitions "
         "(%), and the 95 % confidence interval of that mean.", ""]  # fmt: skip
    overall = overall_table(rows, models)
    grid = overall[0]["grid_cells"] if overall else 0
    best = max((o["test"][0] for o in overall if o["full_grid"] and not math.isnan(o["test"][0])), default=float("nan"))
    L += md_table(
        ["model", "test accuracy", "95 % CI", "train accuracy", "cells", "repetitions"],
        [[display_name(o["model"]), pct(*o["test"], bold=o["full_grid"] and o["test"][0] == best),
          "–" if math.isnan(o["ci95"][0]) else f"[{100 * o['ci95'][0]:.2f}, {100 * o['ci95'][1]:.2f}]",
          pct(*o["train"]), str(o["cells"]) if o["full_grid"] else f"{o['cells']} of {grid}", str(o["reps"])]
         for o in overall],
    )  # fmt: skip
    partial = [display_name(o["model"]) for o in overall if not o["full_grid"]]
    if partial:
        L += ["", f"{', '.join(partial)}: measured on fewer cells than the grid's {grid}, so averaged over those "
              "only and not comparable with the other rows here; compare them per cell below."]  # fmt: skip
    L += ["", f"{h} Test accuracy per noise kind and SNR (Figs. 6-8 style)", "",
          "Mean ± std over the repetitions (%); the best mean of each row in bold.", ""]  # fmt: skip
    for noise in noises:
        body = []
        for snr in snrs:
            cells = [agg.get((m, noise, snr)) for m in models]
            if all(c is None for c in cells):
                continue
            top = max((c["test_acc"][0] for c in cells if c is not None), default=float("nan"))
            body.append([snr_label(snr)] + [
                "–" if c is None else pct(*c["test_acc"], bold=c["test_acc"][0] == top) for c in cells
            ])  # fmt: skip
        if body:
            L += [f"{h}# {noise}", ""] + md_table(["SNR"] + [display_name(m) for m in models], body) + [""]
    if baseline is not None and len(models) > 1:
        diffs = paired_differences(rows, baseline, models)
        add_holm(diffs)
        L += [f"{h} Difference to {display_name(baseline)} (paired)", "",
              f"Test accuracy of each model minus {display_name(baseline)} in the same repetition (same split, noise "
              "and seed), in percentage points: mean ± std over repetitions, the 95 % confidence interval of the mean "
              "(Student's t), in how many repetitions the model was ahead, and the p-value of the paired t-test "
              f"behind the interval, Holm-adjusted over all {len(diffs)} comparisons of the table (Holm p; n/a below "
              "2 repetitions).", ""]  # fmt: skip
        others = [m for m in models if m != baseline]
        body = []
        for noise in noises + ["all"]:
            for snr in (snrs if noise != "all" else [None]):
                cells = [next((d for d in diffs if d["model"] == m and d["noise"] == noise and d["snr_db"] == snr), None)
                         for m in others]  # fmt: skip
                if all(c is None for c in cells):
                    continue
                label = "all cells" if noise == "all" else f"{noise} {snr_label(snr)}"
                body.append([label] + ["–" if c is None else f"{diff_text(c)}; Holm p {p_text(c['p_holm'])}"
                                       for c in cells])  # fmt: skip
        L += md_table(["noise / SNR"] + [display_name(m) for m in others], body)
        L.append("")
        for d in diffs:
            if d["noise"] == "all":
                L.append(f"- {verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}"
                         f" (all cells); {holm_verdict(d, len(diffs))}.")  # fmt: skip
        for d in diffs:
            if d["noise"] != "all":
                L.append(f"- {d['noise']} {snr_label(d['snr_db'])}: "
                         f"{verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}; "
                         f"{holm_verdict(d, len(diffs))}.")  # fmt: skip
        L.append("")
    L += ranks_section(rows, models, h, cd_figure)
    L += _best_baseline_section(rows, models, overall, h)
    return L


def _best_baseline_section(rows: Sequence[dict[str, Any]], models: list[str], overall: Sequence[dict[str, Any]],
                           h: str) -> list[str]:  # fmt: skip
    """Each shrinkage model against the most accurate model without shrinkage (over the whole grid),
    paired, Holm-adjusted: does thresholding beat what a user would otherwise pick?"""
    full = {o["model"]: o["test"][0] for o in overall if o["full_grid"] and not math.isnan(o["test"][0])}
    shrinkers = [m for m in models if uses_shrinkage(m) and m in full]
    others = [m for m in models if not uses_shrinkage(m) and m in full]
    if not shrinkers or not others:
        return []
    best = max(others, key=lambda m: full[m])
    diffs = [d for d in paired_differences(rows, best, shrinkers) if d["noise"] == "all"]
    if not diffs:
        return []
    add_holm(diffs)
    L = [f"{h} Shrinkage against the best model without it", "",
         f"The most accurate model without a shrinkage gate over the whole grid is {display_name(best)} "
         f"({100 * full[best]:.2f} %). Each shrinkage model minus it, all cells, paired by repetition; Holm over "
         f"these {len(diffs)} comparisons (a model picked as the best of several is favoured by the pick, so a "
         "shrinkage model that is not distinguishable from it has not lost).", ""]  # fmt: skip
    L += md_table(["model", "difference (points)", "Holm p"],
                   [[display_name(d["model"]), diff_text(d), p_text(d["p_holm"])] for d in diffs])  # fmt: skip
    ahead = [display_name(d["model"]) for d in diffs if d["p_holm"] < 0.05 and d["diff"][0] > 0]
    behind = [display_name(d["model"]) for d in diffs if d["p_holm"] < 0.05 and d["diff"][0] < 0]
    L += ["", f"Distinguishably ahead of {display_name(best)}: {', '.join(ahead) or 'none'}; distinguishably behind: "
          f"{', '.join(behind) or 'none'} (Holm, 5 %).", ""]  # fmt: skip
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
                cell = "all cells" if d["noise"] == "all" else f"{d['noise']} {snr_label(d['snr_db'])}"
                body.append([display_name(d["model"]), cell, " / ".join(d["rest"]), diff_text(d)])
            L += md_table(["model", "cell", "other axes", f"{other} − {reference}"], body, align="lllr") + [""]
    return L


def format_markdown_report(
    rows: Sequence[dict[str, Any]],
    spec: Any | None = None,
    *,
    figures: Sequence[str] = (),
    title: str | None = None,
    cd_figures: Mapping[Setting, str] | None = None,
) -> str:
    """The whole ``report.md`` text; ``cd_figures`` links each setting's critical-difference
    diagram (relative to the report) from its ranks section."""
    diverged = len(rows) - len(finished_rows(rows))
    rows = finished_rows(rows)
    if not rows:
        raise ConfigError("report: no finished runs in results.csv")
    models, noises, snrs = _axes(rows, spec)
    baseline = pick_baseline(models)
    reps = sorted({repetition_of(r) for r in rows})
    settings = _settings(rows, spec)
    L: list[str] = [f"# {title or ('Study: ' + (getattr(spec, 'name', None) or 'results'))}", ""]
    if spec is not None and getattr(spec, "description", ""):
        L += [spec.description, ""]
    # setup
    L += ["## Setup", ""]
    if spec is not None:
        rep_text = (f"{spec.folds}-fold cross-validation by recording"
                    + (f" (folds {spec.values('run_folds')} run)" if spec.run_folds is not None else "")
                    + f", seed(s) {spec.values('seeds')}") if spec.folds else f"seeds {spec.values('seeds')} (each its own split, noise and initialisation)"  # fmt: skip
        train = ", ".join(f"{k} {v}" for k, v in spec.train.items()) or "defaults"
        L += [
            f"- data: `{spec.data}`" + (f" with {', '.join(f'{k}={v}' for k, v in spec.data_args.items())}" if spec.data_args else ""),
            f"- models: {', '.join(f'{display_name(m)} (`{m}`)' for m in models)}",
            f"- noise: {', '.join(noises)} at {', '.join(snr_label(s) for s in snrs)}",
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
        L += _setting_tables(mine, models, noises, snrs, "###" if len(settings) > 1 else "##",
                             (cd_figures or {}).get(st))  # fmt: skip
    L += _axis_sections(rows, settings, models)
    # Table V
    L += ["## Training time and size (Table V style)", ""]
    trained = [r for r in rows if r.get("noise_protocol") != "clean" or r["noise"] == "none"]
    tt = time_table(trained, models, baseline)
    L += md_table(
        ["model", "parameters", "seconds per run", "seconds per epoch", f"× {display_name(baseline) if baseline else 'baseline'}"],
        [[display_name(t["model"]), f"{t['parameters']:,}" if t["parameters"] else "–",
          f"{t['seconds'][0]:.1f} ± {t['seconds'][1]:.1f}", "–" if math.isnan(t["per_epoch"]) else f"{t['per_epoch']:.2f}",
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
    cd_figures: dict[Setting, str] = {}
    for st in settings:
        tag = "".join(f"{t}_" for t, default in zip(st, DEFAULT_SETTING) if t != default)
        plain = len(settings) == 1 and not tag
        mine = [r for r in rows if setting_of(r) == st]
        prefix = (getattr(spec, "name", None) or "study") + "_" + tag
        figures += plot_accuracy_vs_snr(mine, fig_dir, models=models, noises=noises, prefix=prefix,
                                        title=None if plain else setting_label(st))  # fmt: skip
        present = [m for m in models if any(r["model"] == m for r in mine)]
        if len(present) >= RANK_MIN_MODELS:  # one panel of many bands gets unreadable
            figures += plot_accuracy_per_model(mine, fig_dir, models=present, noises=noises, prefix=prefix,
                                               title=None if plain else setting_label(st))  # fmt: skip
        baseline = pick_baseline(present)
        if baseline is not None:
            paired = plot_paired_differences(mine, fig_dir / f"{prefix}paired_differences.png", baseline=baseline,
                                             models=present, title=None if plain else setting_label(st))  # fmt: skip
            figures += [paired] if paired is not None else []
        ranking, _ = ranking_of(mine, present)
        if ranking is not None:
            cd = plot_critical_difference(ranking, fig_dir / f"{prefix}critical_difference.png",
                                          title=None if plain else setting_label(st))  # fmt: skip
            figures.append(cd)
            cd_figures[st] = os.path.relpath(cd, out)
    made = {Path(p).resolve() for p in figures}  # and every other figure in the folder (the demo's thresholds)
    figures += sorted(p for p in fig_dir.glob("*.png") if p.resolve() not in made)
    rel = [os.path.relpath(p, out) for p in figures]
    text = format_markdown_report(all_rows, spec, figures=rel, title=title, cd_figures=cd_figures)
    report = out / report_name
    atomic_write(report, text.encode("utf-8"))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_COLUMNS)
    for r in summary_rows(rows, models, noises, snrs):
        w.writerow(["" if r[c] is None else (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]) for c in SUMMARY_COLUMNS])
    atomic_write(out / "summary.csv", buf.getvalue().encode())
    return report


