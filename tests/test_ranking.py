"""Many models over many cells: ranks, Friedman, Wilcoxon-Holm, cliques, the report's ranks
section and Holm column, the critical-difference figure; each against a hand-worked example or scipy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from deepshrink.errors import ConfigError
from deepshrink.study.plots import plot_critical_difference, plot_paired_differences
from deepshrink.study.ranking import (
    cell_ranks,
    cliques,
    friedman,
    holm,
    mean_ranks,
    paired_t_pvalue,
    rank_models,
    wilcoxon_holm,
)
from deepshrink.study.report import format_markdown_report, write_study_report
from deepshrink.study.stats import paired_differences, repetition_differences

# ---------------------------------------------------------------------- ranks and Friedman


def test_ranks_with_ties_by_hand():
    acc = [[0.9, 0.8, 0.8, 0.7],  # ranks 1, 2.5, 2.5, 4
           [0.5, 0.6, 0.7, 0.7],  # 4, 3, 1.5, 1.5
           [0.6, 0.6, 0.6, 0.6]]  # all tied: 2.5 each  # fmt: skip
    assert cell_ranks(acc).tolist() == [[1, 2.5, 2.5, 4], [4, 3, 1.5, 1.5], [2.5, 2.5, 2.5, 2.5]]
    assert mean_ranks(acc) == pytest.approx([7.5 / 3, 8 / 3, 6.5 / 3, 8 / 3])


@pytest.mark.parametrize("cells, models, seed", [(5, 3, 0), (12, 6, 1), (30, 4, 2)])
def test_friedman_matches_scipy(cells, models, seed):
    acc = np.round(np.random.default_rng(seed).uniform(0.6, 0.9, (cells, models)), 2)  # rounded: ties
    acc[0, :2] = acc[0, 2]  # at least one tie, so the tie correction is exercised
    f = friedman(acc)
    ref = stats.friedmanchisquare(*acc.T)
    assert f.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert f.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    # Iman-Davenport (Demšar 2006, eq. 3) from scipy's chi-square
    ff = (cells - 1) * ref.statistic / (cells * (models - 1) - ref.statistic)
    assert f.f_statistic == pytest.approx(ff, rel=1e-9)
    assert f.f_pvalue == pytest.approx(stats.f.sf(ff, models - 1, (models - 1) * (cells - 1)), rel=1e-9)
    assert f.df == (models - 1, (models - 1) * (cells - 1))


def test_friedman_degenerate_cases():
    same = np.full((4, 3), 0.8)  # every cell a tie: nothing to rank
    assert (friedman(same).statistic, friedman(same).pvalue) == (0.0, 1.0)
    agree = np.array([[0.9, 0.8, 0.7]] * 4)  # the same order in every cell: F infinite
    f = friedman(agree)
    assert f.statistic == pytest.approx(stats.friedmanchisquare(*agree.T).statistic)
    assert math.isinf(f.f_statistic) and f.f_pvalue == 0.0


# ---------------------------------------------------------------------- Holm and the paired t


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> made monotone: 0.06 for the last
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    got = holm([0.01, float("nan"), 0.04])  # a NaN is no comparison: m = 2
    assert got[0] == pytest.approx(0.02) and math.isnan(got[1]) and got[2] == pytest.approx(0.04)
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1
    assert np.isnan(holm([float("nan")])).all() and holm([]).size == 0
    with pytest.raises(ConfigError, match="holm: p-values must lie in"):
        holm([0.5, 1.5])


def test_holm_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(3).uniform(0, 0.2, 17)
    assert holm(p) == pytest.approx(multitest.multipletests(p, method="holm")[1], rel=1e-12)


def test_paired_t_pvalue_matches_scipy():
    d = [0.03, 0.01, 0.05, -0.01, 0.02]
    mean, std = float(np.mean(d)), float(np.std(d, ddof=1))
    assert paired_t_pvalue(mean, std, len(d)) == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue, rel=1e-9)
    assert math.isnan(paired_t_pvalue(0.02, 0.0, 1))  # one repetition: no test
    assert paired_t_pvalue(0.0, 0.0, 3) == 1.0 and paired_t_pvalue(0.02, 0.0, 3) == 0.0


# ---------------------------------------------------------------------- Wilcoxon-Holm and cliques

# Three models over 6 cells. A beats B by 1..6 points and C by distinct positive margins in every
# cell: exact two-sided Wilcoxon p = 2 / 2^6. B - C alternates in sign with |d| ranks 1..6: W+ =
# 1 + 3 + 5 = 9, and 27 of the 64 sign patterns of 1..6 sum to 9 or less: p = 2 * 27 / 64.
A = np.array([0.90, 0.91, 0.92, 0.93, 0.94, 0.95])
B = A - np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
C = B - np.array([0.001, -0.002, 0.003, -0.004, 0.005, -0.006])
P_AB, P_AC, P_BC = 2 / 64, 2 / 64, 54 / 64


def test_wilcoxon_holm_by_hand():
    pairs = wilcoxon_holm(np.column_stack([A, B, C]), ["a", "b", "c"], alpha=0.05)
    assert [(p["a"], p["b"]) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert [p["p"] for p in pairs] == pytest.approx([P_AB, P_AC, P_BC])
    # Holm: 2/64 * 3, then 2/64 * 2 raised to the first, then 54/64 * 1
    assert [p["p_holm"] for p in pairs] == pytest.approx([6 / 64, 6 / 64, 54 / 64])
    assert not any(p["significant"] for p in pairs)  # 0.094 > 0.05
    assert [p["wins"] for p in pairs] == [6, 6, 3]
    pairs = wilcoxon_holm(np.column_stack([A, B, C]), ["a", "b", "c"], alpha=0.1)
    assert [p["significant"] for p in pairs] == [True, True, False]


def test_cliques_one_clearly_better_two_indistinguishable():
    rows = _rows_from({"resnet_paper": B, "drsn_cw_paper": A, "convnet_paper": C})
    r = rank_models(rows, ["resnet_paper", "drsn_cw_paper", "convnet_paper"], alpha=0.1)
    assert r.models[0] == "drsn_cw_paper" and r.mean_ranks.tolist() == [1.0, 2.5, 2.5]
    assert r.cliques == [["resnet_paper", "convnet_paper"]]  # tied mean ranks keep the given order
    assert r.friedman.statistic == pytest.approx(stats.friedmanchisquare(A, B, C).statistic)
    assert r.accuracy[:, 0] == pytest.approx(A) and r.mean_accuracy[0] == pytest.approx(A.mean())
    # at 5 % nothing differs: one clique of all three
    assert rank_models(rows, ["resnet_paper", "drsn_cw_paper", "convnet_paper"]).cliques == [
        ["drsn_cw_paper", "resnet_paper", "convnet_paper"]
    ]


def test_cliques_are_maximal_and_contiguous():
    names = ["m1", "m2", "m3", "m4", "m5"]
    # m1-m3 and m2-m4 and m3-m5 ... differ where the span is 3 or more in rank
    different = {frozenset(p) for p in [("m1", "m4"), ("m1", "m5"), ("m2", "m5")]}
    assert cliques(names, [1, 2, 3, 4, 5], different) == [["m1", "m2", "m3"], ["m2", "m3", "m4"], ["m3", "m4", "m5"]]
    assert cliques(names, [5, 4, 3, 2, 1], set()) == [names[::-1]]  # ordered by rank, not by name
    everything = {frozenset((a, b)) for a in names for b in names if a != b}
    assert cliques(names, [1, 2, 3, 4, 5], everything) == []


def test_degenerate_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="at least 2 models"):
        mean_ranks([[0.9], [0.8]])
    with pytest.raises(ConfigError, match="at least 2 cells"):
        friedman([[0.9, 0.8, 0.7]])
    with pytest.raises(ConfigError, match="NaN"):
        wilcoxon_holm([[0.9, float("nan")], [0.8, 0.7]], ["a", "b"])
    with pytest.raises(ConfigError, match="2 model names for 3 columns"):
        wilcoxon_holm(np.ones((3, 3)), ["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # equal in every cell: p 1 without asking scipy (it warns there)
        (pair,) = wilcoxon_holm(np.column_stack([A, A]), ["a", "b"])
    assert (pair["p"], pair["p_holm"], pair["significant"]) == (1.0, 1.0, False)
    with pytest.raises(ConfigError, match="ranks: need at least 2 models"):
        rank_models(_rows_from({"resnet_paper": A}), ["resnet_paper"])
    one_cell = [r for r in _rows_from({"resnet_paper": A, "drsn_cw_paper": B})
                if r["snr_db"] == -5.0 and r["noise"] == "gaussian"]  # fmt: skip
    with pytest.raises(ConfigError, match="on all of 1 cell"):
        rank_models(one_cell, ["resnet_paper", "drsn_cw_paper"])


# ---------------------------------------------------------------------- the report

SNRS = (-5.0, 0.0, 5.0)


def _rows_from(cell_acc, seeds=(0,), noise_of=("gaussian", "laplacian"), spread=0.0):
    """results.csv rows with the given per-cell accuracies (the cells: noise x SNR, in order);
    seed k adds ``spread * (k - mean seed)``, so the mean over seeds is the given value."""
    rows = []
    cells = [(n, s) for n in noise_of for s in SNRS]
    mid = float(np.mean(seeds))
    for model, accs in cell_acc.items():
        for (noise, snr), a in zip(cells, accs):
            for seed in seeds:
                acc = float(a) + spread * (seed - mid) * (1 if model.startswith("drsn") else -1)
                rows.append({"run_id": f"{model}-{noise}-{snr:g}-seed{seed}", "model": model, "noise": noise,
                             "snr_db": snr, "seed": seed, "fold": None, "train_acc": acc, "test_acc": acc,
                             "test_macro_f1": acc, "seconds": 10.0, "epochs": 10, "parameters": 1000,
                             "n_train": 100, "n_test": 50, "device": "cpu", "num_classes": 4})  # fmt: skip
    return rows


ARENA = {"resnet_paper": [0.70, 0.80, 0.90, 0.65, 0.75, 0.85],
         "drsn_cw_paper": [0.78, 0.86, 0.93, 0.72, 0.80, 0.90],
         "drsn_cs_paper": [0.77, 0.85, 0.94, 0.73, 0.79, 0.89],
         "convnet_paper": [0.60, 0.70, 0.80, 0.55, 0.66, 0.79]}  # fmt: skip


def test_report_ranks_section_and_cd_figure(tmp_path):
    rows = _rows_from(ARENA, seeds=(0, 1, 2), spread=0.01)
    report = write_study_report(tmp_path, rows=rows)
    text = report.read_text()
    lines = text.splitlines()
    assert "## Ranks" in lines and "| model | mean rank | mean accuracy | cells |" in lines
    # the reference: per cell the seed mean is the given accuracy; rank by scipy, best = 1
    names = list(ARENA)
    acc = np.array([ARENA[m] for m in names]).T
    ranks = stats.rankdata(-acc, axis=1).mean(axis=0)
    for m, label, r, a in zip(names, ["ResNet", "DRSN-CW", "DRSN-CS", "ConvNet"], ranks, acc.mean(axis=0)):
        assert f"| {label} | {r:.2f} | {100 * a:.2f} | 6 |" in lines
    table = lines[lines.index("| model | mean rank | mean accuracy | cells |") + 2:][:4]
    assert [line.split(" | ")[0] for line in table] == ["| DRSN-CW", "| DRSN-CS", "| ResNet", "| ConvNet"]
    chi2 = stats.friedmanchisquare(*acc.T).statistic
    assert f"Friedman over the 6 cells: χ² = {chi2:.2f} with 3 df" in text
    # over 6 cells no Wilcoxon p is below 0.02, and Holm multiplies the smallest by the 6 pairs: none differ at 5 %
    assert "Holm-corrected over the 6 pairs at 5 %): {DRSN-CW, DRSN-CS, ResNet, ConvNet}; 0 of 6 pairs differ." in text
    png = tmp_path / "figures" / "study_critical_difference.png"
    assert png.is_file() and png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[study_critical_difference.png](figures/study_critical_difference.png)" in text
    for noise in ("gaussian", "laplacian"):
        assert (tmp_path / "figures" / f"study_accuracy_per_model_{noise}.png").stat().st_size > 1000


def test_cd_figure_of_our_own(tmp_path):
    rows = _rows_from({"resnet_paper": B, "drsn_cw_paper": A, "convnet_paper": C})
    r = rank_models(rows, ["resnet_paper", "drsn_cw_paper", "convnet_paper"], alpha=0.1)
    path = plot_critical_difference(r, tmp_path / "cd" / "x.png", title="a setting", use_aeon=False)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_cd_figure_by_aeon_when_installed(tmp_path):
    pytest.importorskip("aeon.visualisation")
    rows = _rows_from(ARENA, seeds=(0, 1), spread=0.01)
    path = plot_critical_difference(rank_models(rows, list(ARENA)), tmp_path / "aeon.png", use_aeon=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_holm_column_against_scipy():
    rows = _rows_from({"resnet_paper": ARENA["resnet_paper"], "drsn_cw_paper": ARENA["drsn_cw_paper"]},
                      seeds=(0, 1, 2), noise_of=("gaussian", "laplacian"), spread=0.01)  # fmt: skip
    # add seed-dependent noise so the paired differences have a spread
    for r in rows:
        r["test_acc"] += 0.003 * ((r["seed"] * 7 + int(r["snr_db"]) + len(r["noise"])) % 5)
    text = format_markdown_report(rows)
    acc = {(r["model"], r["noise"], r["snr_db"], r["seed"]): r["test_acc"] for r in rows}
    cells = [(n, s) for n in ("gaussian", "laplacian") for s in SNRS]
    d = {c: [acc[("drsn_cw_paper", *c, k)] - acc[("resnet_paper", *c, k)] for k in range(3)] for c in cells}
    per_seed = [np.mean([d[c][k] for c in cells]) for k in range(3)]
    p = [stats.ttest_1samp(d[c], 0.0).pvalue for c in cells] + [stats.ttest_1samp(per_seed, 0.0).pvalue]
    order = np.argsort(p)
    adjusted = np.empty(len(p))
    running = 0.0
    for i, j in enumerate(order):  # Holm by hand
        running = max(running, min(1.0, (len(p) - i) * p[j]))
        adjusted[j] = running
    q = adjusted[-1]
    want = "< 0.001" if q < 0.001 else f"{q:.3f}"
    row = next(line for line in text.splitlines() if line.startswith("| all cells |"))
    assert row.endswith(f"; Holm p {want} |")
    assert f"(all cells); Holm p {want} over the table's 7 comparisons: " in text
    assert "## Ranks" in text and "Not computed: ranks need at least 3 models" in text


def test_report_ranks_degenerate_nan_and_single_repetition(tmp_path):
    rows = _rows_from(ARENA)  # one repetition: no interval, so the Holm column says n/a
    for r in rows:
        if r["model"] == "convnet_paper" and r["noise"] == "laplacian" and r["snr_db"] == 5.0:
            r["test_acc"] = float("nan")  # a cell with no number: ConvNet is left out of the ranks
    text = write_study_report(tmp_path, rows=rows).read_text()
    assert "ConvNet (5): measured on fewer cells than the others' 6, so left out of the ranks." in text
    assert "Holm p n/a (fewer than 2 repetitions)" in text and "; Holm p n/a |" in text
    assert "| ConvNet | " not in text.split("## Ranks")[1].split("## Training time")[0]
    assert (tmp_path / "figures" / "study_critical_difference.png").stat().st_size > 1000


def test_report_sets_shrinkage_against_the_best_model_without_it():
    """The comparison is with the most accurate non-shrinkage model (here ConvNet, not the ResNet baseline)."""
    cells = {"resnet_paper": [0.60, 0.70, 0.80, 0.55, 0.65, 0.75],
             "convnet_paper": [0.70, 0.80, 0.90, 0.65, 0.75, 0.85],
             "drsn_cw_paper": [0.75, 0.85, 0.95, 0.70, 0.80, 0.90],  # +5 points on ConvNet in every cell
             "drsn_cs_paper": [0.70, 0.80, 0.90, 0.65, 0.75, 0.85]}  # fmt: skip
    rows = _rows_from(cells, seeds=(0, 1, 2, 3), spread=0.004)
    text = format_markdown_report(rows)
    section = text[text.index("## Shrinkage against the best model without it"):].split("## Training time")[0]
    assert "without a shrinkage gate over the whole grid is ConvNet (77.50 %)" in section
    diffs = {m: np.array([r["test_acc"] for r in rows if r["model"] == m]) for m in cells}
    for model in ("drsn_cw_paper", "drsn_cs_paper"):
        per_seed = [np.mean([r["test_acc"] for r in rows if r["model"] == model and r["seed"] == s])
                    - np.mean([r["test_acc"] for r in rows if r["model"] == "convnet_paper" and r["seed"] == s])
                    for s in range(4)]  # fmt: skip
        assert f"{100 * np.mean(per_seed):+.2f}" in section, model
    assert np.allclose(diffs["drsn_cw_paper"].mean() - diffs["convnet_paper"].mean(), 0.05)
    assert "Distinguishably ahead of ConvNet: DRSN-CW" in section
    assert "Holm over these 2 comparisons" in section


def test_repetition_differences_and_the_paired_figure_linked_with_every_figure(tmp_path):
    rows = _rows_from(ARENA, seeds=(0, 1, 2), spread=0.01)
    by_seed = repetition_differences(rows, "resnet_paper", "drsn_cw_paper")
    base = float(np.mean(ARENA["drsn_cw_paper"]) - np.mean(ARENA["resnet_paper"]))
    # seed k: DRSN-CW gets +0.01 (k - 1), ResNet -0.01 (k - 1), in every cell
    assert list(by_seed) == [(0, -1), (1, -1), (2, -1)]
    assert list(by_seed.values()) == pytest.approx([base - 0.02, base, base + 0.02])
    all_row = next(r for r in paired_differences(rows, "resnet_paper", ["drsn_cw_paper"]) if r["noise"] == "all")
    assert all_row["diff"][0] == pytest.approx(np.mean(list(by_seed.values())))

    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "thresholds.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a figure written beside the study's
    text = write_study_report(tmp_path, rows=rows).read_text()
    assert "![study_paired_differences](figures/study_paired_differences.png)" in text
    assert "![thresholds](figures/thresholds.png)" in text  # every figure of the folder is linked
    assert (tmp_path / "figures" / "study_paired_differences.png").stat().st_size > 1000
    assert plot_paired_differences(rows[:1], tmp_path / "none.png", baseline="resnet_paper", models=["resnet_paper"]) is None
