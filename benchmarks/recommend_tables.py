"""Issue 22's tables: which network to use on noisy real series, against MiniRocket (regenerable).

    python benchmarks/recommend_tables.py docs/evidence/recommend_ucr/*/

Several folders (one ``recommend_ucr`` study per dataset) are one panel; a cell is dataset x
noise kind x SNR. Prints:

1. each model's mean rank over all cells, its mean test accuracy (%), and per dataset its mean
   accuracy and its seed spread: the largest, over the dataset's cells, of the std over seeds;
2. each model minus MiniRocket, paired over seeds per dataset (the mean over the dataset's cells
   per seed, then the mean and 95 % Student-t interval over seeds), Holm-adjusted p over every
   model x dataset comparison of the table;
3. each shrinkage network minus its plain version of the same size (``drsn_cw14_1d`` -
   ``resnet14_1d``, ...), the same way.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from arena_tables import load

from deepshrink.models import is_model, plain_counterpart
from deepshrink.study.ranking import holm, paired_t_pvalue, rank_models
from deepshrink.study.stats import ci95, display_name, mean_std, repetition_differences

REFERENCE = "minirocket"


def seed_spread(rows: list[dict], model: str) -> float:
    """The largest std over seeds of ``model``'s test accuracy in one cell (noise kind x SNR)."""
    cells: dict[tuple, list[float]] = {}
    for r in rows:
        if r["model"] == model:
            cells.setdefault((r["noise"], r["snr_db"]), []).append(float(r["test_acc"]))
    return max((float(np.std(v)) for v in cells.values() if len(v) > 1), default=float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    rows, datasets = load(args.folders)
    models = list(dict.fromkeys(r["model"] for r in rows))
    ranking = rank_models(rows, models)
    short = [d.removeprefix("ucr:") for d in datasets]
    print(f"Mean rank over {len(ranking.cells)} cells (Friedman p {ranking.friedman.pvalue:.2g}); per dataset the mean "
          "test accuracy (%) and, in brackets, the largest std over seeds in one cell (points).\n")
    print("| model | mean rank | mean accuracy | " + " | ".join(short) + " |")
    print("|---|---:|---:|" + "---:|" * len(short))
    for i, m in enumerate(ranking.models):
        per = []
        for d in datasets:
            sub = [r for r in rows if r["data"] == d]
            acc = mean_std([float(r["test_acc"]) for r in sub if r["model"] == m])[0]
            spread = seed_spread(sub, m)
            per.append(f"{100 * acc:.2f} ({'one seed' if math.isnan(spread) else f'{100 * spread:.1f}'})")
        print(f"| {display_name(m)} | {ranking.mean_ranks[i]:.2f} | {100 * ranking.mean_accuracy[i]:.2f} | " + " | ".join(per) + " |")
    pairs = [(m, REFERENCE) for m in ranking.models if m != REFERENCE]
    paired_table(rows, datasets, pairs, f"Each model minus {display_name(REFERENCE)}")
    plain = [(m, plain_counterpart(m)) for m in ranking.models if is_model(m)]
    paired_table(rows, datasets, [(m, p) for m, p in plain if p in ranking.models], "Each shrinkage network minus its plain version")


def paired_table(rows: list[dict], datasets: list[str], pairs: list[tuple[str, str]], title: str) -> None:
    """``model - baseline`` for each pair, paired over seeds per dataset, Holm over the table."""
    tests = []
    for m, base in pairs:
        for d in datasets:
            diffs = list(repetition_differences([r for r in rows if r["data"] == d], base, m).values())
            if len(diffs) >= 2:
                mean, std = mean_std(diffs)
                tests.append(((m, base, d), mean, ci95(diffs), paired_t_pvalue(mean, std, len(diffs))))
    adjusted = dict(zip([t[0] for t in tests], holm([t[3] for t in tests]))) if tests else {}
    found = {t[0]: t for t in tests}
    short = [d.removeprefix("ucr:") for d in datasets]
    print(f"\n{title}, paired over seeds per dataset: points [95 % CI] (Holm p over the {len(tests)} comparisons).\n")
    print("| model | against | " + " | ".join(short) + " |")
    print("|---|---|" + "---|" * len(short))
    for m, base in pairs:
        cells = []
        for d in datasets:
            t = found.get((m, base, d))
            if t is None or math.isnan(t[2][0]):
                cells.append("–")
                continue
            cells.append(f"{100 * t[1]:+.2f} [{100 * t[2][0]:+.2f}, {100 * t[2][1]:+.2f}] ({adjusted[t[0]]:.2g})")
        print(f"| {display_name(m)} | {display_name(base)} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
