"""The benchmark study: spec, run list, sharding, results.csv, report, figures, CLI end to end."""

from __future__ import annotations

import csv
import math

import pytest

from deepshrink.cli import main
from deepshrink.errors import ConfigError
from deepshrink.study.presets import PRESETS
from deepshrink.study.report import format_console_table, format_markdown_report
from deepshrink.study.stats import overall_table, paired_differences
from deepshrink.study.results import RESULT_COLUMNS, read_results
from deepshrink.study.spec import (
    expand_runs,
    load_study,
    parse_shard,
    RunSpec,
    shard_runs,
    study_from_dict,
    study_to_yaml,
)

TINY_DATA = {"recordings_per_condition": 2, "windows_per_recording": 2, "window": 256, "speeds_hz": [30],
             "loads": [0.5], "workers": 1}  # fmt: skip


def tiny_study(**changes):
    values = {
        "name": "tiny",
        "data": "simulator",
        "data_args": dict(TINY_DATA),
        "models": ["resnet_paper6", "drsn_cw_paper6"],
        "noises": ["gaussian"],
        "snrs": [-5],
        "seeds": [0],
        "train": {"epochs": 1, "batch_size": 8, "test_fraction": 0.5},
    }
    values.update(changes)
    return values


# ---------------------------------------------------------------------- spec and runs
def test_presets_load_and_round_trip(tmp_path):
    for name in PRESETS:
        spec = load_study(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(study_to_yaml(spec))
        again = load_study(path)
        assert again.to_dict() == spec.to_dict()
        assert again.setup_hash() == spec.setup_hash()
    paper = load_study("paper")
    assert len(expand_runs(paper)) == 5 * 3 * 11 * 10
    assert paper.train["epochs"] == 100 and paper.noise_protocol == ["fixed"]
    quick = load_study("quick")
    assert len(expand_runs(quick)) == 3 * 3 * 2 * 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"models": ["drsn_cw_papr"]}, "did you mean drsn_cw_paper"),
        ({"noises": ["white"]}, "unknown noise kind 'white'"),
        ({"snrs": ["loud"]}, "'snrs'"),
        ({"seeds": [-1]}, "'seeds'"),
        ({"folds": 1}, "'folds'"),
        ({"trian": {}}, "did you mean 'train'"),
        ({"train": {"model": "resnet_paper"}}, "train.model"),
        ({"train": {"epochs": 0}}, "epochs"),
        ({"train": {"epoch": 3}}, "epoch"),
        ({"run_folds": [0]}, "run_folds"),
    ],
)
def test_bad_study_is_refused_with_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        study_from_dict(tiny_study(**change), source="s.yaml")


def test_run_ids_order_and_shards():
    spec = study_from_dict(tiny_study(noises=["gaussian", "pink", "none"], snrs=[-5, 0, 2.5], seeds=[0, 1]))
    runs = expand_runs(spec)
    # 2 seeds x (2 noises x 3 SNRs + 1 clean) x 2 models
    assert len(runs) == 2 * (2 * 3 + 1) * 2
    ids = [r.run_id for r in runs]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "resnet_paper6-gaussian-m5dB-seed0" and ids[1] == "drsn_cw_paper6-gaussian-m5dB-seed0"
    assert "resnet_paper6-pink-2p5dB-seed1" in ids and "drsn_cw_paper6-none-clean-seed0" in ids
    assert RunSpec("m", "gaussian", -5.0, 0, 3).run_id == "m-gaussian-m5dB-seed0-fold3"
    shards = [shard_runs(runs, (i, 3)) for i in range(3)]
    assert sorted(r.run_id for s in shards for r in s) == sorted(ids)
    assert shards[1] == runs[1::3]


