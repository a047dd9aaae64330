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
  number of repetitions (the interval holds 0); and the p-value of the paired t-test behind the
  interval, Holm-adjusted over every comparison of the table (one family: with many models and
  cells some intervals miss 0 by chance).
* **ranks** (studies of 3 or more models over 2 or more cells): each model's rank in each cell
  (noise kind × SNR) averaged over the cells, Friedman's test, Wilcoxon-Holm tests between every
  pair over the cells, the cliques of models not distinguishable, and a critical-difference
  diagram (:mod:`deepshrink.experiments.ranking`).
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
from deepshrink.experiments.plots import (
    plot_accuracy_per_model,
    plot_accuracy_vs_snr,
    plot_critical_difference,
    plot_paired_differences,
)
from deepshrink.experiments.ranking import Ranking, cell_accuracies, holm, paired_t_pvalue, rank_models
from deepshrink.experiments.results import read_results
from deepshrink.experiments.spec import DEFAULT_SETTING, load_study
from deepshrink.experiments.stats import (
    Setting,
    aggregate,
    axis_differences,
    chance_level,
    ci95,
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
from deepshrink.fileio import atomic_write
from deepshrink.models import uses_shrinkage

__all__ = [
    "aggregate",
    "overall_table",
    "paired_differences",
    "time_table",
    "summary_rows",
    "format_markdown_report",
    "write_panel_report",
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


def _pct(mean: float, std: float | None = None, bold: bool = False) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{100 * mean:.2f}" + ("" if std is None or math.isnan(std) else f" ± {100 * std:.2f}")
    return f"**{text}**" if bold else text


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
    text = [_pct(*o["test"]) + ("" if o["full_grid"] else "*") for o in overall]
    lines.append(f"{'all (Table III)':<{first}}  " + "  ".join(f"{t:>{w}}" for t, w in zip(text, widths)))
    if not all(o["full_grid"] for o in overall):
        lines.append("(* over that model's cells only, fewer than the others': not comparable)")
    baseline = pick_baseline(models)
    if baseline is not None and len(models) > 1:
        diffs = paired_differences(rows, baseline, models)
        multi_cell = sum(d["noise"] != "all" for d in diffs) > len(models) - 1
        shown = [d for d in sorted(diffs, key=lambda d: d["noise"] != "all") if d["noise"] == "all" or multi_cell]
        _add_holm(shown)
        for d in shown:
            where = "all cells" if d["noise"] == "all" else f"{d['noise']} {_snr_label(d['snr_db'])}"
            lines.append(f"{where}: paired, {verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}"
                         + (f", ahead in {d['reps_ahead']}/{d['reps']}" if "reps_ahead" in d else f", ahead in {d['wins']}/{d['n']}")
                         + f", Holm p {_p_text(d['p_holm'])}")  # fmt: skip
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


def _diff_text(c: dict[str, Any]) -> str:
    low, high = c["ci95"]
    ci = "" if math.isnan(low) else f", 95 % CI [{100 * low:+.2f}, {100 * high:+.2f}]"
    return f"{100 * c['diff'][0]:+.2f} ± {100 * c['diff'][1]:.2f}{ci} ({c['wins']}/{c['n']} ahead)"


def _p_text(p: float) -> str:
    return "n/a" if math.isnan(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def _add_holm(diffs: Sequence[dict[str, Any]]) -> None:
    """Give each paired-difference row ``p`` (the paired t-test behind its interval) and ``p_holm``
    (Holm over ``diffs``, the comparisons shown together: one family)."""
    ps = [paired_t_pvalue(d["diff"][0], d["diff"][1], d["reps"]) for d in diffs]
    for d, p, q in zip(diffs, ps, holm(ps)):
        d["p"], d["p_holm"] = p, float(q)


def _holm_verdict(d: dict[str, Any], family: int) -> str:
    if math.isnan(d["p_holm"]):
        return "Holm p n/a (fewer than 2 repetitions)"
    holds = "significant" if d["p_holm"] < 0.05 else "not significant"
    return f"Holm p {_p_text(d['p_holm'])} over the table's {family} comparisons: {holds} at 5 %"


RANK_MIN_MODELS, RANK_MIN_CELLS = 3, 2
"""The ranks section needs this many models measured on every one of at least this many cells."""


def _ranking(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> tuple[Ranking | None, str]:
    """The ranking of one setting's rows, or None and why not."""
    ranked, cells, _, left_out = cell_accuracies(rows, models)
    if len(ranked) < RANK_MIN_MODELS or len(cells) < RANK_MIN_CELLS:
        fewer = f" ({', '.join(display_name(m) for m in left_out)} on fewer)" if left_out else ""
        return None, (f"Not computed: ranks need at least {RANK_MIN_MODELS} models measured on the same cells and at "
                      f"least {RANK_MIN_CELLS} cells (noise kind × SNR); here {len(ranked)} model(s) have all "
                      f"{len(cells)} cell(s){fewer}.")  # fmt: skip
    return rank_models(rows, models), ""


def _ranks_section(rows: Sequence[dict[str, Any]], models: list[str], h: str, cd_figure: str | None) -> list[str]:
    L = [f"{h} Ranks", ""]
    ranking, why = _ranking(rows, models)
    if ranking is None:
        return L + [why, ""]
    n = len(ranking.cells)
    L += [f"Each model's test accuracy in each of the {n} cells (noise kind × SNR; the mean over its repetitions) "
          "ranked among the models (1 = best, ties share the average rank), then averaged over the cells; the mean "
          "accuracy is the mean of the same cell accuracies (%). A rank counts wins across conditions, not margins "
          "(Demšar 2006; Benavoli et al. 2016).", ""]  # fmt: skip
    L += _md_table(["model", "mean rank", "mean accuracy", "cells"],
                   [[display_name(m), f"{r:.2f}", f"{100 * a:.2f}", str(n)]
                    for m, r, a in zip(ranking.models, ranking.mean_ranks, ranking.mean_accuracy)])  # fmt: skip
    if ranking.left_out:
        L += ["", f"{', '.join(f'{display_name(m)} ({k})' for m, k in ranking.left_out.items())}: measured on fewer "
              f"cells than the others' {n}, so left out of the ranks."]  # fmt: skip
    f = ranking.friedman
    df1, df2 = f.df
    fval = "∞" if math.isinf(f.f_statistic) else f"{f.f_statistic:.2f}"
    differ = "the ranks differ" if f.f_pvalue < ranking.alpha else "no evidence that the ranks differ"
    L += ["", f"Friedman over the {n} cells: χ² = {f.statistic:.2f} with {df1} df, p {_p_text(f.pvalue)}; "
          f"Iman-Davenport F = {fval} with ({df1}, {df2}) df, p {_p_text(f.f_pvalue)}: {differ} "
          f"(at {100 * ranking.alpha:g} %)."]  # fmt: skip
    groups = "; ".join("{" + ", ".join(display_name(m) for m in c) + "}" for c in ranking.cliques)
    differ_pairs = sum(p["significant"] for p in ranking.pairs)
    L += ["", f"Not distinguishable (Wilcoxon signed-rank over the cells between every pair, Holm-corrected over the "
          f"{len(ranking.pairs)} pairs at {100 * ranking.alpha:g} %): "
          f"{groups or 'none, every model differs from its neighbours in rank'}; "
          f"{differ_pairs} of {len(ranking.pairs)} pairs differ."
          + (f" Critical-difference diagram: [{Path(cd_figure).name}]({cd_figure})." if cd_figure else ""),
          ""]  # fmt: skip
    return L


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
    L += _md_table(
        ["model", "test accuracy", "95 % CI", "train accuracy", "cells", "repetitions"],
        [[display_name(o["model"]), _pct(*o["test"], bold=o["full_grid"] and o["test"][0] == best),
          "–" if math.isnan(o["ci95"][0]) else f"[{100 * o['ci95'][0]:.2f}, {100 * o['ci95'][1]:.2f}]",
          _pct(*o["train"]), str(o["cells"]) if o["full_grid"] else f"{o['cells']} of {grid}", str(o["reps"])]
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
            body.append([_snr_label(snr)] + [
                "–" if c is None else _pct(*c["test_acc"], bold=c["test_acc"][0] == top) for c in cells
            ])  # fmt: skip
        if body:
            L += [f"{h}# {noise}", ""] + _md_table(["SNR"] + [display_name(m) for m in models], body) + [""]
    if baseline is not None and len(models) > 1:
        diffs = paired_differences(rows, baseline, models)
        _add_holm(diffs)
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
                label = "all cells" if noise == "all" else f"{noise} {_snr_label(snr)}"
                body.append([label] + ["–" if c is None else f"{_diff_text(c)}; Holm p {_p_text(c['p_holm'])}"
                                       for c in cells])  # fmt: skip
        L += _md_table(["noise / SNR"] + [display_name(m) for m in others], body)
        L.append("")
        for d in diffs:
            if d["noise"] == "all":
                L.append(f"- {verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}"
                         f" (all cells); {_holm_verdict(d, len(diffs))}.")  # fmt: skip
        for d in diffs:
            if d["noise"] != "all":
                L.append(f"- {d['noise']} {_snr_label(d['snr_db'])}: "
                         f"{verdict(display_name(d['model']), display_name(baseline), d['diff'][0], d['ci95'], d['reps'])}; "
                         f"{_holm_verdict(d, len(diffs))}.")  # fmt: skip
        L.append("")
    L += _ranks_section(rows, models, h, cd_figure)
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
    _add_holm(diffs)
    L = [f"{h} Shrinkage against the best model without it", "",
         f"The most accurate model without a shrinkage gate over the whole grid is {display_name(best)} "
         f"({100 * full[best]:.2f} %). Each shrinkage model minus it, all cells, paired by repetition; Holm over "
         f"these {len(diffs)} comparisons (a model picked as the best of several is favoured by the pick, so a "
         "shrinkage model that is not distinguishable from it has not lost).", ""]  # fmt: skip
    L += _md_table(["model", "difference (points)", "Holm p"],
                   [[display_name(d["model"]), _diff_text(d), _p_text(d["p_holm"])] for d in diffs])  # fmt: skip
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
        L += _setting_tables(mine, models, noises, snrs, "###" if len(settings) > 1 else "##",
                             (cd_figures or {}).get(st))  # fmt: skip
    L += _axis_sections(rows, settings, models)
    # Table V
    L += ["## Training time and size (Table V style)", ""]
    trained = [r for r in rows if r.get("noise_protocol") != "clean" or r["noise"] == "none"]
    tt = time_table(trained, models, baseline)
    L += _md_table(
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
        ranking, _ = _ranking(mine, present)
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


def write_panel_report(folders: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> Path:
    """Rank the models of several study folders (one dataset each) over all their cells together.

    The field's comparison across datasets (Demšar 2006): a cell is one dataset × noise kind × SNR,
    a model's accuracy there the mean over its repetitions; per setting, the mean ranks, Friedman,
    the Wilcoxon-Holm cliques and a critical-difference figure, and each model's mean accuracy per
    dataset. Writes ``out_dir/panel.md`` and ``out_dir/figures/panel_*critical_difference.png``.

    Raises:
        ConfigError: fewer than 2 folders, a folder without results, or two folders of one dataset.
    """
    if len(folders) < 2:
        raise ConfigError(f"--panel: give at least 2 study folders (one dataset each), got {len(folders)}")
    rows: list[dict[str, Any]] = []
    datasets: list[str] = []
    for folder in folders:
        found = finished_rows(read_results(Path(folder) / "results.csv"))
        if not found:
            raise ConfigError(f"{Path(folder) / 'results.csv'}: no finished runs to rank")
        names = sorted({str(r.get("data")) for r in found})
        if len(names) != 1 or names[0] in datasets:
            raise ConfigError(f"{folder}: a panel takes one folder per dataset (this one holds {', '.join(names)}; "
                              f"already seen: {', '.join(datasets) or 'none'})")  # fmt: skip
        datasets.append(names[0])
        rows += [{**r, "noise": f"{names[0]} {r['noise']}"} for r in found]  # a cell is dataset x noise x SNR
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(r["model"] for r in rows))
    L = [f"# Panel: {len(datasets)} datasets", "", f"Datasets: {', '.join(f'`{d}`' for d in datasets)}.", ""]
    for st in sorted({setting_of(r) for r in rows}):
        mine = [r for r in rows if setting_of(r) == st]
        present = [m for m in models if any(r["model"] == m for r in mine)]
        L += [f"## Setting: {setting_label(st, markdown=True)}", ""]
        per_dataset = []
        for m in present:
            accs = [mean_std([r["test_acc"] for r in mine if r["model"] == m and r["data"] == d])[0] for d in datasets]
            per_dataset.append([display_name(m)] + ["–" if math.isnan(a) else f"{100 * a:.2f}" for a in accs])
        L += ["Mean test accuracy per dataset over its cells and repetitions (%):", ""]
        L += _md_table(["model"] + datasets, per_dataset) + [""]
        tag = "".join(f"{t}_" for t, default in zip(st, DEFAULT_SETTING) if t != default)
        ranking, _ = _ranking(mine, present)
        cd = None
        if ranking is not None:
            cd = os.path.relpath(plot_critical_difference(ranking, fig_dir / f"panel_{tag}critical_difference.png",
                                                          title=setting_label(st)), out)  # fmt: skip
        L += _ranks_section(mine, present, "###", cd)
    report = out / "panel.md"
    atomic_write(report, "\n".join(L).encode("utf-8"))
    return report
