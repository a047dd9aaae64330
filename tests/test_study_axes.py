"""Study axes (noise protocol, normalisation, split) end to end: run ids, the clean protocol's
test signals, the leaky label, the paired numbers in report.md against an independent reference."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from deepshrink.cli import main
from deepshrink.errors import ConfigError
from deepshrink.study.stats import axis_differences, setting_of
from deepshrink.study.results import RESULT_COLUMNS, append_result, read_results
from deepshrink.study.spec import expand_runs, load_study, run_config, study_from_dict
from deepshrink.study.runner import run_study

TINY_DATA = {"recordings_per_condition": 2, "windows_per_recording": 4, "window": 256, "speeds_hz": [30],
             "loads": [0.5], "workers": 1}  # fmt: skip


def axes_study(**changes):
    values = {
        "name": "axes",
        "data": "simulator",
        "data_args": dict(TINY_DATA),
        "models": ["resnet_paper6", "drsn_cw_paper6"],
        "noises": ["gaussian"],
        "snrs": [-5],
        "seeds": [0, 1],
        "train": {"epochs": 2, "batch_size": 8, "test_fraction": 0.5},
    }
    values.update(changes)
    return values


def test_axes_expand_into_tagged_runs_and_clean_runs_first():
    spec = study_from_dict(axes_study(seeds=[0], models=["resnet_paper6"], snrs=[-5, 0],
                                      noise_protocol=["fixed", "clean"], normalize=["none", "per_sample"]))  # fmt: skip
    ids = [r.run_id for r in expand_runs(spec)]
    assert ids == [
        "resnet_paper6-gaussian-m5dB-seed0", "resnet_paper6-gaussian-0dB-seed0",
        "resnet_paper6-gaussian-m5dB-std-seed0", "resnet_paper6-gaussian-0dB-std-seed0",
        "resnet_paper6-none-clean-trainclean-seed0",
        "resnet_paper6-gaussian-m5dB-trainclean-seed0", "resnet_paper6-gaussian-0dB-trainclean-seed0",
        "resnet_paper6-none-clean-std-trainclean-seed0",
        "resnet_paper6-gaussian-m5dB-std-trainclean-seed0", "resnet_paper6-gaussian-0dB-std-trainclean-seed0",
    ]  # fmt: skip
    runs = {r.run_id: r for r in expand_runs(spec)}
    cell = runs["resnet_paper6-gaussian-m5dB-std-trainclean-seed0"]
    assert not cell.trains and cell.clean_run.run_id == "resnet_paper6-none-clean-std-trainclean-seed0"
    cfg = run_config(spec, cell)  # the config that trained the cell's model: no noise
    assert (cfg.noise, cfg.snr, cfg.normalize, cfg.noise_protocol) == ("none", None, "per_sample", "fixed")
    leaky = study_from_dict(axes_study(split="window"))
    assert all(r.leaky and r.run_id.endswith(f"-window-seed{r.seed}") for r in expand_runs(leaky))
    assert run_config(leaky, expand_runs(leaky)[0]).split == "window"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"split": ["recording", "windows"]}, "key 'split': unknown value 'windows' (one of recording, condition, predefined, window)"),
        ({"noise_protocol": "dirty"}, "key 'noise_protocol': unknown value 'dirty' (one of fixed, fresh, clean)"),
        ({"normalize": ["none", "none"]}, "key 'normalize' lists a value twice"),
        ({"folds": 2, "split": "window"}, "'folds' splits by recording; key 'split' must be 'recording'"),
        ({"train": {"split": "window"}}, "key 'train.split' is set by the study (use the study key 'split')"),
        ({"train": {"normalize": "per_sample"}}, "key 'train.normalize' is set by the study (use the study key 'normalize')"),
    ],
)
def test_bad_axes_are_refused_with_the_key(change, message):
    with pytest.raises(ConfigError, match=r"^s\.yaml: ") as err:
        study_from_dict(axes_study(**change), source="s.yaml")
    assert message in str(err.value)


@pytest.fixture(scope="module")
def axes_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("axes")
    spec = study_from_dict(axes_study(noise_protocol=["fixed", "clean"], split=["recording", "window"]))
    progress = run_study(spec, out, device="cpu", num_threads=1, log=None)
    assert progress.remaining == 0 and progress.report is not None
    return out, spec


def test_clean_protocol_tests_the_clean_model_on_the_fixed_runs_test_signals(axes_folder):
    from deepshrink import load
    from deepshrink.train.prepare import prepare_data

    out, spec = axes_folder
    rows = {r["run_id"]: r for r in read_results(out / "results.csv")}
    runs = {r.run_id: r for r in expand_runs(spec)}
    for seed in (0, 1):
        cell = rows[f"drsn_cw_paper6-gaussian-m5dB-trainclean-seed{seed}"]
        clean = rows[f"drsn_cw_paper6-none-clean-trainclean-seed{seed}"]
        assert cell["noise_protocol"] == "clean" and cell["seconds"] == 0.0 and cell["train_acc"] == clean["train_acc"]
        # reference: the clean model on the test set the fixed-protocol run of this seed was tested on
        fixed_cfg = run_config(spec, runs[f"drsn_cw_paper6-gaussian-m5dB-seed{seed}"], device="cpu")
        fixed_cfg = fixed_cfg.replace(data=str(next((out / "data").glob("data-*.npz"))), data_args={})
        test = prepare_data(fixed_cfg).test
        model = load(out / "runs" / clean["run_id"]).eval()
        with torch.no_grad():
            acc = float((model(test.x).argmax(1) == test.y).float().mean())
        assert cell["test_acc"] == pytest.approx(acc, abs=1e-6)
        assert cell["n_test"] == len(test)
        assert (out / "runs" / clean["run_id"] / "test_gaussian_m5dB_metrics.json").is_file()


def test_window_split_is_labelled_leaky_and_its_paired_effect_is_reported(axes_folder):
    from scipy import stats

    out, _ = axes_folder
    rows = read_results(out / "results.csv")
    assert {setting_of(r) for r in rows} == {(p, "none", s) for p in ("fixed", "clean") for s in ("recording", "window")}
    text = (out / "report.md").read_text()
    assert "## Setting: noise added once (the paper's); raw input; **LEAKY** split by window" in text
    assert "## What the leak adds: window (leaky) − recording split (paired)" in text
    # the leak effect of one model and cell against a hand-made pairing, with scipy's t interval
    acc = {(r["model"], r["split"], r["seed"]): r["test_acc"] for r in rows
           if r["noise"] == "gaussian" and r["noise_protocol"] == "fixed"}  # fmt: skip
    d = [acc[("resnet_paper6", "window", s)] - acc[("resnet_paper6", "recording", s)] for s in (0, 1)]
    (got,) = [x for x in axis_differences(rows, 2, "recording", "window")
              if x["model"] == "resnet_paper6" and x["noise"] == "gaussian" and x["rest"] == ("fixed", "none")]  # fmt: skip
    assert got["diff"][0] == pytest.approx(np.mean(d))
    low, high = stats.t.interval(0.95, df=1, loc=np.mean(d), scale=stats.sem(d)) if d[0] != d[1] else (np.mean(d),) * 2
    assert got["ci95"] == pytest.approx((low, high), abs=1e-9)
    assert f"| ResNet (paper6) | gaussian -5 dB | fixed / none | {100 * np.mean(d):+.2f} ± " in text
    # the model comparison of each setting carries its interval and a verdict
    assert text.count("### Difference to ResNet (paper6) (paired)") == 4
    assert "95 % CI [" in text and ("is ahead of" in text or "is behind" in text or "not distinguishable" in text)
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "axes_window_accuracy_vs_snr.png" in figures and "axes_clean_window_accuracy_vs_snr.png" in figures


def test_per_sample_axis_trains_standardised_models(tmp_path):
    import json

    spec = study_from_dict(axes_study(models=["resnet_paper6"], seeds=[0], normalize=["none", "per_sample"]))
    run_study(spec, tmp_path, device="cpu", num_threads=1, log=None)
    rows = {r["run_id"]: r for r in read_results(tmp_path / "results.csv")}
    assert rows["resnet_paper6-gaussian-m5dB-std-seed0"]["normalize"] == "per_sample"
    saved = json.loads((tmp_path / "runs" / "resnet_paper6-gaussian-m5dB-std-seed0" / "config.json").read_text())
    assert saved["input"]["normalize"] == "per_sample"  # predict standardises too
    assert "Per-window standardisation − raw input (paired)" in (tmp_path / "report.md").read_text()


def test_an_older_results_file_gets_the_new_columns(tmp_path):
    path = tmp_path / "results.csv"
    old = [c for c in RESULT_COLUMNS if c not in ("normalize", "split")]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(old)
        w.writerow(["m-gaussian-0dB-seed0" if c == "run_id" else "fixed" if c == "noise_protocol" else "0.5"
                    if c == "test_acc" else "" for c in old])  # fmt: skip
    append_result(path, {"run_id": "m-gaussian-0dB-std-seed0", "normalize": "per_sample", "split": "window", "test_acc": 0.7})
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert set(RESULT_COLUMNS) <= set(header)
    rows = {r["run_id"]: r for r in read_results(path)}
    assert (rows["m-gaussian-0dB-seed0"]["normalize"], rows["m-gaussian-0dB-seed0"]["split"]) == ("none", "recording")
    assert rows["m-gaussian-0dB-seed0"]["test_acc"] == 0.5
    assert (rows["m-gaussian-0dB-std-seed0"]["normalize"], rows["m-gaussian-0dB-std-seed0"]["split"]) == ("per_sample", "window")
    assert not math.isnan(rows["m-gaussian-0dB-std-seed0"]["test_acc"])


def test_a_folder_of_several_grids_resumes_only_what_was_asked(tmp_path, capsys):
    # two one-axis studies in one folder (as docs/results.md does): the folder's study is their
    # union, not the cross of every key (which would add window-split x standardised runs)
    out = tmp_path / "s"
    base = {"models": ["resnet_paper6"], "seeds": [0], "train": {"epochs": 1, "batch_size": 8, "test_fraction": 0.5}}
    run_study(study_from_dict(axes_study(**base, normalize=["none", "per_sample"])), out, device="cpu", save_runs=False, log=None)
    run_study(study_from_dict(axes_study(**base, split=["recording", "window"], snrs=[-5, 0])), out, device="cpu",
              save_runs=False, log=None)  # fmt: skip
    asked = {"resnet_paper6-gaussian-m5dB-seed0", "resnet_paper6-gaussian-m5dB-std-seed0",
             "resnet_paper6-gaussian-0dB-seed0", "resnet_paper6-gaussian-m5dB-window-seed0",
             "resnet_paper6-gaussian-0dB-window-seed0"}  # fmt: skip
    assert {r["run_id"] for r in read_results(out / "results.csv")} == asked
    saved = load_study(out / "study.yaml")
    assert {r.run_id for r in expand_runs(saved)} == asked
    assert len(saved.grids) == 1 and saved.values("split") == ["recording", "window"]
    text = (out / "study.yaml").read_text()
    assert "grids:" in text and "models" not in text.split("grids:")[1]  # a grid writes only what differs
    assert main(["study", str(out), "--dry-run"]) == 0  # resuming the folder: nothing left to run
    assert "5 runs" in capsys.readouterr().out
    # the same grid again adds nothing; a grid of runs already there neither
    run_study(study_from_dict(axes_study(**base, normalize="per_sample")), out, device="cpu", save_runs=False, log=None)
    assert load_study(out / "study.yaml").grids == saved.grids
    assert "Setting: noise added once (the paper's); per-window standardised input" in (out / "report.md").read_text()


def test_bad_grids_are_refused_with_the_entry():
    with pytest.raises(ConfigError, match=r"^s\.yaml: key 'grids', entry 1: must be a mapping of grid keys"):
        study_from_dict(axes_study(grids=[{"epochs": 3}]), source="s.yaml")
    with pytest.raises(ConfigError, match=r"^s\.yaml: key 'grids', entry 2: key 'models': unknown model 'resnet9'"):
        study_from_dict(axes_study(grids=[{"seeds": [3]}, {"models": ["resnet9"]}]), source="s.yaml")
