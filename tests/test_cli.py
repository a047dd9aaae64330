"""The train / evaluate / predict / data subcommands: help, configs, outputs, and bad input.

Every bad input runs the real console script in a subprocess (in parallel, to keep the suite
fast) and must give exit status 2, exactly one line on stderr, and no traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train_support import cli_command, fast_train_args, subprocess_env, synthetic_dataset, write_npz

from deepshrink.cli import main
from deepshrink.errors import ConfigError
from deepshrink.study.commands import open_study, plan_shard, resolve_study, with_overrides
from deepshrink.study.spec import load_study, study_to_yaml
from deepshrink.train.runfolder import read_metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = write_npz(root / "data.npz")
    run = root / "run"
    assert main([str(a) for a in fast_train_args(data, run, epochs=2, batch_size=16)] + ["--progress", "off"]) == 0
    return root, data, run


# ---------------------------------------------------------------------- help
@pytest.mark.parametrize(
    "command, phrases",
    [
        ("train", ["--config", "--print-config", "--resume", "global", "torchrun", "--snr -5:5"]),
        ("evaluate", ["RUN_DIR", "--snr", "accuracy_by_snr", "confusion"]),
        ("predict", ["RUN_DIR", "FILE", ".npy", "--output"]),
        ("data", ["SPEC", "--plot", "--data-arg"]),
    ],
)
def test_help_is_readable(capsys, command, phrases):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for phrase in phrases:
        assert phrase in text, phrase
    assert max(len(line) for line in text.splitlines()) <= 100


# ---------------------------------------------------------------------- train: config handling
def test_config_file_flags_and_print_config(tmp_path, capsys):
    import yaml

    config = tmp_path / "run.yaml"
    config.write_text("model: resnet_paper\nepochs: 7\nsnr: [-5, 5]\ndata_args: {window: 512}\n")
    assert main(["train", "--config", str(config), "--epochs", "3", "--data-arg", "stride=256",
                 "--set", "grad_clip=2.0", "--snr", "-2:2:1", "--print-config"]) == 0  # fmt: skip
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"] == "resnet_paper" and printed["epochs"] == 3 and printed["grad_clip"] == 2.0
    assert printed["data_args"] == {"window": 512, "stride": 256}
    assert printed["snr"] == "-2:2:1" and printed["lr"] == 0.1
    assert not any(tmp_path.glob("runs*")), "--print-config must not train"


def test_every_setting_is_a_flag(capsys):
    import yaml

    # flags that only --set could give before, and the split added last
    assert main(["train", "--split", "window", "--momentum", "0.5", "--milestones", "0.3", "0.6", "--lr-decay", "0.5",
                 "--warmup-epochs", "2", "--label-smoothing", "0.1", "--monitor", "val_acc", "--print-config"]) == 0  # fmt: skip
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["split"], printed["momentum"], printed["milestones"], printed["lr_decay"]) == ("window", 0.5, [0.3, 0.6], 0.5)
    assert (printed["warmup_epochs"], printed["label_smoothing"], printed["monitor"]) == (2.0, 0.1, "val_acc")
    assert main(["train", "--test-condition", "speed_hz=40", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["split"] == "condition" and printed["test_conditions"] == {"speed_hz": [40]}
    assert main(["train", "--lr-decay", "0", "--print-config"]) == 2
    assert "command line: key 'lr_decay' must be in (0, 1], got 0.0" in capsys.readouterr().err


def test_train_writes_run_folder(workspace):
    root, data, run = workspace
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2]
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"] == str(data) and saved["batch_size"] == 16 and saved["lr"] == 0.1
    config = json.loads((run / "config.json").read_text())
    assert config["model_name"] == "drsn_cw_paper" and config["label_names"] == [f"class{i}" for i in range(4)]
    assert config["input"]["length"] == 128 and config["input"]["in_channels"] == 1


# ---------------------------------------------------------------------- evaluate
def test_evaluate_reproduces_the_test_report(workspace, capsys):
    root, data, run = workspace
    before = json.loads((run / "test_metrics.json").read_text())
    assert main(["evaluate", str(run), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    after = json.loads((run / "test_metrics.json").read_text())
    assert after["accuracy"] == before["accuracy"] and after["confusion_matrix"] == before["confusion_matrix"]
    assert "accuracy" in out and "macro-F1" in out and "recall per class" in out
    for r in after["per_class"]:
        assert set(r) == {"class", "support", "precision", "recall", "f1"}


def test_evaluate_per_snr_into_output(workspace, tmp_path, capsys):
    root, data, run = workspace
    out_dir = tmp_path / "report"
    assert main(["evaluate", str(run), "--noise", "gaussian", "--snr=-10:10:10", "--output", str(out_dir), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "accuracy per SNR" in text
    with open(out_dir / "eval_accuracy_by_snr.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["snr_db"]) for r in rows] == [-10.0, 0.0, 10.0]
    assert len({r["count"] for r in rows}) == 1  # every test signal at every SNR
    assert (out_dir / "eval_confusion_matrix.png").read_bytes()[:8] == PNG_MAGIC
    assert (out_dir / "eval_accuracy_by_snr.png").read_bytes()[:8] == PNG_MAGIC  # the accuracy-vs-SNR figure
    with open(out_dir / "eval_confusion_matrix.csv", newline="") as f:
        matrix = list(csv.reader(f))
    assert matrix[0][1:] == [f"class{i}" for i in range(4)] and len(matrix) == 5
    report = json.loads((out_dir / "eval_metrics.json").read_text())
    assert report["num_observations"] == sum(int(r["count"]) for r in rows)
    assert not (run / "eval_metrics.json").exists()


def test_evaluate_on_other_data(workspace, tmp_path, capsys):
    root, data, run = workspace
    other = write_npz(tmp_path / "other.npz", seed=5, n_rec=8)
    assert main(["evaluate", str(run), "--data", str(other), "--noise", "none", "--output", str(tmp_path), "--device", "cpu"]) == 0
    report = json.loads((tmp_path / "eval_metrics.json").read_text())
    assert report["num_observations"] == 8 * 12 and report["evaluated"]["split"] == "all"


# ---------------------------------------------------------------------- predict
@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", "3d.npy"])
def test_predict_files(workspace, tmp_path, capsys, suffix):
    root, data, run = workspace
    ds = synthetic_dataset(n_rec=4, per=3, seed=9)
    x = ds.x.numpy()
    path = tmp_path / f"signals{suffix}"
    if suffix == ".npy":
        np.save(path, x[:, 0])
    elif suffix == "3d.npy":
        np.save(path, x)
    elif suffix == ".npz":
        np.savez(path, x=x)
    else:
        path.write_text("\n".join(",".join(f"{v:.7g}" for v in row) for row in x[:, 0]) + "\n")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(path), "--output", str(out), "--device", "cpu"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(ds)
    assert list(rows[0]) == ["index", "predicted"] + [f"p_class{i}" for i in range(4)]
    probs = np.array([[float(r[f"p_class{i}"]) for i in range(4)] for r in rows])
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
    assert all(r["predicted"] == f"class{int(p.argmax())}" for r, p in zip(rows, probs))
    import deepshrink

    model = deepshrink.load(run)
    expected = torch.softmax(model(torch.as_tensor(x)), 1).detach().numpy()
    assert np.allclose(probs, expected, atol=1e-5)


def test_predict_to_stdout(workspace, tmp_path, capsys):
    root, data, run = workspace
    np.save(tmp_path / "x.npy", synthetic_dataset(n_rec=4, per=1).x.numpy()[:, 0])
    assert main(["predict", str(run), str(tmp_path / "x.npy"), "--device", "cpu"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:2] == ["index", "predicted"] and len(rows) == 5


# ---------------------------------------------------------------------- data
def test_data_describe_and_plot(workspace, tmp_path, capsys):
    root, data, run = workspace
    png = tmp_path / "examples.png"
    assert main(["data", str(data), "--plot", str(png), "--per-class", "2"]) == 0
    out = capsys.readouterr().out
    for phrase in ("observations  192", "1 channel(s) x 128 samples", "1000 Hz", "recordings    16", "class3"):
        assert phrase in out, phrase
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert main(["data", str(data), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["class_counts"] == {f"class{i}": 48 for i in range(4)}


def test_data_describes_the_simulator(capsys):
    assert main(["data", "simulator", "--data-arg", "window=256", "--data-arg", "recordings_per_condition=1",
                 "--data-arg", "windows_per_recording=2", "--data-arg", "speeds_hz=[30.0]"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "12800 Hz" in out and "classes       8" in out and "speed_hz" in out


# ---------------------------------------------------------------------- bad input: subprocesses
def _bad_inputs(root, data, run):
    bad_yaml = root / "bad.yaml"
    bad_yaml.write_text("epochs: ten\n")
    wrong_key = root / "typo.yaml"
    wrong_key.write_text("epoch: 3\n")
    two_channels = root / "two_channels.npy"
    np.save(two_channels, np.zeros((3, 2, 128), dtype=np.float32))
    (root / "signals.txt").write_text("1,2,3\n")
    (root / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    base = [str(a) for a in fast_train_args(data, root / "new-run", epochs=1, batch_size=16)]
    return {
        "unknown model": (["train", "--model", "drsn_xx", "--data", str(data)], "unknown model 'drsn_xx'"),
        "unknown dataset": (["train", "--data", "nosuchset"], "unknown dataset 'nosuchset'"),
        "missing data file": (["train", "--data", str(root / "missing.npz")], "missing.npz"),
        "corrupt data file": (["train", "--data", str(root / "broken.npz")], "broken.npz"),
        "unknown option value": (["train", "--noise", "white"], "invalid choice: 'white'"),
        "wrong flag type": (["train", "--epochs", "ten"], "invalid int value: 'ten'"),
        "unknown flag": (["train", "--epoch", "3"], "--epoch"),
        "config wrong type": (["train", "--config", str(bad_yaml)], "bad.yaml: key 'epochs' must be an integer"),
        "config unknown key": (["train", "--config", str(wrong_key)], "typo.yaml: unknown key 'epoch'"),
        "missing config": (["train", "--config", str(root / "nope.yaml")], "nope.yaml"),
        "bad --set": (["train", "--set", "lr=fast", "--print-config"], "key 'lr' must be"),
        "bad snr": (["train", "--snr=loud", "--print-config"], "snr"),
        "existing run folder": (base[:-2] + ["--output", str(run)], "already exists"),
        "incompatible resume": (["train", "--resume", str(run), "--seed", "9"], "different configuration"),
        "missing resume folder": (["train", "--resume", str(root / "nope")], "does not exist"),
        "batch larger than data": (base[:-2] + ["--output", str(root / "r2"), "--batch-size", "4096"], "larger than the training set"),
        "nan loss": (base[:-2] + ["--output", str(root / "nan-run"), "--lr", "1e30", "--epochs", "2"], "loss became nan at epoch 1, step"),
        "cuda without cuda": (["train", "--device", "cuda", "--data", str(data)], "CUDA is not available") if not torch.cuda.is_available() else None,
        "evaluate missing run": (["evaluate", str(root / "nope")], "does not exist"),
        "evaluate bad snr": (["evaluate", str(run), "--snr=5:-5"], "above high"),
        "predict missing file": (["predict", str(run), str(root / "missing.npy")], "missing.npy"),
        "predict wrong channels": (["predict", str(run), str(two_channels)], "2 channel(s), the model expects 1"),
        "predict unknown suffix": (["predict", str(run), str(root / "signals.txt")], "unknown file type"),
        "predict not a run": (["predict", str(root), str(two_channels)], "config.json"),
        "data unknown": (["data", "nosuchset"], "unknown dataset"),
        "data plot folder missing": (["data", str(data), "--plot", str(root / "no" / "dir" / "x.png")], "does not exist"),
        "no subcommand argument": (["predict"], "required"),
    }


# The bad inputs of the issue run as real subprocesses; the rest in-process (same code path:
# main() turns errors into one line and status 2), to keep the suite fast on 2 cores.
SUBPROCESS_CASES = (
    "unknown model", "unknown dataset", "missing data file", "unknown option value", "config wrong type",
    "existing run folder", "incompatible resume", "nan loss",
)  # fmt: skip


def test_bad_input_in_a_subprocess_gives_one_line_and_exit_2(workspace):
    root, data, run = workspace
    cases = {name: case for name, case in _bad_inputs(root, data, run).items() if name in SUBPROCESS_CASES}
    assert len(cases) == len(SUBPROCESS_CASES)
    env = subprocess_env()
    procs = {}
    pending = list(cases.items())
    results = {}
    try:
        while pending or procs:  # at most 4 at a time: 2 cores, each mostly importing torch
            while pending and len(procs) < 4:
                name, (args, _) = pending.pop(0)
                procs[name] = subprocess.Popen(cli_command() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True, env=env, cwd=root)  # fmt: skip
            name = next(iter(procs))
            out, err = procs[name].communicate(timeout=120)
            results[name] = (procs.pop(name).returncode, out, err)
    finally:
        for proc in procs.values():  # a case that did not fail fast: stop it
            proc.kill()
            proc.communicate()
    failures = []
    for name, (args, expected) in cases.items():
        code, out, err = results[name]
        lines = err.strip().splitlines()
        if code != 2 or len(lines) != 1 or "Traceback" in err or expected not in err:
            failures.append(f"{name}: exit {code}, stderr {err.strip()[-400:]!r}")
    assert not failures, "\n".join(failures)
    # nothing was overwritten, nothing half-made
    assert read_metrics(run)[-1]["epoch"] == 2
    assert not (root / "new-run").exists()
    assert not (root / "nan-run" / "model.safetensors").exists()


def test_more_bad_input_gives_one_line_and_exit_2(workspace, capsys):
    root, data, run = workspace
    cases = {name: case for name, case in _bad_inputs(root, data, run).items() if case is not None and name not in SUBPROCESS_CASES}
    failures = []
    for name, (args, expected) in cases.items():
        code = main(args)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        if code != 2 or len(lines) != 1 or expected not in captured.err:
            failures.append(f"{name}: exit {code}, stderr {captured.err.strip()[-400:]!r}")
    assert not failures, "\n".join(failures)
    assert not (root / "r2").exists()


# ---------------------------------------------------------------------- benchmark / demo: the library they call
def test_with_overrides_replaces_keys_and_adds_training_settings():
    quick = load_study("quick")
    spec = with_overrides(quick, models=["drsn_cw_paper6"], seeds=[4], data_args={"window": 512},
                          train={"epochs": 3, "lr": 0.01})  # fmt: skip
    assert spec.models == ["drsn_cw_paper6"] and spec.seeds == [4]
    assert spec.data_args == {**quick.data_args, "window": 512}  # data_args add to the study's
    assert spec.train == {**quick.train, "epochs": 3, "lr": 0.01}
    assert quick.models == ["resnet_paper6", "drsn_cs_paper6", "drsn_cw_paper6"]  # the original is unchanged
    other = with_overrides(quick, data="simulator", data_args={"window": 256})
    assert other.data_args == {"window": 256}  # a new data spec starts from no loader arguments
    folds = with_overrides(quick, folds=4, run_folds=[0, 2])
    assert (folds.folds, folds.run_folds) == (4, [0, 2])
    no_folds = with_overrides(folds, folds=0)
    assert (no_folds.folds, no_folds.run_folds) == (0, None)  # run_folds go with the folds
    with pytest.raises(ConfigError, match=r"^overrides: key 'models': unknown model 'nope'"):
        with_overrides(quick, models=["nope"])
    with pytest.raises(ConfigError, match="unknown key 'model'"):
        with_overrides(quick, model="resnet_paper")


def test_resolve_study_finds_the_folder_and_names_it_in_errors(tmp_path):
    spec, out = resolve_study("quick")
    assert out == Path("studies") / "quick" and spec.name == "quick"
    assert resolve_study("quick", output=tmp_path / "o")[1] == tmp_path / "o"
    folder = tmp_path / "quick"  # a folder named like a preset, with its study.yaml: the folder
    folder.mkdir()
    (folder / "study.yaml").write_text(study_to_yaml(with_overrides(spec, seeds=[7])))
    spec, out = resolve_study(folder, train={"epochs": 2})
    assert (out, spec.seeds, spec.train["epochs"]) == (folder, [7], 2)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(folder / 'study.yaml'))}: key 'models'"):
        resolve_study(folder, models=["nope"])
    with pytest.raises(ConfigError, match="^command line: key 'models'"):
        resolve_study("quick", models=["nope"], overrides_source="command line")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a study folder"):
        open_study(tmp_path / "empty")


def test_benchmark_is_the_study_command_under_its_former_name(capsys):
    assert main(["study", "quick", "--dry-run", "--shard", "2/6"]) == 0
    as_study = capsys.readouterr().out
    assert main(["benchmark", "quick", "--dry-run", "--shard", "2/6"]) == 0
    assert capsys.readouterr().out == as_study and as_study.startswith("study quick: 54 runs")


def test_dry_run_prints_the_library_plan(capsys):
    plan = plan_shard(load_study("quick"), (1, 6), stack=16)
    assert main(["study", "quick", "--dry-run", "--shard", "1/6", "--stack", "16"]) == 0
    printed = capsys.readouterr().out
    assert printed == plan.describe() + "\n"
    lines = printed.splitlines()
    assert lines[0] == (f"study quick: 54 runs; shard 1/6 takes {len(plan.runs)} in {len(plan.cohorts)} cohort(s) "
                        "of up to 16 stacked runs:")
    assert len(lines) == 1 + len(plan.runs) and all(line.endswith(")") and "(cohort " in line for line in lines[1:])
    one_by_one = plan_shard(load_study("quick"), (0, 27), stack=1)
    assert one_by_one.describe().splitlines() == ["study quick: 54 runs; shard 0/27 takes 2:"] + [
        f"  {r.run_id}" for r in one_by_one.runs
    ]
