"""Figures of the study (matplotlib, Agg backend: no display needed).

* :func:`plot_accuracy_vs_snr`: test accuracy against SNR, one line per model with a ±std band
  over the repetitions; one PNG per noise kind plus one panel of all noise kinds (Figs. 6-8).
* :func:`plot_accuracy_per_model`: the same curves, one small panel per model with its 95 %
  interval over the repetitions and the others in grey, for studies of many models.
* :func:`plot_paired_differences`: each model minus the baseline, one dot per repetition (the
  cells' mean) with the mean and its 95 % interval: the report's paired verdicts at a glance.
* :func:`plot_critical_difference`: mean ranks over the cells and the cliques of models that do
  not differ (:mod:`deepshrink.study.ranking`); aeon's diagram when aeon is installed.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from deepshrink.study.stats import aggregate, chance_level, ci95, display_name, mean_std, repetition_differences
from deepshrink.models import is_model, model_family

if TYPE_CHECKING:
    from deepshrink.study.ranking import Ranking

__all__ = ["plot_accuracy_vs_snr", "plot_accuracy_per_model", "plot_paired_differences", "plot_critical_difference",
           "MODEL_COLORS"]  # fmt: skip

# Colour and marker of each family of deepshrink.models.FAMILIES (a test holds the keys to it);
# a model the registry does not know gets matplotlib's colour cycle and a circle.
_STYLE = {
    "convnet": ("#7f7f7f", "v"), "resnet": ("#1f77b4", "o"), "se_resnet": ("#9467bd", "D"),
    "drsn_cs": ("#ff7f0e", "s"), "drsn_cw": ("#d62728", "^"),
    "wdcnn": ("#2ca02c", "P"), "fcn": ("#8c564b", "X"), "fawaz_resnet": ("#17becf", "h"),
    "inception_time": ("#e377c2", "*"),
    # the field's networks with DRSN-CW gates: their plain network's marker, a darker hue
    "drsn_cw_fawaz_resnet": ("#0e7c86", "h"), "drsn_cw_inception_time": ("#a1457f", "*"),
    # the shrinkage variants: DRSN-CW's red family of hues, APReLU apart
    "drsn_cw_hard": ("#a50f15", "<"), "drsn_cw_garrote": ("#ef3b2c", ">"), "drsn_cw_firm": ("#fc9272", "d"),
    "drsn_cw_mad": ("#67000d", "p"), "drsn_ew": ("#bcbd22", "H"), "aprelu_resnet": ("#393b79", "8"),
}  # fmt: skip
MODEL_COLORS = {family: color for family, (color, _) in _STYLE.items()}
_MARKERS = {family: marker for family, (_, marker) in _STYLE.items()}


_LINESTYLES = ("-", "--", ":", "-.")


def _styles(models: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """Colour, marker and line style per model: the family's colour and marker, and a new line
    style for each further model of a family (many models of one family stay apart)."""
    seen: dict[str | None, int] = defaultdict(int)
    out = {}
    for i, model in enumerate(models):
        family = model_family(model) if is_model(model) else None
        color = MODEL_COLORS.get(family, f"C{i % 10}") if family is not None else f"C{i % 10}"
        k = seen[family] if family is not None else 0
        seen[family] += 1
        out[model] = (color, _MARKERS.get(family, "o"), _LINESTYLES[k % len(_LINESTYLES)])
    return out


def load_pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _draw(ax: Any, rows: Sequence[dict[str, Any]], noise: str, models: Sequence[str]) -> None:

    agg = aggregate([r for r in rows if r["noise"] == noise and r.get("snr_db") is not None])
    snrs = sorted({k[2] for k in agg})
    styles = _styles(models)
    for model in models:
        pts = [(s, agg[(model, noise, s)]) for s in snrs if (model, noise, s) in agg]
        if not pts:
            continue
        x = np.array([p[0] for p in pts])
        mean = np.array([100 * p[1]["test_acc"][0] for p in pts])
        std = np.array([100 * p[1]["test_acc"][1] for p in pts])
        color, marker, ls = styles[model]
        ax.plot(x, mean, marker=marker, ls=ls, color=color, label=display_name(model), lw=1.6, ms=5)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, lw=0)

    chance = chance_level(rows)
    if chance is not None:
        ax.axhline(100 * chance, color="grey", lw=0.8, ls="--", label="chance")
    ax.set_title(f"{noise} noise")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("test accuracy (%)")
    if snrs:
        ax.set_xticks(snrs)
    ax.grid(True, alpha=0.3)


def _save(plt: Any, fig: Any, path: Path, title: str | None, fontsize: int, dpi: int, tight: bool = True) -> Path:
    """Title (red when it says LEAKY), lay out, write and close a figure; ``tight=False`` for a
    figure of free-placed text (tight_layout cannot lay it out): cropped to its contents instead."""
    if title:  # wrapped to the figure's width (about 120 / fontsize characters per inch)
        text = textwrap.fill(title, width=max(20, int(fig.get_figwidth() * 120 / fontsize)))
        fig.suptitle(text, fontsize=fontsize, color="darkred" if "LEAKY" in title else "black")
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi, **({} if tight else {"bbox_inches": "tight", "pad_inches": 0.1}))
    plt.close(fig)
    return path


def plot_accuracy_vs_snr(
    rows: Sequence[dict[str, Any]],
    out_dir: str | os.PathLike,
    *,
    models: Sequence[str] | None = None,
    noises: Sequence[str] | None = None,
    prefix: str = "",
    title: str | None = None,
    dpi: int = 120,
) -> list[Path]:
    """Test accuracy vs SNR per noise kind, all models, mean ± std bands over repetitions.

    Args:
        rows: ``results.csv`` rows (:func:`deepshrink.study.runner.read_results`).
        out_dir: folder for the PNGs (created).
        models, noises: order (default: as they first appear).
        prefix: file name prefix.
        title: a line above the panels (the study setting; a leaky split says so there).

    Returns:
        The written paths: ``{prefix}accuracy_vs_snr.png`` (all noise kinds side by side) and
        ``{prefix}accuracy_vs_snr_{noise}.png`` per noise kind. Noise ``none`` is left out.
    """
    plt = load_pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = list(models) if models is not None else list(dict.fromkeys(r["model"] for r in rows))
    noises = list(noises) if noises is not None else list(dict.fromkeys(r["noise"] for r in rows))
    noises = [n for n in noises if n != "none" and any(r["noise"] == n for r in rows)]
    paths: list[Path] = []
    if not noises:
        return paths
    fig, axes = plt.subplots(1, len(noises), figsize=(4.2 * len(noises) + 0.6, 3.8), squeeze=False, sharey=True)
    for ax, noise in zip(axes[0], noises):
        _draw(ax, rows, noise, models)
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    axes[0][0].legend(loc="lower right", fontsize=8)
    paths.append(_save(plt, fig, out / f"{prefix}accuracy_vs_snr.png", title, 9, dpi))
    if len(noises) > 1:
        for noise in noises:
            fig, ax = plt.subplots(figsize=(5, 3.8))
            _draw(ax, rows, noise, models)
            ax.legend(loc="lower right", fontsize=8)
            paths.append(_save(plt, fig, out / f"{prefix}accuracy_vs_snr_{noise}.png", title, 7, dpi))
    return paths


def plot_accuracy_per_model(
    rows: Sequence[dict[str, Any]],
    out_dir: str | os.PathLike,
    *,
    models: Sequence[str] | None = None,
    noises: Sequence[str] | None = None,
    prefix: str = "",
    title: str | None = None,
    dpi: int = 120,
) -> list[Path]:
    """Test accuracy vs SNR, one small panel per model: its mean with a shaded 95 % interval over
    the repetitions (Student's t, :func:`~deepshrink.study.stats.ci95`; none from one
    repetition), the other models' means in grey behind it. One panel of ten overlapping bands
    cannot be read; ten panels on one scale can.

    Args: as :func:`plot_accuracy_vs_snr`.

    Returns:
        ``{prefix}accuracy_per_model_{noise}.png`` per noise kind (noise ``none`` left out).
    """
    plt = load_pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = list(models) if models is not None else list(dict.fromkeys(r["model"] for r in rows))
    noises = list(noises) if noises is not None else list(dict.fromkeys(r["noise"] for r in rows))
    styles = _styles(models)
    chance = chance_level(rows)
    paths: list[Path] = []
    for noise in noises:
        by_cell: dict[tuple[str, float], list[float]] = defaultdict(list)
        for r in rows:
            if r["noise"] == noise and r.get("snr_db") is not None and r["model"] in models:
                by_cell[(r["model"], r["snr_db"])].append(r["test_acc"])
        if noise == "none" or not by_cell:
            continue
        snrs = sorted({s for _, s in by_cell})
        curves = {}
        for model in models:
            xs = [s for s in snrs if (model, s) in by_cell]
            if xs:
                means = [mean_std(by_cell[(model, s)])[0] for s in xs]
                bands = [ci95(by_cell[(model, s)]) for s in xs]
                curves[model] = (np.array(xs), 100 * np.array(means), 100 * np.array([b[0] for b in bands]),
                                 100 * np.array([b[1] for b in bands]))  # fmt: skip
        if not curves:
            continue
        ncols = min(4, len(curves))
        nrows = -(-len(curves) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols + 0.4, 2.6 * nrows + 0.4), squeeze=False,
                                 sharex=True, sharey=True)  # fmt: skip
        for ax, (model, (x, mean, low, high)) in zip(axes.flat, curves.items()):
            for other, (xo, mo, _, _) in curves.items():
                if other != model:
                    ax.plot(xo, mo, color="0.8", lw=0.8, zorder=1)
            color, marker, ls = styles[model]
            ax.fill_between(x, low, high, color=color, alpha=0.25, lw=0, zorder=2)
            ax.plot(x, mean, marker=marker, ls=ls, color=color, lw=1.6, ms=4, zorder=3)
            if chance is not None:
                ax.axhline(100 * chance, color="grey", lw=0.8, ls="--")
            ax.set_title(display_name(model), fontsize=9)
            ax.set_xticks(snrs)
            ax.grid(True, alpha=0.3)
        for ax in axes.flat[len(curves):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("test accuracy (%)")
        for ax in axes[-1, :]:
            ax.set_xlabel("SNR (dB)")
        head = f"{noise} noise: mean and 95 % interval over the repetitions"
        paths.append(_save(plt, fig, out / f"{prefix}accuracy_per_model_{noise}.png",
                           f"{title}. {head}" if title else head, 9, dpi))  # fmt: skip
    return paths


def plot_paired_differences(
    rows: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    *,
    baseline: str,
    models: Sequence[str],
    title: str | None = None,
    dpi: int = 120,
) -> Path | None:
    """Each model minus ``baseline`` (test accuracy, points), paired by repetition and averaged
    over the cells: a dot per repetition, the mean with its 95 % Student-t interval, and zero.

    Returns:
        The path written, or None when no model pairs with the baseline in two repetitions.
    """
    pairs = [(m, repetition_differences(rows, baseline, m)) for m in models if m != baseline]
    pairs = [(m, d) for m, d in pairs if len(d) >= 2]
    if not pairs:
        return None
    plt = load_pyplot()
    styles = _styles([m for m, _ in pairs])
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.45 * len(pairs)))
    for k, (model, diffs) in enumerate(reversed(pairs)):
        values = 100.0 * np.asarray(list(diffs.values()))
        low, high = ci95(values)
        color = styles[model][0]
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(values, k + jitter, s=14, color=color, alpha=0.6, zorder=3)
        ax.errorbar([values.mean()], [k], xerr=[[values.mean() - low], [high - values.mean()]], fmt="o",
                    color=color, ms=7, capsize=4, lw=2, zorder=4)  # fmt: skip
    ax.axvline(0.0, color="grey", lw=1, ls="--")
    ax.set_yticks(range(len(pairs)), labels=[display_name(m) for m, _ in reversed(pairs)], fontsize=8)
    ax.set_ylim(-0.6, len(pairs) - 0.4)
    ax.set_xlabel(f"test accuracy minus {display_name(baseline)} (points): dots per repetition, mean and 95 % CI")
    ax.grid(True, axis="x", alpha=0.3)
    return _save(plt, fig, Path(path), title, 9, dpi)


def plot_critical_difference(
    ranking: Ranking,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    use_aeon: bool = False,
    dpi: int = 120,
) -> Path:
    """A critical-difference diagram: the models on an axis of mean rank (1 = best, left), each
    clique of ``ranking`` (Wilcoxon-Holm over the cells) joined by a thick bar.

    With ``use_aeon`` and aeon installed, aeon's ``plot_critical_difference`` draws it instead,
    from the same accuracies and alpha. It finds its cliques with its own tests (aeon 1.6: after
    a significant Friedman, one-sided Wilcoxon at alpha / (models - 1)), so its bars can differ
    from ``ranking.cliques``: the report keeps our figure, which shows the cliques it prints.

    Args:
        ranking: :func:`deepshrink.study.ranking.rank_models` of one setting.
        path: the PNG to write (its folder is created).
        title: a line above the diagram.

    Returns:
        ``path``.
    """
    plt = load_pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [display_name(m) for m in ranking.models]
    if use_aeon:
        try:
            from aeon.visualisation import plot_critical_difference as aeon_cd
        except ImportError:
            aeon_cd = None
        if aeon_cd is not None:
            try:
                drawn = aeon_cd(ranking.accuracy, names, lower_better=False, test="wilcoxon", correction="holm",
                                alpha=ranking.alpha)  # fmt: skip
            except TypeError:  # another aeon's signature: draw our own
                drawn = None
            if drawn is not None:
                return _save(plt, drawn[0], path, title, 9, dpi, tight=False)
    return _save(plt, _cd_figure(plt, ranking, names), path, title, 9, dpi, tight=False)


def _cd_figure(plt: Any, ranking: Ranking, names: list[str]) -> Any:
    """Demšar's layout: a rank axis on top, the better half labelled on the left, the rest on the
    right, cliques as bars just under the axis."""
    k = len(names)
    ranks = np.asarray(ranking.mean_ranks, dtype=np.float64)
    styles = _styles(ranking.models)
    bar_step, label_step = 0.16, 0.32
    first_label = 0.35 + bar_step * len(ranking.cliques)
    left = (k + 1) // 2
    height = first_label + label_step * (max(left, k - left) - 1) + 0.2
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 1.3 * height))
    lo, hi = 1.0, float(max(k, 2))
    margin = (hi - lo) * 0.45 + 0.6
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(height + 0.25, -0.45)
    ax.axis("off")
    ax.plot([lo, hi], [0, 0], color="black", lw=1.2)
    for t in range(1, int(hi) + 1):
        ax.plot([t, t], [0, -0.08], color="black", lw=1.0)
        ax.text(t, -0.13, str(t), ha="center", va="bottom", fontsize=9)
    for i, (name, r) in enumerate(zip(names, ranks)):
        on_left = i < left
        y = first_label + label_step * (i if on_left else k - 1 - i)
        end = lo - margin * 0.35 if on_left else hi + margin * 0.35
        color = styles[ranking.models[i]][0]
        ax.plot([r, r, end], [0, y, y], color=color, lw=1.0)
        ax.plot([r], [0], marker="o", color=color, ms=4)
        label = f"{name} ({r:.2f})" if on_left else f"({r:.2f}) {name}"
        ax.text(end + (-0.05 if on_left else 0.05), y, label, ha="right" if on_left else "left", va="center",
                fontsize=9)
    index = {m: i for i, m in enumerate(ranking.models)}
    for c, clique in enumerate(ranking.cliques):
        rs = [ranks[index[m]] for m in clique]
        y = 0.22 + bar_step * c
        ax.plot([min(rs) - 0.03, max(rs) + 0.03], [y, y], color="black", lw=4, solid_capstyle="round")
    note = (f"mean rank over {len(ranking.cells)} cells; bars: no pair differs "
            f"(Wilcoxon signed-rank, Holm, alpha {ranking.alpha:g})")
    ax.text(lo, height + 0.2, note, fontsize=7, color="0.35", va="bottom")
    return fig