def test_parse_shard(monkeypatch):
    assert parse_shard("2/4") == (2, 4)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert parse_shard(None) == (0, 1)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert parse_shard(None) == (3, 8)
    for bad in ("4/4", "1", "a/b", "-1/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)


def test_folds_expand_and_fix_the_split():
    spec = study_from_dict(tiny_study(folds=4, run_folds=[0, 2], seeds=[0]))
    runs = expand_runs(spec)
    assert [r.fold for r in runs] == [0, 0, 2, 2]
    with pytest.raises(ConfigError, match="split"):
        study_from_dict(tiny_study(folds=4, train={"epochs": 1, "split": "condition"}))


# ---------------------------------------------------------------------- report from synthetic rows
def _rows():
    rows = []
    acc = {"resnet_paper": {-5: [0.60, 0.62, 0.58], 0: [0.80, 0.82, 0.84]},
           "drsn_cw_paper": {-5: [0.66, 0.64, 0.65], 0: [0.81, 0.85, 0.83]}}  # fmt: skip
    for model, by_snr in acc.items():
        for snr, values in by_snr.items():
            for seed, a in enumerate(values):
                rows.append({"run_id": f"{model}-gaussian-{snr}-seed{seed}", "model": model, "noise": "gaussian",
                             "snr_db": float(snr), "seed": seed, "fold": None, "train_acc": a + 0.1, "test_acc": a,
                             "test_macro_f1": a - 0.01, "seconds": 10.0 if model.startswith("resnet") else 15.0,
                             "epochs": 10, "parameters": 8416 if model.startswith("resnet") else 11552,
                             "n_train": 100, "n_test": 50, "device": "cpu"})  # fmt: skip
    return rows


def test_overall_and_paired_numbers():
    rows = _rows()
    table = {t["model"]: t for t in overall_table(rows, ["resnet_paper", "drsn_cw_paper"])}
    # per seed: mean over the 2 SNRs; then mean and sample std over seeds
    per_seed = [(0.60 + 0.80) / 2, (0.62 + 0.82) / 2, (0.58 + 0.84) / 2]
    mean = sum(per_seed) / 3
    std = math.sqrt(sum((v - mean) ** 2 for v in per_seed) / 2)
    assert table["resnet_paper"]["test"] == pytest.approx((mean, std))
    assert table["resnet_paper"]["reps"] == 3 and table["resnet_paper"]["cells"] == 2
    diffs = paired_differences(rows, "resnet_paper", ["resnet_paper", "drsn_cw_paper"])
    at_m5 = next(d for d in diffs if d["snr_db"] == -5.0)
    assert at_m5["diff"][0] == pytest.approx((0.06 + 0.02 + 0.07) / 3)
    assert at_m5["wins"] == 3 and at_m5["n"] == 3
    at_0 = next(d for d in diffs if d["snr_db"] == 0.0)
    assert at_0["wins"] == 2


def test_paired_difference_confidence_interval_and_diverged_runs():
    from scipy import stats

    rows = _rows()
    (overall,) = [d for d in paired_differences(rows, "resnet_paper", ["resnet_paper", "drsn_cw_paper"]) if d["noise"] == "all"]
    # per seed: DRSN-CW minus ResNet averaged over the two SNRs; the CI of their mean (scipy as the reference)
    per_seed = [((0.66 - 0.60) + (0.81 - 0.80)) / 2, ((0.64 - 0.62) + (0.85 - 0.82)) / 2, ((0.65 - 0.58) + (0.83 - 0.84)) / 2]
    low, high = stats.t.interval(0.95, df=2, loc=sum(per_seed) / 3, scale=stats.sem(per_seed))
    assert overall["ci95"] == pytest.approx((low, high), abs=1e-4)
    assert overall["reps"] == 3 and overall["reps_ahead"] == 3
    text = format_console_table(rows)
    assert (f"all cells: paired, DRSN-CW is ahead of ResNet: {100 * sum(per_seed) / 3:+.2f} points "
            f"(95 % CI [{100 * low:+.2f}, {100 * high:+.2f}], 3 repetitions), ahead in 3/3") in text
    # per cell too, with the verdict: at 0 dB the differences are +1, +3, -1 points
    cell = [0.81 - 0.80, 0.85 - 0.82, 0.83 - 0.84]
    low0, high0 = stats.t.interval(0.95, df=2, loc=sum(cell) / 3, scale=stats.sem(cell))
    assert (f"gaussian 0 dB: paired, DRSN-CW and ResNet are not distinguishable at 3 repetitions: "
            f"{100 * sum(cell) / 3:+.2f} points (95 % CI [{100 * low0:+.2f}, {100 * high0:+.2f}]") in text
    # a diverged run has no test numbers: left out of the tables, and said so
    bad = dict(rows[0], run_id="resnet_paper-gaussian-5-seed0", snr_db=5.0, test_acc=None, status="diverged")
    text = format_console_table(rows + [bad])
    assert "1 run(s) diverged" in text and "gaussian 5 dB" not in text
    assert "1 run(s) diverged (NaN/Inf) and are left out" in format_markdown_report(rows + [bad], None)


def test_partial_grids_are_not_averaged_with_full_ones():
    rows = _rows()
    # seed 3 at -5 dB only, and a ConvNet at 0 dB only (and better than both there)
    extra = [dict(rows[0], run_id=f"{m}-seed3", model=m, seed=3, test_acc=a) for m, a in
             (("resnet_paper", 0.10), ("drsn_cw_paper", 0.90))]  # fmt: skip
    extra += [dict(rows[3], run_id=f"convnet_paper-seed{k}", model="convnet_paper", seed=k, test_acc=0.95) for k in range(3)]
    rows += extra
    models = ["resnet_paper", "drsn_cw_paper", "convnet_paper"]
    table = {t["model"]: t for t in overall_table(rows, models)}
    per_seed = [(0.60 + 0.80) / 2, (0.62 + 0.82) / 2, (0.58 + 0.84) / 2]  # seed 3 left out: it has one cell of two
    assert table["resnet_paper"]["test"][0] == pytest.approx(sum(per_seed) / 3) and table["resnet_paper"]["reps"] == 3
    assert table["resnet_paper"]["full_grid"] and not table["convnet_paper"]["full_grid"]
    (overall,) = [d for d in paired_differences(rows, "resnet_paper", models) if d["model"] == "drsn_cw_paper" and d["noise"] == "all"]
    assert overall["reps"] == 3 and overall["cells"] == 2 and overall["n"] == 6  # seed 3's +80 points left out
    diffs = [((0.66 - 0.60) + (0.81 - 0.80)) / 2, ((0.64 - 0.62) + (0.85 - 0.82)) / 2, ((0.65 - 0.58) + (0.83 - 0.84)) / 2]
    assert overall["diff"][0] == pytest.approx(sum(diffs) / 3)
    (at_m5,) = [d for d in paired_differences(rows, "resnet_paper", models) if d["model"] == "drsn_cw_paper" and d["snr_db"] == -5.0]
    assert at_m5["n"] == 4  # the cell itself keeps seed 3
    lines = format_markdown_report(rows, None).splitlines()
    conv = next(line for line in lines if line.startswith("| ConvNet |"))
    assert "**" not in conv and "| 1 of 2 |" in conv  # the best mean, but over one easy cell: not bold
    assert "**" in next(line for line in lines if line.startswith("| DRSN-CW |"))
    assert any(line.startswith("ConvNet: measured on fewer cells than the grid's 2") for line in lines)
    assert "(* over that model's cells only" in format_console_table(rows)


def test_markdown_report_tables():
    text = format_markdown_report(_rows(), None)
    lines = text.splitlines()
    assert "## Overall (Table III style)" in lines
    row = next(line for line in lines if line.startswith("| DRSN-CW |"))
    assert "**" in row  # DRSN-CW has the best overall mean here
    assert "| -5 dB | 60.00 ± 2.00 | **65.00 ± 1.00** |" in lines
    assert any(line.startswith("| gaussian -5 dB | +5.00 ± ") and "(3/3 ahead)" in line for line in lines)
    time_row = next(line for line in lines if line.startswith("| DRSN-CW | 11,552 |"))
    assert time_row.endswith("| 1.50 |")


# ---------------------------------------------------------------------- end to end
def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_benchmark_end_to_end_resume_and_shards(tmp_path, capsys):
    import yaml

    study = tmp_path / "tiny.yaml"
    study.write_text(yaml.safe_dump(tiny_study()))
    out = tmp_path / "out"
    assert main(["study", str(study), "--output", str(out), "--threads", "1"]) == 0
    rows = _read_csv(out / "results.csv")
    assert len(rows) == 2
    assert tuple(rows[0]) == RESULT_COLUMNS
    assert [r["model"] for r in rows] == ["resnet_paper6", "drsn_cw_paper6"]
    for r in rows:
        assert r["noise"] == "gaussian" and float(r["snr_db"]) == -5 and r["seed"] == "0" and r["fold"] == ""
        for key in ("train_acc", "test_acc", "test_macro_f1"):
            assert 0.0 <= float(r[key]) <= 1.0
        assert float(r["seconds"]) > 0 and float(r["total_seconds"]) >= float(r["seconds"])
        assert int(r["epochs"]) == 1 and int(r["n_test"]) > 0 and int(r["n_train"]) > 0
        assert int(r["parameters"]) == {"resnet_paper6": 4048, "drsn_cw_paper6": 5616}[r["model"]]
        assert int(r["num_classes"]) == 8
        assert (out / "runs" / r["run_id"] / "model.safetensors").is_file()
    # the clean data is stored once and each run's config names that file (evaluate/thresholds rebuild the test set)
    (data_file,) = (out / "data").glob("data-*.npz")
    run_cfg = yaml.safe_load((out / "runs" / rows[0]["run_id"] / "config.yaml").read_text())
    assert run_cfg["data"] == str(data_file.resolve()) and run_cfg["data_args"] == {}
    report = (out / "report.md").read_text()
    assert "| ResNet (paper6) |" in report and "| DRSN-CW (paper6) |" in report
    assert "| -5 dB |" in report and "## Difference to ResNet (paper6) (paired)" in report
    assert "chance level 12.5 %" in report
    summary = _read_csv(out / "summary.csv")
    assert len(summary) == 2 and {s["n"] for s in summary} == {"1"}
    png = out / "figures" / "tiny_accuracy_vs_snr.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "gaussian -5 dB" in printed and "report:" in printed

    # resume: nothing to run, rows unchanged
    assert main(["study", str(out)]) == 0
    assert "0 to run" in capsys.readouterr().out
    assert len(_read_csv(out / "results.csv")) == 2
    # extend the grid in the same folder: only the new seed runs
    assert main(["study", str(out), "--seeds", "0,1", "--models", "drsn_cw_paper6", "--no-save-runs"]) == 0
    assert len(read_results(out / "results.csv")) == 3
    # another setup in the same folder is refused (one line, exit 2)
    assert main(["study", str(study), "--output", str(out), "--epochs", "2"]) == 2
    assert "another setup" in capsys.readouterr().err

    # shards: two processes' worth of runs, each takes one; the second completes the study
    sharded = tmp_path / "sharded"
    assert main(["study", str(study), "-o", str(sharded), "--shard", "0/2", "--no-save-runs", "--threads", "1"]) == 0
    assert len(read_results(sharded / "results.csv")) == 1 and not (sharded / "report.md").exists()
    assert main(["study", str(study), "-o", str(sharded), "--shard", "1/2", "--no-save-runs", "--threads", "1"]) == 0
    assert len(read_results(sharded / "results.csv")) == 2 and (sharded / "report.md").is_file()


def test_benchmark_folds_run(tmp_path):
    from deepshrink.study.runner import run_study

    spec = study_from_dict(tiny_study(models=["drsn_cs_paper6"], folds=2, run_folds=[1]))
    progress = run_study(spec, tmp_path / "f", save_runs=False, log=None)
    assert progress.remaining == 0 and progress.report is not None
    (row,) = read_results(tmp_path / "f" / "results.csv")
    assert row["fold"] == 1 and row["run_id"].endswith("-fold1")
    assert row["n_test"] + row["n_train"] == 32  # the two folds cover every window once


def test_benchmark_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["study", "no-such-preset"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "presets:" in err
    assert main(["study", "quick", "--shard", "5/2"]) == 2
    assert main(["study", "--list-presets"]) == 0
    assert "paper" in capsys.readouterr().out
    assert main(["study", "quick", "--dry-run", "--shard", "1/27", "--stack", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 2
    # stacked: shards take whole cohorts (54 runs = 3 models x 18, at most 16 a cohort: 6 cohorts of 9)
    assert main(["study", "quick", "--dry-run", "--shard", "1/6", "--stack", "16"]) == 0
    out = capsys.readouterr().out
    assert "takes 9 in 1 cohort(s)" in out and len(out.strip().splitlines()) == 1 + 9


def test_run_config_follows_the_study():
    from deepshrink.study.spec import run_config

    spec = study_from_dict(tiny_study(noise_protocol="fresh", train={"epochs": 3, "batch_size": 8, "lr": 0.05}))
    run = expand_runs(spec)[1]
    cfg = run_config(spec, run, device="cpu", num_threads=1)
    assert (cfg.model, cfg.noise, cfg.snr, cfg.seed) == ("drsn_cw_paper6", "gaussian", -5.0, 0)
    assert cfg.noise_protocol == "fresh" and cfg.epochs == 3 and cfg.lr == 0.05
    assert cfg.val_fraction == 0.0 and cfg.keep == "last"  # the paper's protocol: no validation split
    assert cfg.data_args == TINY_DATA and cfg.num_threads == 1
    fixed = study_from_dict(tiny_study(train={"epochs": 3, "batch_size": 8, "lr": 0.05}))
    # the protocol is a study axis, not part of the setup: the two share a folder, with other run ids
    assert fixed.setup_hash() == spec.setup_hash()
    assert run.run_id == expand_runs(fixed)[1].run_id.replace("-seed0", "-fresh-seed0")
    assert study_from_dict(tiny_study(train={"epochs": 4, "batch_size": 8, "lr": 0.05})).setup_hash() != fixed.setup_hash()
    # the grid is not part of the setup: a study can grow in its folder
    assert study_from_dict(tiny_study(seeds=[0, 1, 2], snrs=[-5, 0])).setup_hash() == study_from_dict(tiny_study()).setup_hash()


def test_runtime_keys_do_not_change_the_setup():
    base = study_from_dict(tiny_study())
    assert study_from_dict(tiny_study(train={**base.train, "compile": True, "num_threads": 1})).setup_hash() == base.setup_hash()
    assert study_from_dict(tiny_study(train={**base.train, "epochs": 2})).setup_hash() != base.setup_hash()
