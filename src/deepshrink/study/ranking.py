"""Many models over many cells: mean ranks, Friedman's test, pairwise Wilcoxon-Holm, cliques.

A *cell* is one noise kind x SNR of one setting; a model's accuracy in a cell is its mean over
the repetitions (:func:`deepshrink.study.stats.aggregate`). Comparing models over cells
rather than over repetitions asks whether a model is better *across conditions*, the question of
Demšar (2006) and Benavoli, Corani & Mangili (2016, "Should we really use post-hoc tests based
on mean-ranks?"): ranks per cell and Friedman's test for "do the models differ at all", then
Wilcoxon signed-rank tests between every pair over the cells, Holm-corrected, and the cliques
of models no pair of which differs (the bars of a critical-difference diagram, as aeon draws
them). Also :func:`holm` and :func:`paired_t_pvalue` for the report's paired comparisons, so
that a table of many of them is read as one family.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as _sps

from deepshrink.errors import ConfigError
from deepshrink.study.stats import aggregate, complete_repetitions

__all__ = [
    "Friedman", "Ranking", "cell_accuracies", "cell_ranks", "cliques", "friedman", "holm", "mean_ranks",
    "paired_t_pvalue", "rank_models", "wilcoxon_holm",
]  # fmt: skip

Cell = tuple[str, "float | None"]
"""(noise, SNR) of one setting."""


def _matrix(accuracy: Any, what: str = "accuracy") -> np.ndarray:
    """``accuracy`` as a finite (cells, models) float array, or a ConfigError saying what is wrong."""
    a = np.asarray(accuracy, dtype=np.float64)
    if a.ndim != 2:
        raise ConfigError(f"{what}: expected a (cells, models) table, got shape {a.shape}")
    if a.shape[1] < 2:
        raise ConfigError(f"{what}: needs at least 2 models to compare, got {a.shape[1]}")
    if a.shape[0] < 2:
        raise ConfigError(f"{what}: needs at least 2 cells (noise kind x SNR) to compare models over, got {a.shape[0]}")
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        i, j = bad[0]
        raise ConfigError(f"{what}: {len(bad)} value(s) are NaN or infinite (the first at cell {i}, model {j})")
    return a


def cell_ranks(accuracy: Any) -> np.ndarray:
    """Per cell (row), the rank of each model (column): 1 for the best accuracy, ties share the average rank.

    Raises:
        ConfigError: fewer than 2 models or cells, or a NaN.
    """
    return _sps.rankdata(-_matrix(accuracy), axis=1)


def mean_ranks(accuracy: Any) -> np.ndarray:
    """Each model's rank (:func:`cell_ranks`) averaged over the cells."""
    return cell_ranks(accuracy).mean(axis=0)


@dataclass(frozen=True)
class Friedman:
    """Friedman's test over the cells, and the Iman-Davenport F variant of it (less conservative)."""

    statistic: float
    """chi-square with ``models - 1`` degrees of freedom (corrected for ties)."""
    pvalue: float
    f_statistic: float
    """Iman-Davenport: F with (``models - 1``, ``(models - 1)(cells - 1)``) degrees of freedom."""
    f_pvalue: float
    cells: int
    models: int

    @property
    def df(self) -> tuple[int, int]:
        """The F variant's degrees of freedom (the chi-square has the first)."""
        return self.models - 1, (self.models - 1) * (self.cells - 1)


