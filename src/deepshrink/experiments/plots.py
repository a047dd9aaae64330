"""Figures of the study (matplotlib, Agg backend: no display needed).

* :func:`plot_accuracy_vs_snr`: test accuracy against SNR, one line per model with a ±std band
  over the repetitions; one PNG per noise kind plus one panel of all noise kinds (Figs. 6-8).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepshrink.experiments.stats import aggregate, chance_level, display_name
from deepshrink.models import is_model, model_family

__all__ = ["plot_accuracy_vs_snr", "MODEL_COLORS"]

# Colour and marker of each family of deepshrink.models.FAMILIES (a test holds the keys to it);
# a model the registry does not know gets matplotlib's colour cycle and a circle.
_STYLE = {
    "convnet": ("#7f7f7f", "v"), "resnet": ("#1f77b4", "o"), "se_resnet": ("#9467bd", "D"),
    "drsn_cs": ("#ff7f0e", "s"), "drsn_cw": ("#d62728", "^"),
}  # fmt: skip
MODEL_COLORS = {family: color for family, (color, _) in _STYLE.items()}
_MARKERS = {family: marker for family, (_, marker) in _STYLE.items()}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _draw(ax: Any, rows: Sequence[dict[str, Any]], noise: str, models: Sequence[str]) -> None:

    agg = aggregate([r for r in rows if r["noise"] == noise and r.get("snr_db") is not None])
    snrs = sorted({k[2] for k in agg})
    for i, model in enumerate(models):
        pts = [(s, agg[(model, noise, s)]) for s in snrs if (model, noise, s) in agg]
        if not pts:
            continue
        x = np.array([p[0] for p in pts])
        mean = np.array([100 * p[1]["test_acc"][0] for p in pts])
        std = np.array([100 * p[1]["test_acc"][1] for p in pts])
        family = model_family(model) if is_model(model) else None
        color = MODEL_COLORS.get(family, f"C{i}")
        ax.plot(x, mean, marker=_MARKERS.get(family, "o"), color=color, label=display_name(model), lw=1.6, ms=5)
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


def _save(plt: Any, fig: Any, path: Path, title: str | None, fontsize: int, dpi: int) -> Path:
    """Title (red when it says LEAKY), lay out, write and close a figure."""
    if title:  # wrapped to the figure's width (about 120 / fontsize characters per inch)
        text = textwrap.fill(title, width=max(20, int(fig.get_figwidth() * 120 / fontsize)))
        fig.suptitle(text, fontsize=fontsize, color="darkred" if "LEAKY" in title else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
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
        rows: ``results.csv`` rows (:func:`deepshrink.experiments.study.read_results`).
        out_dir: folder for the PNGs (created).
        models, noises: order (default: as they first appear).
        prefix: file name prefix.
        title: a line above the panels (the study setting; a leaky split says so there).

    Returns:
        The written paths: ``{prefix}accuracy_vs_snr.png`` (all noise kinds side by side) and
        ``{prefix}accuracy_vs_snr_{noise}.png`` per noise kind. Noise ``none`` is left out.
    """
    plt = _pyplot()
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
