"""The arena: the field's baselines, the variants and MiniRocket in one study, ranked in its report."""

import sys

import numpy as np
import pytest
import yaml

from deepshrink.cli import main
from deepshrink.errors import ConfigError
from deepshrink.study.presets import ARENA_MODELS, ARENA_UCR_MODELS
from deepshrink.study.spec import expand_runs, load_study, run_config, study_from_dict
from deepshrink.study.results import read_results
from deepshrink.study.plan import plan_cohorts
from deepshrink.study.runner import run_study
from deepshrink.train.prepare import prepare_data

TINY = {"recordings_per_condition": 2, "windows_per_recording": 2, "window": 256, "speeds_hz": [30],
        "loads": [0.5], "workers": 1}  # fmt: skip


def tiny_arena(models, **changes):
    values = {
        "name": "tiny-arena", "data": "simulator", "data_args": dict(TINY), "models": models,
        "noises": ["gaussian"], "snrs": [-5, 5], "seeds": [0, 1],
        "train": {"epochs": 1, "batch_size": 8, "test_fraction": 0.5},
    }  # fmt: skip
    values.update(changes)
    return study_from_dict(values)


def test_arena_presets_list_every_model_family(capsys):
    assert main(["study", "arena", "--print-study"]) == 0
    text = capsys.readouterr().out
    listed = yaml.safe_load(text)["models"]
    assert listed == ARENA_MODELS
    spec = load_study("arena")
    assert {r.protocol for r in expand_runs(spec)} == {"fixed", "clean"}
    assert {r.normalize for r in expand_runs(spec)} == {"none", "per_sample"}
    assert {"drsn_cw_garrote_paper6", "aprelu_resnet_paper6", "drsn_cw_mad_paper6", "wdcnn", "minirocket"} <= set(spec.models)
    assert set(load_study("arena_ucr").models) == set(ARENA_UCR_MODELS)


@pytest.mark.parametrize("stack", [1, 8])
def test_a_rocket_fit_is_planned_with_its_clean_cells_and_tests_them_itself(stack):
    spec = tiny_arena(["resnet_paper6", "minirocket"], noise_protocol="clean")
    cohorts = plan_cohorts(spec, expand_runs(spec), stack=stack)
    rocket = [c for c in cohorts if c[0].model == "minirocket"]
    # a minirocket clean run and its noisy cells are one cohort (one worker fits once and tests
    # them all); the network's noisy cells are not planned (they test the clean run's saved model)
    assert len(rocket) == 2 and all(len(c) == 1 + 2 for c in rocket)
    assert all(c[0].trains and all(r.clean_run.run_id == c[0].run_id for r in c[1:]) for c in rocket)
    assert sum(len(c) for c in cohorts if c[0].model == "resnet_paper6") == 2