def friedman(accuracy: Any) -> Friedman:
    """Friedman's test that all models (columns) have the same mean rank over the cells (rows).

    The chi-square carries the tie correction of :func:`scipy.stats.friedmanchisquare`. When every
    cell is a tie of all models there is nothing to rank: statistic 0, p 1. When the ranks agree in
    every cell, the F variant is infinite (p 0).

    Raises:
        ConfigError: fewer than 2 models or cells, or a NaN.
    """
    ranks = cell_ranks(accuracy)
    n, k = ranks.shape
    ties = 0.0
    for row in ranks:
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts**3 - counts))
    c = 1.0 - ties / (n * k * (k * k - 1))
    if c <= 0:
        return Friedman(0.0, 1.0, 0.0, 1.0, n, k)
    chi2 = (12.0 / (n * k * (k + 1)) * float(np.sum(ranks.sum(axis=0) ** 2)) - 3.0 * n * (k + 1)) / c
    chi2 = max(chi2, 0.0)
    p = float(_sps.chi2.sf(chi2, k - 1))
    denom = n * (k - 1) - chi2
    df1, df2 = k - 1, (k - 1) * (n - 1)
    if denom <= 1e-12 * n * k:
        return Friedman(chi2, p, math.inf, 0.0, n, k)
    f = (n - 1) * chi2 / denom
    return Friedman(chi2, p, f, float(_sps.f.sf(f, df1, df2)), n, k)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order as given).

    The i-th smallest of m p-values is multiplied by ``m - i + 1``, then made non-decreasing
    along that order and capped at 1; rejecting where the adjusted p is below alpha controls the
    family-wise error at alpha. A NaN (a comparison with no p-value) stays NaN and is not counted
    in m.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ConfigError(f"holm: p-values must lie in [0, 1], got {p[ok].min():g} .. {p[ok].max():g}")
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def paired_t_pvalue(mean: float, std: float, n: int) -> float:
    """Two-sided p-value of a paired t-test that the mean difference is 0, from its summary
    (the test behind :func:`deepshrink.study.stats.ci95`'s interval).

    NaN below 2 pairs; with no spread, 1 for a zero mean and 0 otherwise (as the interval, a point).
    """
    if n < 2 or math.isnan(mean) or math.isnan(std):
        return float("nan")
    if std == 0:
        return 1.0 if mean == 0 else 0.0
    t = mean / (std / math.sqrt(n))
    return float(2.0 * _sps.t.sf(abs(t), n - 1))


def wilcoxon_holm(accuracy: Any, models: Sequence[str], alpha: float = 0.05) -> list[dict[str, Any]]:
    """Wilcoxon signed-rank test over the cells between every pair of models, Holm-corrected.

    Args:
        accuracy: (cells, models) table.
        models: the names of its columns.
        alpha: family-wise error rate of the verdicts.

    Returns:
        One dict per pair (in column order): ``a``, ``b``, ``statistic``, ``p``, ``p_holm``,
        ``significant`` (``p_holm < alpha``), ``wins`` (cells where ``a`` is ahead), ``losses``.
        A pair equal in every cell has p 1 (scipy's test is undefined there).

    Raises:
        ConfigError: fewer than 2 models or cells, a NaN, or names that do not match the columns.
    """
    a = _matrix(accuracy)
    if len(models) != a.shape[1]:
        raise ConfigError(f"wilcoxon_holm: {len(models)} model names for {a.shape[1]} columns")
    pairs = []
    for i in range(a.shape[1]):
        for j in range(i + 1, a.shape[1]):
            d = a[:, i] - a[:, j]
            if np.all(d == 0):
                stat, p = 0.0, 1.0
            else:
                with warnings.catch_warnings():  # scipy warns that few cells make a weak test: we know
                    warnings.simplefilter("ignore", (RuntimeWarning, UserWarning))
                    res = _sps.wilcoxon(a[:, i], a[:, j])
                stat, p = float(res.statistic), float(res.pvalue)
            pairs.append({"a": models[i], "b": models[j], "statistic": stat, "p": p,
                          "wins": int(np.sum(d > 0)), "losses": int(np.sum(d < 0))})  # fmt: skip
    for pair, adjusted in zip(pairs, holm([q["p"] for q in pairs])):
        pair["p_holm"] = float(adjusted)
        pair["significant"] = bool(adjusted < alpha)
    return pairs


def cliques(models: Sequence[str], ranks: Sequence[float], different: set[frozenset[str]]) -> list[list[str]]:
    """Maximal groups of models, contiguous in rank order, no pair of which is ``different``.

    As the bars of a critical-difference diagram (Benavoli et al. 2016; aeon's
    ``plot_critical_difference``): walking the models best rank first, each one starts the longest
    run of models after it with no significant pair inside; a run inside the previous one is not
    new. Groups of one are left out (such a model differs from each neighbour).

    Args:
        models: names.
        ranks: their mean ranks (lower is better; ties keep the order of ``models``).
        different: the pairs that differ significantly, as frozensets of two names.

    Returns:
        The cliques, each best rank first, in the order of their first member.
    """
    if len(models) != len(ranks):
        raise ConfigError(f"cliques: {len(models)} models for {len(ranks)} ranks")
    order = [models[i] for i in np.argsort(np.asarray(ranks, dtype=np.float64), kind="stable")]
    out: list[list[str]] = []
    last_end = 0
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(frozenset((order[x], order[j + 1])) not in different for x in range(i, j + 1)):
            j += 1
        if j > i and j > last_end:
            out.append(order[i : j + 1])
        last_end = max(last_end, j)
    return out


