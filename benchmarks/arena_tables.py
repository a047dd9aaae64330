"""The arena's summary tables in docs/results.md, from study folders (regenerable, nothing typed in).

    python benchmarks/arena_tables.py docs/evidence/arena
    python benchmarks/arena_tables.py docs/evidence/arena_ucr/{ChlorineConcentration,ECG5000,...}

Several folders are one panel: a cell is dataset x noise kind x SNR (as ``benchmark --panel``).
Prints, per setting (noise protocol x input normalisation):

1. each model's mean rank over the cells and, in brackets, its mean test accuracy (%);
2. each shrinkage model (a ``drsn_*``) against the best model without shrinkage (by mean rank):
   cells won, the Wilcoxon-Holm p over the cells (all pairs of the setting are one family), and
   the difference paired over repetitions (mean over cells per seed, then mean and 95 % Student-t
   interval over seeds; per dataset for a panel, Holm over the datasets x shrinkage models).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from deepshrink.study.ranking import holm, paired_t_pvalue, rank_models
from deepshrink.study.results import read_results
from deepshrink.study.stats import ci95, display_name, finished_rows, mean_std, repetition_differences, setting_of

PROTOCOL = {"fixed": "noisy training", "fresh": "fresh noise", "clean": "trained clean"}
NORMALIZE = {"none": "raw", "per_sample": "std"}


def is_shrinkage(model: str) -> bool:
    return model.startswith("drsn_")


def load(folders: list[Path]) -> tuple[list[dict], list[str]]:
    rows, datasets = [], []
    for folder in folders:
        found = finished_rows(read_results(folder / "results.csv"))
        name = str(found[0].get("data")) if found else folder.name
        datasets.append(name)
        rows += [{**r, "noise": f"{name} {r['noise']}" if len(folders) > 1 else r["noise"]} for r in found]
    return rows, datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    rows, datasets = load(args.folders)
    settings = sorted({setting_of(r) for r in rows}, key=lambda s: (s[0] != "fixed", s[1]))
    rankings = {}
    for st in settings:
        mine = [r for r in rows if setting_of(r) == st]
        rankings[st] = (mine, rank_models(mine, list(dict.fromkeys(r["model"] for r in mine))))
    heads = [f"{PROTOCOL.get(st[0], st[0])}, {NORMALIZE.get(st[1], st[1])} ({len(rk.cells)} cells)" for st, (_, rk) in rankings.items()]
    print("| model | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    first = next(iter(rankings.values()))[1]
    order = sorted(first.models, key=lambda m: np.mean([rk.mean_ranks[rk.models.index(m)] for _, rk in rankings.values()
                                                        if m in rk.models]))  # fmt: skip
    for m in order:
        cells = []
        for _, rk in rankings.values():
            i = rk.models.index(m) if m in rk.models else None
            cells.append("–" if i is None else f"{rk.mean_ranks[i]:.2f} ({100 * rk.mean_accuracy[i]:.1f})")
        print(f"| {display_name(m)} | " + " | ".join(cells) + " |")
    for st, (mine, rk) in rankings.items():
        best = next(m for m in rk.models if not is_shrinkage(m))
        print(f"\n## {PROTOCOL.get(st[0], st[0])}, {NORMALIZE.get(st[1], st[1])}: shrinkage against "
              f"{display_name(best)} (rank {rk.mean_ranks[rk.models.index(best)]:.2f}), Friedman p {rk.friedman.pvalue:.2g}")
        tests = []  # (model, dataset, mean, ci, p) paired over seeds
        for m in [m for m in rk.models if is_shrinkage(m)]:
            for d in datasets:
                sub = [r for r in mine if r["data"] == d] if len(datasets) > 1 else mine
                diffs = list(repetition_differences(sub, best, m).values())
                if len(diffs) >= 2:
                    mean, std = mean_std(diffs)
                    tests.append((m, d, mean, ci95(diffs), paired_t_pvalue(mean, std, len(diffs))))
        adjusted = dict(zip([(t[0], t[1]) for t in tests], holm([t[4] for t in tests]))) if tests else {}
        print("| model | cells ahead | Wilcoxon-Holm p | paired over seeds, per dataset: points [95 % CI] (Holm p) |")
        print("|---|---:|---:|---|")
        for m in [m for m in rk.models if is_shrinkage(m)]:
            pair = next(p for p in rk.pairs if {p["a"], p["b"]} == {m, best})
            ahead = pair["wins"] if pair["a"] == m else pair["losses"]
            paired = "; ".join(f"{d if len(datasets) > 1 else 'all'} {100 * mean:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] "
                               f"({adjusted[(m, d)]:.2g})" for mm, d, mean, (lo, hi), _ in tests
                               if mm == m and not math.isnan(lo))  # fmt: skip
            print(f"| {display_name(m)} | {ahead} of {len(rk.cells)} | {pair['p_holm']:.2g} | {paired} |")


if __name__ == "__main__":
    main()
