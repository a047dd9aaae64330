"""The pieces of text a study report, its console table and a panel share: numbers as text, Markdown
tables, Holm-adjusted p-values and the ranks section."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepshrink.study.ranking import Ranking, cell_accuracies, holm, paired_t_pvalue, rank_models
from deepshrink.study.stats import display_name

__all__ = ["RANK_MIN_MODELS", "RANK_MIN_CELLS", "pct", "snr_label", "md_table", "diff_text", "p_text", "add_holm",
           "holm_verdict", "ranking_of", "ranks_section"]  # fmt: skip


def pct(mean: float, std: float | None = None, bold: bool = False) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{100 * mean:.2f}" + ("" if std is None or math.isnan(std) else f" ± {100 * std:.2f}")
    return f"**{text}**" if bold else text


def snr_label(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g} dB"


def md_table(header: Sequence[str], body: Sequence[Sequence[str]], align: str | None = None) -> list[str]:
    align = align or ("l" + "r" * (len(header) - 1))
    marks = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return lines


def diff_text(c: dict[str, Any]) -> str:
    low, high = c["ci95"]
    ci = "" if math.isnan(low) else f", 95 % CI [{100 * low:+.2f}, {100 * high:+.2f}]"
    return f"{100 * c['diff'][0]:+.2f} ± {100 * c['diff'][1]:.2f}{ci} ({c['wins']}/{c['n']} ahead)"


def p_text(p: float) -> str:
    return "n/a" if math.isnan(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def add_holm(diffs: Sequence[dict[str, Any]]) -> None:
    """Give each paired-difference row ``p`` (the paired t-test behind its interval) and ``p_holm``
    (Holm over ``diffs``, the comparisons shown together: one family)."""
    ps = [paired_t_pvalue(d["diff"][0], d["diff"][1], d["reps"]) for d in diffs]
    for d, p, q in zip(diffs, ps, holm(ps)):
        d["p"], d["p_holm"] = p, float(q)


def holm_verdict(d: dict[str, Any], family: int) -> str:
    if math.isnan(d["p_holm"]):
        return "Holm p n/a (fewer than 2 repetitions)"
    holds = "significant" if d["p_holm"] < 0.05 else "not significant"
    return f"Holm p {p_text(d['p_holm'])} over the table's {family} comparisons: {holds} at 5 %"


RANK_MIN_MODELS, RANK_MIN_CELLS = 3, 2
"""The ranks section needs this many models measured on every one of at least this many cells."""



def ranking_of(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> tuple[Ranking | None, str]:
    """The ranking of one setting's rows, or None and why not."""
    ranked, cells, _, left_out = cell_accuracies(rows, models)
    if len(ranked) < RANK_MIN_MODELS or len(cells) < RANK_MIN_CELLS:
        fewer = f" ({', '.join(display_name(m) for m in left_out)} on fewer)" if left_out else ""
        return None, (f"Not computed: ranks need at least {RANK_MIN_MODELS} models measured on the same cells and at "
                      f"least {RANK_MIN_CELLS} cells (noise kind × SNR); here {len(ranked)} model(s) have all "
                      f"{len(cells)} cell(s){fewer}.")  # fmt: skip
    return rank_models(rows, models), ""


def ranks_section(rows: Sequence[dict[str, Any]], models: list[str], h: str, cd_figure: str | None) -> list[str]:
    L = [f"{h} Ranks", ""]
    ranking, why = ranking_of(rows, models)
    if ranking is None:
        return L + [why, ""]
    n = len(ranking.cells)
    L += [f"Each model's test accuracy in each of the {n} cells (noise kind × SNR; the mean over its repetitions) "
          "ranked among the models (1 = best, ties share the average rank), then averaged over the cells; the mean "
          "accuracy is the mean of the same cell accuracies (%). A rank counts wins across conditions, not margins "
          "(Demšar 2006; Benavoli et al. 2016).", ""]  # fmt: skip
    L += md_table(["model", "mean rank", "mean accuracy", "cells"],
                   [[display_name(m), f"{r:.2f}", f"{100 * a:.2f}", str(n)]
                    for m, r, a in zip(ranking.models, ranking.mean_ranks, ranking.mean_accuracy)])  # fmt: skip
    if ranking.left_out:
        L += ["", f"{', '.join(f'{display_name(m)} ({k})' for m, k in ranking.left_out.items())}: measured on fewer "
              f"cells than the others' {n}, so left out of the ranks."]  # fmt: skip
    f = ranking.friedman
    df1, df2 = f.df
    fval = "∞" if math.isinf(f.f_statistic) else f"{f.f_statistic:.2f}"
    differ = "the ranks differ" if f.f_pvalue < ranking.alpha else "no evidence that the ranks differ"
    L += ["", f"Friedman over the {n} cells: χ² = {f.statistic:.2f} with {df1} df, p {p_text(f.pvalue)}; "
          f"Iman-Davenport F = {fval} with ({df1}, {df2}) df, p {p_text(f.f_pvalue)}: {differ} "
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