def cell_accuracies(
    rows: Sequence[dict[str, Any]], models: Sequence[str]
) -> tuple[list[str], list[Cell], np.ndarray, dict[str, int]]:
    """The (cells, models) table of mean test accuracies of one setting's rows.

    A model is ranked only if it has every cell any of ``models`` has (the rule of
    :func:`deepshrink.study.stats.complete_repetitions`, with models in the place of
    repetitions): a model measured on fewer cells is not comparable.

    Returns:
        ``(ranked models, cells, table, left_out)``; ``left_out`` maps each other model with rows
        to its number of cells.
    """
    agg = aggregate(rows)
    noises = list(dict.fromkeys(r["noise"] for r in rows))
    per_model: dict[str, dict[Cell, float]] = defaultdict(dict)
    for (model, noise, snr), a in agg.items():
        if model in models and not math.isnan(a["test_acc"][0]):
            per_model[model][(noise, snr)] = a["test_acc"][0]
    cells = sorted({c for by_cell in per_model.values() for c in by_cell},
                   key=lambda c: (noises.index(c[0]), c[1] is None, c[1] if c[1] is not None else 0.0))  # fmt: skip
    complete = complete_repetitions(per_model)
    ranked = [m for m in models if m in complete]
    left_out = {m: len(per_model.get(m, {})) for m in models if m not in ranked and any(r["model"] == m for r in rows)}
    table = np.array([[per_model[m][c] for m in ranked] for c in cells], dtype=np.float64)
    table = table.reshape(len(cells), len(ranked))
    return ranked, cells, table, left_out


@dataclass(frozen=True)
class Ranking:
    """Mean ranks and tests of many models over the cells of one setting (:func:`rank_models`)."""

    models: list[str]
    """The ranked models, best mean rank first; every array's model axis follows this order."""
    cells: list[Cell]
    accuracy: np.ndarray
    """(cells, models): mean test accuracy over the repetitions."""
    mean_ranks: np.ndarray
    mean_accuracy: np.ndarray
    friedman: Friedman
    pairs: list[dict[str, Any]]
    """:func:`wilcoxon_holm` of every pair."""
    cliques: list[list[str]]
    alpha: float
    left_out: dict[str, int] = field(default_factory=dict)
    """Models with fewer cells than the others, and how many they have."""


def rank_models(rows: Sequence[dict[str, Any]], models: Sequence[str], alpha: float = 0.05) -> Ranking:
    """Rank ``models`` over the cells of one setting's finished rows, with Friedman and Wilcoxon-Holm.

    Raises:
        ConfigError: fewer than 2 models have every cell, or fewer than 2 cells.
    """
    ranked, cells, table, left_out = cell_accuracies(rows, models)
    if len(ranked) < 2 or len(cells) < 2:
        raise ConfigError(f"ranks: need at least 2 models measured on the same at least 2 cells (noise kind x SNR); "
                          f"got {len(ranked)} model(s) on all of {len(cells)} cell(s)"
                          + (f" ({', '.join(left_out)} on fewer)" if left_out else ""))  # fmt: skip
    ranks = mean_ranks(table)
    order = np.argsort(ranks, kind="stable")
    names = [ranked[i] for i in order]
    table = table[:, order]
    pairs = wilcoxon_holm(table, names, alpha)
    different = {frozenset((p["a"], p["b"])) for p in pairs if p["significant"]}
    return Ranking(models=names, cells=cells, accuracy=table, mean_ranks=ranks[order], mean_accuracy=table.mean(axis=0),
                   friedman=friedman(table), pairs=pairs, cliques=cliques(names, ranks[order], different), alpha=alpha,
                   left_out=left_out)  # fmt: skip