def test_minirocket_without_aeon_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "aeon", None)  # import aeon now raises ImportError
    monkeypatch.setitem(sys.modules, "aeon.classification.convolution_based", None)
    out = tmp_path / "study"
    with pytest.raises(ConfigError, match=r"needs the optional package aeon: pip install \"deepshrink\[rocket\]\""):
        run_study(tiny_arena(["minirocket"]), out, log=None)
    assert not out.exists()  # nothing written before the check
    code = main(["study", "demo", "--models", "resnet_paper6,minirocket", "-o", str(out), "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "aeon" in err[0]


def test_tiny_arena_runs_end_to_end_and_its_report_ranks_the_models(tmp_path):
    pytest.importorskip("aeon")
    spec = tiny_arena(["resnet_paper6", "drsn_cw_garrote_paper6", "minirocket"])
    out = tmp_path / "arena"
    progress = run_study(spec, out, num_threads=1, stack=4, log=None)
    assert progress.remaining == 0 and progress.report is not None
    rows = read_results(out / "results.csv")
    assert {r["model"] for r in rows} == {"resnet_paper6", "drsn_cw_garrote_paper6", "minirocket"}
    assert len(rows) == 3 * 2 * 2
    rocket = [r for r in rows if r["model"] == "minirocket"]
    assert all(r["epochs"] == 0 and r["predict_seconds"] >= 0 and 0 <= r["test_acc"] <= 1 for r in rocket)
    # MiniRocket saw exactly the test windows a network's run of the cell saw
    net = next(r for r in rows if r["model"] == "resnet_paper6" and r["seed"] == 1 and r["snr_db"] == 5)
    twin = next(r for r in rocket if r["seed"] == 1 and r["snr_db"] == 5)
    assert twin["n_test"] == net["n_test"] and twin["n_train"] == net["n_train"]
    report = (out / "report.md").read_text()
    assert "Ranks" in report and "MiniRocket" in report and "critical_difference.png" in report
    # the garrote DRSN against the better of ResNet and MiniRocket, whichever that is here
    section = report[report.index("## Shrinkage against the best model without it"):]
    assert "| DRSN-CW garrote (paper6) |" in section.split("## Training time")[0]
    assert "nan" not in report
    figures = list((out / "figures").glob("*critical_difference.png"))
    assert figures and figures[0].stat().st_size > 1000


def test_rocket_features_see_the_networks_noisy_data(monkeypatch):
    """The arrays given to MiniRocket are the network run's own noisy, standardised windows."""
    pytest.importorskip("aeon")
    from deepshrink.study import rocket

    spec = tiny_arena(["resnet_paper6", "minirocket"], normalize="per_sample", seeds=[3], snrs=[0])
    run = next(r for r in expand_runs(spec) if r.model == "minirocket")
    seen = {}

    class Spy:
        def __init__(self, **kwargs):
            seen["kwargs"] = kwargs

        def fit(self, x, y):
            seen["fit"] = (x, y)
            return self

        def predict(self, x):
            seen.setdefault("predict", []).append(x)
            return np.zeros(len(x), dtype=np.int64)

    monkeypatch.setattr(rocket, "require_aeon", lambda: Spy)
    row = rocket.run_rocket(spec, run)
    net_run = next(r for r in expand_runs(spec) if r.model == "resnet_paper6")
    data = prepare_data(run_config(spec, net_run))
    x_test = data.test.x.numpy()
    mean, std = x_test.mean(-1, keepdims=True), x_test.std(-1, keepdims=True)
    np.testing.assert_allclose(seen["predict"][-1], (x_test - mean) / std, rtol=1e-4, atol=1e-5)
    assert seen["fit"][0].shape == tuple(data.train.x.shape) and seen["kwargs"]["n_jobs"] == 1
    assert row["test_acc"] == pytest.approx(float(np.mean(data.test.y.numpy() == 0)))


def test_command_line_grid_keys_reach_every_grid_of_a_preset():
    """`--seeds 0,1` on a preset with grids (arena: noisy training, then trained clean) runs seeds 0 and 1 in both."""
    from deepshrink.study.commands import with_overrides

    spec = with_overrides(load_study("arena"), seeds=[0, 1], models=["resnet_paper6", "minirocket"])
    runs = expand_runs(spec)
    assert {r.seed for r in runs} == {0, 1} and {r.model for r in runs} == {"resnet_paper6", "minirocket"}
    assert {r.protocol for r in runs} == {"fixed", "clean"}
    assert {r.snr_db for r in runs if r.protocol == "clean"} == {None, -10, -5, 0, 5, 10}
    # per model and seed: 2 inputs x (3 noisy-trained cells + 1 clean run + 3 kinds x 5 SNRs tested)
    assert len(runs) == 2 * 2 * 2 * (3 + 1 + 15)


def _write_results(folder, data, accs):
    """A study folder's results.csv: per model, one accuracy per (seed, SNR) cell."""
    from deepshrink.study.results import append_result

    folder.mkdir(parents=True)
    for model, by_seed in accs.items():
        for seed, values in enumerate(by_seed):
            for snr, acc in zip((-5.0, 0.0), values):
                append_result(folder / "results.csv", {
                    "run_id": f"{model}-gaussian-{snr:g}-seed{seed}", "model": model, "noise": "gaussian",
                    "snr_db": snr, "seed": seed, "train_acc": 1.0, "test_acc": acc, "data": data,
                    "status": "finished", "epochs": 1, "seconds": 1.0, "n_test": 10})  # fmt: skip


def test_panel_ranks_models_over_the_cells_of_several_datasets(tmp_path, capsys):
    # dataset A: DRSN-CW best, ResNet second; dataset B: MiniRocket best; each cell once per seed
    a = {"drsn_cw_paper": [[0.9, 0.8], [0.92, 0.82]], "resnet_paper": [[0.8, 0.7], [0.8, 0.72]],
         "minirocket": [[0.7, 0.6], [0.7, 0.6]]}  # fmt: skip
    b = {"drsn_cw_paper": [[0.5, 0.4], [0.5, 0.4]], "resnet_paper": [[0.6, 0.5], [0.6, 0.5]],
         "minirocket": [[0.9, 0.8], [0.9, 0.8]]}  # fmt: skip
    _write_results(tmp_path / "a", "ucr:A", a)
    _write_results(tmp_path / "b", "ucr:B", b)
    assert main(["study", "--panel", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "p")]) == 0
    text = (tmp_path / "p" / "panel.md").read_text()
    # 4 cells (2 datasets x 2 SNRs); ranks: DRSN-CW 1,1,3,3 -> 2.0; ResNet 2,2,2,2 -> 2.0; MiniRocket 3,3,1,1 -> 2.0
    assert "in each of the 4 cells" in text
    for label in ("DRSN-CW", "ResNet", "MiniRocket"):
        assert f"| {label} | 2.00 |" in text
    assert "| DRSN-CW | 86.00 | 45.00 |" in text  # mean accuracy per dataset (%): (90+80+92+82)/4, (50+40)/2
    assert list((tmp_path / "p" / "figures").glob("panel_*critical_difference.png"))
    assert main(["study", "--panel", str(tmp_path / "a"), str(tmp_path / "a"), "-o", str(tmp_path / "q")]) == 2
    assert "one folder per dataset" in capsys.readouterr().err


def test_clean_cells_are_tested_as_soon_as_their_clean_run_is_trained(tmp_path):
    """A study stopped after one cohort keeps that cohort's noisy cells; resuming adds the rest once."""
    spec = tiny_arena(["resnet_paper6", "drsn_cw_paper6"], noise_protocol="clean", seeds=[0])
    out = tmp_path / "clean"
    run_study(spec, out, num_threads=1, stack=1, max_runs=3, log=None)
    first = {r["run_id"] for r in read_results(out / "results.csv")}
    assert first == {f"resnet_paper6-{lvl}-trainclean-seed0" for lvl in ("none-clean", "gaussian-m5dB", "gaussian-5dB")}
    run_study(spec, out, num_threads=1, stack=1, log=None)
    lines = (out / "results.csv").read_text().strip().splitlines()[1:]
    assert len(lines) == len({line.split(",")[0] for line in lines}) == 2 * 3  # every run and cell once


def test_minirocket_clean_cells_reuse_their_clean_runs_fit(monkeypatch):
    """One fit per clean run, tested at every noise level: the rows equal those of a refit per cell."""
    pytest.importorskip("aeon")
    from deepshrink.study import rocket

    spec = tiny_arena(["minirocket"], noise_protocol="clean", seeds=[0], snrs=[-5, 5])
    cells = [r for r in expand_runs(spec) if r.model == "minirocket"]
    assert len(cells) == 3  # the clean run and two noisy cells
    fits = []
    original = rocket.require_aeon()

    class Counting(original):
        def fit(self, x, y):
            fits.append(len(x))
            return super().fit(x, y)

    monkeypatch.setattr(rocket, "require_aeon", lambda: Counting)
    monkeypatch.setattr(rocket, "_FITTED", {})
    reused = [rocket.run_rocket(spec, r) for r in cells]
    assert len(fits) == 2  # the clean run's own, and one shared by its two cells
    refit = []
    for r in cells:  # as before: every cell fits its own
        rocket._FITTED.clear()
        refit.append(rocket.run_rocket(spec, r))
    assert len(fits) == 2 + 3
    keys = ("run_id", "test_acc", "train_acc", "test_macro_f1")
    assert [{k: r[k] for k in keys} for r in reused] == [{k: r[k] for k in keys} for r in refit]


@pytest.mark.parametrize("preset", ["recommend_ucr", "recommend_field"])
def test_recommend_presets_pair_every_shrinkage_network_with_its_plain_version(preset):
    from deepshrink.models import plain_counterpart, uses_shrinkage

    models = load_study(preset).models
    gated = [m for m in models if uses_shrinkage(m)]
    assert gated and all(plain_counterpart(m) in models for m in gated)
    assert "minirocket" in models  # the field's fast default stays in every comparison


def test_report_of_a_folder_goes_by_the_folder_study_not_the_command_default(tmp_path, capsys):
    out = tmp_path / "s"
    run_study(tiny_arena(["resnet_paper6"]), out, num_threads=1, stack=1, max_runs=2, report=False, log=None)
    # `deepshrink study --report -o DIR` names no study: the default preset must not be counted
    assert main(["study", "--report", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(2 run(s) of the study not finished yet)" in printed and "ResNet (paper6)" in printed
    assert "DRSN" not in printed  # quick's other models are not this folder's
