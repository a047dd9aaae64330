"""A panel: the models of several study folders, one dataset each, ranked over all their cells together."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepshrink.errors import ConfigError
from deepshrink.study.plots import plot_critical_difference
from deepshrink.study.results import read_results
from deepshrink.study.spec import DEFAULT_SETTING
from deepshrink.study.stats import display_name, finished_rows, mean_std, setting_label, setting_of
from deepshrink.fileio import atomic_write
from deepshrink.study.sections import md_table, ranking_of, ranks_section

__all__ = ["write_panel_report"]


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
        L += md_table(["model"] + datasets, per_dataset) + [""]
        tag = "".join(f"{t}_" for t, default in zip(st, DEFAULT_SETTING) if t != default)
        ranking, _ = ranking_of(mine, present)
        cd = None
        if ranking is not None:
            cd = os.path.relpath(plot_critical_difference(ranking, fig_dir / f"panel_{tag}critical_difference.png",
                                                          title=setting_label(st)), out)  # fmt: skip
        L += ranks_section(mine, present, "###", cd)
    report = out / "panel.md"
    atomic_write(report, "\n".join(L).encode("utf-8"))
    return report
