"""Do the learned thresholds follow the noise? Thresholds of a trained DRSN against the input SNR.

The paper's argument (Zhao et al. 2020, Sec. III) is that each sample gets its own threshold,
fitted to its own noise: τ = α · mean|x| per sample (and channel for CW). This module feeds
the test signals of a trained run through its model at a range of SNRs (the same clean
signals, noise of the run's kind added at each SNR) and records, for every shrinkage layer:

* ``tau_mean``: the mean threshold τ (over samples, and channels for CW);
* ``alpha_mean``: the mean scaling α = τ / mean|x| (the sigmoid output of the sub-network):
  τ grows with the input's amplitude even for a fixed α, so α says whether the *relative*
  threshold adapts;
* ``zero_fraction``: the share of features the layer sets exactly to zero;
* ``tau_rel_clean``: ``tau_mean`` divided by its value on the clean signals;

per SNR, for all test signals (``class = all``) and per class, with the model's accuracy at
that SNR. Besides the CSV it reports, per layer, the Spearman correlation between a sample's
SNR and its τ (α, zero fraction) over all samples and SNRs: negative means "more noise, higher
threshold".
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepshrink.errors import CheckpointError, ConfigError
from deepshrink.study.plots import load_pyplot
from deepshrink.fileio import atomic_write, csv_cell
from deepshrink.layers import Shrinkage, record_thresholds
from deepshrink.noise import add_noise
from deepshrink.predict.batch import normalize_batch
from deepshrink.predict.loading import load
from deepshrink.seeds import Purpose, derive_seed
from deepshrink.train.evaluation import run_config
from deepshrink.train.prepare import clean_parts, load_data_spec

__all__ = ["ThresholdAnalysis", "THRESHOLD_COLUMNS", "analyze_thresholds", "write_threshold_analysis",
           "plot_thresholds", "collect_thresholds"]  # fmt: skip

THRESHOLD_COLUMNS = ("snr_db", "layer", "block", "class", "n", "tau_mean", "tau_std", "alpha_mean", "alpha_std",
                     "zero_fraction", "tau_rel_clean", "accuracy")  # fmt: skip


@dataclass
class ThresholdAnalysis:
    """The result of :func:`analyze_thresholds`.

    Attributes:
        rows: one dict per (SNR, layer, class) with :data:`THRESHOLD_COLUMNS` (``snr_db`` None = clean).
        correlations: per layer, Spearman rho of the per-sample SNR with τ, α and the zero fraction.
        layers: the shrinkage layers' names, in forward order.
        label_names: the classes.
        noise: the noise kind used.
        mode: ``cw`` or ``cs``.
    """

    rows: list[dict[str, Any]]
    correlations: list[dict[str, Any]]
    layers: list[str]
    label_names: list[str]
    noise: str
    mode: str


def _block_name(layer: str) -> str:
    """``stages.1.2.shrink`` -> ``stage 2 unit 3`` (best effort; else the module path)."""
    parts = layer.split(".")
    nums = [p for p in parts if p.isdigit()]
    if len(nums) >= 2:
        return f"stage {int(nums[0]) + 1} unit {int(nums[1]) + 1}"
    return layer


def collect_thresholds(model: torch.nn.Module, x: torch.Tensor, *, batch_size: int = 256,
                       normalize: str = "none") -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:  # fmt: skip
    """Per shrinkage layer, per sample: τ (mean over channels), α (mean over channels), zero fraction.

    Returns:
        ``({layer: {"tau": (N,), "alpha": (N,), "zero": (N,)}}, logits (N, K))``.
    """

    layers = {name: m for name, m in model.named_modules() if isinstance(m, Shrinkage)}
    if not layers:
        raise ConfigError("the model has no shrinkage layers (a DRSN, e.g. drsn_cw_paper, is needed)")
    absmean: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def fn(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            absmean[name] = args[0].detach().abs().flatten(2).mean(-1)  # (N, C): the GAP of |x|

        return fn

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in layers.items()]
    out: dict[str, dict[str, list[np.ndarray]]] = {n: {"tau": [], "alpha": [], "zero": []} for n in layers}
    logits = []
    model.eval()
    try:
        with torch.no_grad(), record_thresholds(model) as rec:
            for start in range(0, x.shape[0], batch_size):
                xb = normalize_batch(x[start : start + batch_size].float(), normalize)
                logits.append(model(xb).float())
                for name, layer in rec.items():
                    r = layer.last_record
                    tau = r.tau.float()  # (N, C) or (N, 1)
                    a = absmean[name].float()
                    if tau.shape[1] == 1:
                        a = a.mean(1, keepdim=True)
                    alpha = tau / a.clamp_min(1e-12)
                    out[name]["tau"].append(tau.mean(1).numpy())
                    out[name]["alpha"].append(alpha.mean(1).numpy())
                    out[name]["zero"].append(r.zero_fraction.float().numpy())
    finally:
        for h in handles:
            h.remove()
    stacked = {n: {k: np.concatenate(v) for k, v in d.items()} for n, d in out.items()}
    return stacked, torch.cat(logits).numpy()


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    from scipy.stats import spearmanr  # lazy: scipy is slow to import and only this needs it

    return float(spearmanr(a, b).statistic)


def analyze_thresholds(
    run_dir: str | os.PathLike,
    *,
    snrs: Sequence[float] = (-10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10),
    noise: str | None = None,
    include_clean: bool = True,
    max_signals: int | None = 1024,
    split: str = "test",
    seed: int = 0,
    batch_size: int = 256,
    dataset: Any = None,
) -> ThresholdAnalysis:
    """Thresholds of the trained DRSN in ``run_dir`` against the SNR of its test signals.

    Args:
        run_dir: a run folder (``config.yaml`` + ``model.safetensors``) of a DRSN (CS or CW).
        snrs: input SNRs in dB.
        noise: noise kind (default the run's; ``gaussian`` if the run had none).
        include_clean: also record the clean signals (``snr_db`` empty in the CSV).
        max_signals: use at most this many test signals (a class-stratified, seeded choice).
        split: ``test`` (the run's held-out recordings) or ``train``.
        seed: seed of the noise and the signal choice.
        batch_size: forward batch size.
        dataset: the run's clean dataset, if already loaded (else loaded from ``config.yaml``).

    Raises:
        CheckpointError: not a run folder; ConfigError: the model has no shrinkage layers.
    """

    cfg = run_config(run_dir)
    model = load(run_dir)
    ds = load_data_spec(cfg.data, cfg.data_args, cfg.split, dataset)
    if split not in ("test", "train"):
        raise ConfigError(f"split: must be 'test' or 'train', got {split!r}")
    if cfg.split == "predefined" and "split" not in ds.conditions:
        raise CheckpointError(
            f"{run_dir}: the run used a predefined split its data no longer carries (a study fold?); "
            "pass the study's dataset"
        )
    train_part, _, test_part = clean_parts(cfg, ds)
    part = test_part if split == "test" else train_part
    part = part.clean() if hasattr(part, "clean") else part
    x_all, y_all = part.x, part.y.cpu().numpy()
    rng = np.random.default_rng(derive_seed(seed, Purpose.THRESHOLD_SIGNALS))
    if max_signals is not None and len(y_all) > max_signals:
        # stratified: the same share of each class
        idx = np.concatenate([rng.permutation(np.flatnonzero(y_all == k))[: max(1, round(max_signals * np.mean(y_all == k)))]
                              for k in np.unique(y_all)])  # fmt: skip
        idx = np.sort(idx)
        x_all, y_all = x_all[torch.from_numpy(idx)], y_all[idx]
    kind = noise or (cfg.noise if cfg.noise != "none" else "gaussian")
    label_names = list(getattr(model, "label_names", None) or ds.label_names)
    normalize = cfg.normalize

    levels: list[float | None] = ([None] if include_clean else []) + [float(s) for s in snrs]
    per_level = []
    for i, snr in enumerate(levels):
        x = x_all if snr is None else add_noise(x_all, snr, kind, derive_seed(seed, Purpose.THRESHOLD_NOISE, i))
        stats, logits = collect_thresholds(model, x, batch_size=batch_size, normalize=normalize)
        per_level.append((snr, stats, logits.argmax(1)))
    layers = list(per_level[0][1])
    mode = "cs" if all(m.mode == "cs" for m in model.modules() if hasattr(m, "mode") and hasattr(m, "last_record")) else "cw"

    rows: list[dict[str, Any]] = []
    clean_tau = {}
    for snr, stats, pred in per_level:
        for layer in layers:
            s = stats[layer]
            groups = [("all", np.ones_like(y_all, dtype=bool))] + [
                (label_names[k], y_all == k) for k in range(len(label_names)) if np.any(y_all == k)
            ]
            for cls, mask in groups:
                tau, alpha, zero = s["tau"][mask], s["alpha"][mask], s["zero"][mask]
                key = (layer, cls)
                if snr is None:
                    clean_tau[key] = float(tau.mean())
                rows.append({
                    "snr_db": snr, "layer": layer, "block": _block_name(layer), "class": cls, "n": int(mask.sum()),
                    "tau_mean": float(tau.mean()), "tau_std": float(tau.std()), "alpha_mean": float(alpha.mean()),
                    "alpha_std": float(alpha.std()), "zero_fraction": float(zero.mean()),
                    "tau_rel_clean": float(tau.mean()) / clean_tau[key] if clean_tau.get(key) else float("nan"),
                    "accuracy": float((pred[mask] == y_all[mask]).mean()),
                })  # fmt: skip
    correlations = []
    noisy = [(snr, stats) for snr, stats, _ in per_level if snr is not None]
    if len(noisy) >= 2:
        snr_vec = np.concatenate([np.full(len(y_all), snr) for snr, _ in noisy])
        for layer in layers:
            corr = {"layer": layer, "block": _block_name(layer)}
            for key, name in (("tau", "rho_tau"), ("alpha", "rho_alpha"), ("zero", "rho_zero")):
                corr[name] = _spearman(snr_vec, np.concatenate([st[layer][key] for _, st in noisy]))
            correlations.append(corr)
    return ThresholdAnalysis(rows, correlations, layers, label_names, kind, mode)


def first_unit_of_each_stage(layers: Sequence[str]) -> list[str]:
    """The shrinkage layer of the first unit of each stage (``stages.<s>.<u>...``), in order: the
    units whose thresholds follow the input's noise (docs/results.md section 6)."""
    first: dict[str, str] = {}
    for layer in layers:
        nums = [p for p in layer.split(".") if p.isdigit()]
        first.setdefault(nums[0] if nums else layer, layer)
    return list(first.values())


def plot_thresholds(analysis: ThresholdAnalysis, out_dir: str | os.PathLike, *, prefix: str = "thresholds",
                    title: str | None = None, dpi: int = 120) -> list[Path]:  # fmt: skip
    """``{prefix}.png`` (per layer: τ, α and zero fraction vs SNR, with accuracy) and
    ``{prefix}_by_class.png`` (the first unit of each stage, the units whose thresholds follow
    the noise in docs/results.md section 6: τ relative to clean, or τ without a clean
    reference, and the zero fraction vs SNR per class)."""

    plt = load_pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in analysis.rows if r["snr_db"] is not None]
    clean = {(r["layer"], r["class"]): r for r in analysis.rows if r["snr_db"] is None}
    snrs = sorted({r["snr_db"] for r in rows})
    cmap = plt.get_cmap("viridis")
    n_layers = len(analysis.layers)

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.0))
    for j, layer in enumerate(analysis.layers):
        color = cmap(j / max(1, n_layers - 1))
        mine = {r["snr_db"]: r for r in rows if r["layer"] == layer and r["class"] == "all"}
        label = _block_name(layer)
        for ax, key in zip(axes[:3], ("tau_rel_clean", "alpha_mean", "zero_fraction")):
            ax.plot(snrs, [mine[s][key] for s in snrs], color=color, marker="o", ms=3, lw=1.3, label=label)
            c = clean.get((layer, "all"))
            if c is not None and key != "tau_rel_clean":
                ax.axhline(c[key], color=color, lw=0.6, ls=":")
    acc = {r["snr_db"]: r["accuracy"] for r in rows if r["layer"] == analysis.layers[0] and r["class"] == "all"}
    axes[3].plot(snrs, [100 * acc[s] for s in snrs], color="k", marker="o", ms=3)
    c = clean.get((analysis.layers[0], "all"))
    if c is not None:
        axes[3].axhline(100 * c["accuracy"], color="k", lw=0.6, ls=":", label="clean")
        axes[3].legend(fontsize=8)
    axes[0].axhline(1.0, color="grey", lw=0.6, ls=":")
    titles = ("mean τ relative to clean input", "mean α = τ / mean|x| (dotted: clean)",
              "fraction of features set to zero (dotted: clean)", "test accuracy (%)")  # fmt: skip
    for ax, t in zip(axes, titles):
        ax.set_title(t, fontsize=10)
        ax.set_xlabel(f"input SNR (dB), {analysis.noise} noise")
        ax.grid(True, alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    main = out / f"{prefix}.png"
    fig.savefig(main, dpi=dpi)
    plt.close(fig)

    # per class: the first unit of each stage (the deeper ones do not adapt)
    picked = first_unit_of_each_stage(analysis.layers)
    relative = bool(clean)  # τ relative to its clean value, class by class, when the clean signals were run
    tau_key, tau_title = ("tau_rel_clean", "mean τ relative to clean") if relative else ("tau_mean", "mean τ")
    classes = [c for c in analysis.label_names if any(r["class"] == c for r in rows)]
    fig, axes = plt.subplots(2, len(picked), figsize=(4.2 * len(picked), 7.0), squeeze=False)
    ccmap = plt.get_cmap("tab10")
    for j, layer in enumerate(picked):
        for k, cls in enumerate(classes):
            mine = {r["snr_db"]: r for r in rows if r["layer"] == layer and r["class"] == cls}
            axes[0][j].plot(snrs, [mine[s][tau_key] for s in snrs], color=ccmap(k % 10), marker="o", ms=3, lw=1.2, label=cls)
            axes[1][j].plot(snrs, [mine[s]["zero_fraction"] for s in snrs], color=ccmap(k % 10), marker="o", ms=3, lw=1.2)
        axes[0][j].set_title(f"{_block_name(layer)}: {tau_title}", fontsize=10)
        if relative:
            axes[0][j].axhline(1.0, color="grey", lw=0.6, ls=":")
        axes[1][j].set_title(f"{_block_name(layer)}: zero fraction", fontsize=10)
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xlabel("input SNR (dB)")
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title + " (per class)", fontsize=11)
    fig.tight_layout()
    by_class = out / f"{prefix}_by_class.png"
    fig.savefig(by_class, dpi=dpi)
    plt.close(fig)
    return [main, by_class]


def write_threshold_analysis(analysis: ThresholdAnalysis, out_dir: str | os.PathLike, *, prefix: str = "thresholds",
                             title: str | None = None) -> list[Path]:  # fmt: skip
    """Write ``{prefix}.csv``, ``{prefix}_correlation.csv`` and the two PNGs; returns their paths."""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(THRESHOLD_COLUMNS)
    for r in analysis.rows:
        w.writerow([csv_cell(r[c]) for c in THRESHOLD_COLUMNS])
    main = out / f"{prefix}.csv"
    atomic_write(main, buf.getvalue().encode())
    paths = [main]
    if analysis.correlations:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        cols = ("layer", "block", "rho_tau", "rho_alpha", "rho_zero")
        w.writerow(cols)
        for r in analysis.correlations:
            w.writerow([csv_cell(r[c]) for c in cols])
        corr = out / f"{prefix}_correlation.csv"
        atomic_write(corr, buf.getvalue().encode())
        paths.append(corr)
    paths += plot_thresholds(analysis, out, prefix=prefix, title=title)
    return paths
