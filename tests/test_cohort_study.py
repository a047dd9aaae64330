"""The study runner trains runs of a model together as one stacked network (a cohort): per run,
the same weights and test accuracy as the run trained alone, also after a SIGKILL mid-epoch and
a resume; each run gets an ordinary run folder; the CLI's --stack and the core budget."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import deepshrink
from deepshrink.cli import main
from deepshrink.study.results import append_result, read_results
from deepshrink.study.spec import expand_runs, RunSpec, study_from_dict
from deepshrink.study.plan import plan_cohorts, shard_cohorts
from deepshrink.study.runner import run_cohort, run_one, run_study

torch.set_num_threads(1)
SRC = str(Path(__file__).resolve().parents[1] / "src")
MODEL = "drsn_cw_paper6"
DATA = {"recordings_per_condition": 2, "windows_per_recording": 4, "window": 256, "speeds_hz": [30], "loads": [0.5],
        "workers": 1}  # fmt: skip
STUDY = {"name": "cohort", "data": "simulator", "data_args": DATA, "models": [MODEL],
         "noises": ["gaussian", "pink", "laplacian"], "snrs": [-5, 0, 5], "seeds": [0, 1, 2],
         "train": {"epochs": 3, "batch_size": 8, "test_fraction": 0.5, "lr": 0.05, "checkpoint_every": 2}}  # fmt: skip
# three runs that differ in seed, noise kind and SNR
RUNS = [RunSpec(MODEL, "gaussian", -5.0, 0), RunSpec(MODEL, "pink", 0.0, 1), RunSpec(MODEL, "laplacian", 5.0, 2)]


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _alone(tmp_path: Path) -> dict[str, tuple[dict, dict]]:
    spec = study_from_dict(STUDY)
    out = {}
    for run in RUNS:
        row = run_one(spec, run, tmp_path / "alone", device="cpu")
        out[run.run_id] = (row, load_file(tmp_path / "alone" / "runs" / run.run_id / "model.safetensors"))
    return out


def _assert_same(alone: dict, study_dir: Path) -> None:
    rows = {r["run_id"]: r for r in read_results(study_dir / "results.csv")}
    assert sorted(rows) == sorted(alone)
    for run_id, (row, weights) in alone.items():
        mine = rows[run_id]
        assert mine["stack"] == 3 and mine["status"] == "finished" and mine["epochs"] == 3
        assert abs(mine["test_acc"] - row["test_acc"]) <= 1e-6 and abs(mine["train_acc"] - row["train_acc"]) <= 1e-6
        stacked = load_file(study_dir / "runs" / run_id / "model.safetensors")
        assert stacked.keys() == weights.keys()
        assert (study_dir / "runs" / run_id / "training_curves.png").is_file()  # a member's folder is a run's
        for key, value in weights.items():
            if value.is_floating_point():
                assert value.dtype == torch.float64
                assert torch.allclose(stacked[key], value, atol=1e-6, rtol=0), (run_id, key)
            else:
                assert torch.equal(stacked[key], value), (run_id, key)
    assert not (study_dir / "cohorts").exists()  # the cohort checkpoint is gone once every run is written


def test_cohort_equals_runs_alone_and_resumes_after_sigkill(tmp_path, float64):
    alone = _alone(tmp_path)
    # the runs differ: a test that compared identical runs could not fail
    first = [w for _, w in alone.values()]
    assert not torch.allclose(first[0]["fc.weight"], first[1]["fc.weight"])

    spec = study_from_dict(STUDY)
    rows = run_cohort(spec, RUNS, tmp_path / "stacked", device="cpu",
                      on_row=lambda row: append_result(tmp_path / "stacked" / "results.csv", row))  # fmt: skip
    assert [r["run_id"] for r in rows] == [r.run_id for r in RUNS]
    _assert_same(alone, tmp_path / "stacked")

    # killed (SIGKILL) in the middle of epoch 2, then resumed by a second process
    script = tmp_path / "cohort.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys
        import torch
        torch.set_num_threads(1)
        torch.set_default_dtype(torch.float64)
        from deepshrink.study.results import append_result
        from deepshrink.study.spec import RunSpec, study_from_dict
        from deepshrink.study.runner import run_cohort
        kill_at = int(sys.argv[1])
        if kill_at:
            step = torch.optim.SGD.step
            calls = [0]
            def counting(self, *a, **k):
                calls[0] += 1
                if calls[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return step(self, *a, **k)
            torch.optim.SGD.step = counting
        spec = study_from_dict({STUDY!r})
        runs = [RunSpec(*r) for r in {[(r.model, r.noise, r.snr_db, r.seed) for r in RUNS]!r}]
        out = {str(tmp_path / "killed")!r}
        run_cohort(spec, runs, out, device="cpu", on_row=lambda row: append_result(out + "/results.csv", row), log=print)
    """))
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    steps_per_epoch = 4  # 32 training windows at batch 8
    killed = subprocess.run([sys.executable, str(script), str(steps_per_epoch + 3)], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (ckpt,) = (tmp_path / "killed" / "cohorts").glob("*/last.ckpt")
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == 1 and state["step_in_epoch"] == 2 and state["members"] == [r.run_id for r in RUNS]
    assert not (tmp_path / "killed" / "results.csv").exists()
    resumed = subprocess.run([sys.executable, str(script), "0"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed the cohort at epoch 1, step 2 (global step 6)" in resumed.stdout
    _assert_same(alone, tmp_path / "killed")


def test_cohorts_group_one_model_and_stack_1_is_run_order():
    spec = study_from_dict({**STUDY, "models": ["resnet_paper6", MODEL], "snrs": [-5], "noises": ["gaussian", "pink"]})
    runs = expand_runs(spec)
    assert [c[0] for c in plan_cohorts(spec, runs, 1)] == runs
    cohorts = plan_cohorts(spec, runs, 4)
    assert [len(c) for c in cohorts] == [3, 3, 3, 3]  # 6 runs per model at stack 4: 3 + 3, not 4 + 2
    assert [len(c) for c in plan_cohorts(spec, runs, 6)] == [6, 6]
    for c in cohorts:
        assert len({r.model for r in c}) == 1
    assert sorted(r.run_id for c in cohorts for r in c) == sorted(r.run_id for r in runs)
    with_dropout = study_from_dict({**STUDY, "train": {**STUDY["train"], "model_args": {"drop_rate": 0.1}}})
    assert all(len(c) == 1 for c in plan_cohorts(with_dropout, expand_runs(with_dropout), 4))


def test_shards_share_out_the_runs_left_and_cover_every_cohort_once():
    spec = study_from_dict({**STUDY, "models": ["resnet_paper6", MODEL, "drsn_cs_paper6"]})
    cohorts = plan_cohorts(spec, expand_runs(spec), 9)  # 27 runs per model: 9 cohorts of 9
    ids = lambda cs: [r.run_id for c in cs for r in c]  # noqa: E731
    fresh = [shard_cohorts(cohorts, (i, 2)) for i in range(2)]
    assert fresh == [cohorts[0::2], cohorts[1::2]]  # equal cohorts, nothing done: round robin
    # a resumed study with cohorts 1, 3, 5 done and one run of cohort 7: round robin would leave
    # 5 cohorts (45 runs) to shard 0 and 8 runs to shard 1
    done = {r.run_id for k in (1, 3, 5) for r in cohorts[k]} | {cohorts[7][0].run_id}
    shares = [shard_cohorts(cohorts, (i, 2), done) for i in range(2)]
    assert sorted(ids(shares[0]) + ids(shares[1])) == sorted(ids(cohorts))  # each cohort exactly once
    left = [sum(r.run_id not in done for c in share for r in c) for share in shares]
    assert left == [27, 26]
    assert all(share == sorted(share, key=cohorts.index) for share in shares)  # in plan order
    assert shard_cohorts(cohorts, (0, 1), done) == cohorts
    assert [shard_cohorts(cohorts, (i, 12)) for i in range(9, 12)] == [[], [], []]  # more shards than cohorts


def test_stacked_study_cli_writes_ordinary_run_folders(tmp_path, capsys):
    import yaml

    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({**STUDY, "noises": ["gaussian", "pink"], "snrs": [0], "seeds": [0],
                                     "train": {**STUDY["train"], "epochs": 1}}))  # fmt: skip
    out = tmp_path / "out"
    assert main(["study", str(study), "-o", str(out), "--stack", "2", "--threads", "1", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "1 cohort(s) of up to 2 stacked runs" in printed
    rows = read_results(out / "results.csv")
    assert [r["stack"] for r in rows] == [2, 2]
    assert "cohorts of up to 2 (one stacked network per cohort)" in (out / "report.md").read_text()
    for row in rows:
        run_dir = out / "runs" / row["run_id"]
        model = deepshrink.load(run_dir)
        assert model.stack == 1 and model.num_parameters() == row["parameters"]
        # evaluate rebuilds the run's test set from its config.yaml and gets the study's number
        assert main(["evaluate", str(run_dir), "--output", str(tmp_path / "ev" / row["run_id"])]) == 0
        capsys.readouterr()
        report = json.loads((tmp_path / "ev" / row["run_id"] / "test_metrics.json").read_text())
        assert report["accuracy"] == pytest.approx(row["test_acc"], abs=1e-6)
        assert main(["export", str(run_dir), "--format", "torchscript", "-o", str(tmp_path / f"{row['run_id']}.pt")]) == 0
    assert main(["study", str(study), "-o", str(tmp_path / "bad"), "--stack", "0"]) == 2
    assert "--stack" in capsys.readouterr().err


def test_workers_never_oversubscribe_the_cores(monkeypatch):
    from deepshrink.study import parallel

    monkeypatch.setattr(parallel, "available_cpus", lambda: 2)
    said = []
    assert parallel.fit_jobs(2, 1, log=said.append) == 2 and not said
    assert parallel.fit_jobs(4, 1, log=said.append) == 2 and "do not fit 2 core(s): running 2" in said[-1]
    assert parallel.fit_jobs(2, 2, log=said.append) == 1
    assert parallel.fit_jobs(3, 2, oversubscribe=True, log=said.append) == 3 and said[-1].startswith("warning:")


def test_default_stack_follows_device_and_memory(monkeypatch):
    from deepshrink.data import SignalDataset
    from deepshrink.study import plan

    ds = SignalDataset(torch.zeros(100, 1, 1000), torch.arange(100) % 2, label_names=["a", "b"])
    per_run = 3 * 100 * 1000 * 4
    monkeypatch.setattr(plan, "_free_memory", lambda device: 4 * 5 * per_run)  # a quarter holds 5 runs
    assert plan.default_stack("cpu", ds) == 5
    assert plan.default_stack("cpu", ds, share=5) == 1
    assert plan.default_stack("cpu", ds, runs=3) == 3
    monkeypatch.setattr(plan, "_free_memory", lambda device: 10**15)
    assert plan.default_stack("cpu", ds) == 16 and plan.default_stack("cuda:0", ds) == 64
    assert plan.default_stack("cpu") == 16  # no data given (shards): the device's cap


def test_cpu_cohorts_keep_the_step_feature_map_near_the_cache_budget():
    from types import SimpleNamespace

    from deepshrink.data import SignalDataset
    from deepshrink.models.footprint import largest_feature_map
    from deepshrink.study import plan

    budget = plan.CPU_STEP_MAP_BYTES
    assert plan.default_stack("cpu", map_bytes=budget // 4) == 4
    assert plan.default_stack("cpu", map_bytes=budget * 3) == 1  # never below one run
    assert plan.default_stack("cpu", map_bytes=budget // 100) == 16  # never above the CPU cap
    assert plan.default_stack("cuda:0", map_bytes=budget) == 64  # the GPU is not sized by it
    # paper6 on 1,024-point windows: the stem's 4 channels x 512 positions are its largest map
    ds = SignalDataset(torch.zeros(8, 1, 1024), torch.arange(8) % 2, label_names=["a", "b"])
    cfg = SimpleNamespace(batch_size=32, model_args={})
    assert plan.step_map_bytes(["drsn_cw_paper6", "minirocket"], cfg, ds) == 4 * 32 * 4 * 512
    wide = plan.step_map_bytes(["resnet_paper6", "resnet14_1d"], cfg, ds)
    assert wide == 4 * 32 * 16 * 512  # the widest of the study's networks decides
    assert plan.default_stack("cpu", ds, map_bytes=wide) == budget // wide
    # a network that cannot take these observations does not count (its runs say why)
    assert plan.step_map_bytes(["wdcnn"], cfg, SignalDataset(torch.zeros(4, 1, 64), torch.arange(4) % 2, label_names=["a", "b"])) == 0
    model = deepshrink.create_model("drsn_cw_paper6")
    model.train()
    assert largest_feature_map(model, (1, 100)) == 4 * 50 and model.training


def test_resume_with_another_stack_says_so(tmp_path, capsys):
    spec = study_from_dict({**STUDY, "noises": ["gaussian"], "snrs": [0], "seeds": [0, 1],
                            "train": {**STUDY["train"], "epochs": 1}})  # fmt: skip
    (tmp_path / "s" / "cohorts" / "drsn_cw_paper6-000000000000").mkdir(parents=True)
    (tmp_path / "s" / "cohorts" / "drsn_cw_paper6-000000000000" / "last.ckpt").write_bytes(b"x")
    said = []
    progress = run_study(spec, tmp_path / "s", stack=2, device="cpu", log=said.append)
    assert progress.remaining == 0
    assert any("do not match this --stack" in line for line in said)


def test_torchrun_shards_on_a_cpu_share_the_cores(tmp_path, monkeypatch):
    from deepshrink.study import runner

    monkeypatch.setattr(runner, "available_cpus", lambda: 4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    threads = []
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    spec = study_from_dict({**STUDY, "noises": ["gaussian"], "snrs": [0], "seeds": [0], "train": {**STUDY["train"], "epochs": 1}})
    said = []
    run_study(spec, tmp_path / "a", shard=(0, 2), device="cpu", save_runs=False, log=said.append)
    assert threads[0] == 2 and not any("oversubscribe" in line for line in said)
    run_study(spec, tmp_path / "b", shard=(0, 2), device="cpu", num_threads=3, save_runs=False, log=said.append)
    assert any(line.startswith("warning: 2 process(es) x 3 thread(s) on 4 core(s)") for line in said)


def test_max_runs_trains_a_smaller_cohort_and_the_rest_later(tmp_path):
    spec = study_from_dict({**STUDY, "noises": ["gaussian"], "snrs": [0], "seeds": [0, 1, 2],
                            "train": {**STUDY["train"], "epochs": 1}})  # fmt: skip
    first = run_study(spec, tmp_path / "s", stack=3, max_runs=2, device="cpu", save_runs=False, log=None)
    assert len(first.ran) == 2 and first.remaining == 1
    assert [r["stack"] for r in read_results(tmp_path / "s" / "results.csv")] == [2, 2]
    second = run_study(spec, tmp_path / "s", stack=3, device="cpu", save_runs=False, log=None)
    assert len(second.ran) == 1 and second.remaining == 0


def test_resumed_parallel_study_shares_out_the_runs_left(tmp_path, capfd):
    from deepshrink.study.parallel import run_study_parallel

    spec = study_from_dict({**STUDY, "models": ["resnet_paper6"], "noises": ["gaussian"], "snrs": [-5, 0],
                            "train": {**STUDY["train"], "epochs": 1}})  # 6 runs: cohorts of 2 at stack 2  # fmt: skip
    out = tmp_path / "s"
    run_study(spec, out, shard=(1, 3), stack=2, device="cpu", save_runs=False, log=None)  # cohort 1 done
    assert len(read_results(out / "results.csv")) == 2
    progress = run_study_parallel(spec, out, jobs=2, stack=2, device="cpu", save_runs=False, oversubscribe=True)
    said = capfd.readouterr().out  # the workers print to the inherited stdout
    # round robin by cohort would give shard 0 cohorts 0 and 2 (4 runs) and shard 1 nothing left
    for i in range(2):
        assert re.search(rf"\[shard {i}/2\] study cohort: 6 runs in all, \d in this shard, \d already done, 2 to run", said)
    ids = [r["run_id"] for r in read_results(out / "results.csv")]
    assert sorted(ids) == sorted(r.run_id for r in expand_runs(spec)) and progress.remaining == 0
