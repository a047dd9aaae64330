"""The training engine: recipes, schedules, weight decay groups, reproducibility, early stopping,
divergence handling, mid-epoch resume, AMP/compile code paths, run folder contents."""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
import pytest
import torch
from test_train_support import synthetic_dataset
from torch import nn

import deepshrink
from deepshrink.errors import CheckpointError, ConfigError
from deepshrink.models import create_model
from deepshrink.train.checkpoint import load_checkpoint
from deepshrink.seeds import seed_everything
from deepshrink.train.compiling import CPU_COMPILE_MIN_STEPS, EagerFallback, compile_pays, has_gates
from deepshrink.train.config import TrainConfig
from deepshrink.train.engine import Trainer, TrainingDiverged
from deepshrink.train.schedule import lr_at, milestone_epochs, param_groups
from deepshrink.train.prepare import prepare_data
from deepshrink.train.run import train
from deepshrink.train.runfolder import RunWriter, read_metrics

torch.set_num_threads(1)


def small_cfg(**overrides) -> TrainConfig:
    values = dict(model="drsn_cw_paper", data="synthetic", noise="none", epochs=3, batch_size=32, device="cpu",
                  num_threads=1, progress="off", test_fraction=0.25, val_fraction=0.2)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset()


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _strip_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# ---------------------------------------------------------------------- schedules
def test_paper_schedule_drops_at_epochs_41_and_81():
    cfg = TrainConfig(epochs=100)
    assert milestone_epochs(cfg) == [40, 80]
    spe = 3
    lrs = [lr_at(cfg, e * spe, spe) for e in range(100)]
    assert lrs[0] == lrs[39] == 0.1  # epochs 1-40
    assert lrs[40] == pytest.approx(0.01) and lrs[79] == pytest.approx(0.01)  # 41-80
    assert lrs[80] == pytest.approx(0.001) and lrs[99] == pytest.approx(0.001)  # 81-100
    assert lr_at(cfg, 40 * spe - 1, spe) == 0.1  # constant within an epoch


def test_paper_schedule_scales_milestones():
    assert milestone_epochs(TrainConfig(epochs=10)) == [4, 8]
    assert milestone_epochs(TrainConfig(epochs=50)) == [20, 40]
    cfg = TrainConfig(epochs=10)
    assert [round(lr_at(cfg, e, 1), 6) for e in range(10)] == [0.1] * 4 + [0.01] * 4 + [0.001] * 2


def test_adamw_warmup_then_cosine():
    cfg = TrainConfig(recipe="adamw", epochs=10, warmup_epochs=2)
    spe = 5
    lrs = [lr_at(cfg, s, spe) for s in range(50)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] < 1e-5


def test_weight_decay_on_conv_and_linear_weights_only():
    model = create_model("drsn_cw_paper")
    decay, no_decay = param_groups(model, 1e-4)
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0
    decay_ids = {id(p) for p in decay["params"]}
    expected = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))}
    assert decay_ids == expected
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            assert id(m.weight) not in decay_ids and id(m.bias) not in decay_ids
        if isinstance(m, (nn.Conv1d, nn.Linear)) and m.bias is not None:
            assert id(m.bias) not in decay_ids
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


# ---------------------------------------------------------------------- data
def test_prepare_data_is_leak_free_and_noisy(dataset):
    from deepshrink.data import check_no_leak

    cfg = small_cfg(noise="gaussian", snr="-5:5:1", noise_protocol="fresh")
    data = prepare_data(cfg, dataset)
    rec = {name: set(part.recording_ids.tolist()) for name, part in (("train", data.train), ("val", data.val), ("test", data.test))}
    assert not (rec["train"] & rec["val"]) and not (rec["train"] & rec["test"]) and not (rec["val"] & rec["test"])
    assert len(data.train) + len(data.val) + len(data.test) == len(dataset)
    assert sorted(torch.unique(data.test.snr_db.round()).tolist()) == list(range(-5, 6))
    before = data.train.x.clone()
    data.train.set_epoch(1)
    assert not torch.equal(before, data.train.x)  # fresh noise per epoch
    data.test.set_epoch(1)  # fixed noise for evaluation
    check_no_leak(dataset, np.arange(0), np.arange(len(dataset)))


def test_batch_size_larger_than_training_set(dataset):
    with pytest.raises(ConfigError, match="larger than the training set"):
        train(small_cfg(batch_size=4096), dataset=dataset, write=False, console=False)


# ---------------------------------------------------------------------- reproducibility
def test_cpu_run_is_bit_reproducible(dataset):
    a = train(small_cfg(epochs=2), dataset=dataset, write=False, console=False)
    b = train(small_cfg(epochs=2), dataset=dataset, write=False, console=False)
    assert _same_state(a.model.state_dict(), b.model.state_dict())
    assert _strip_seconds(a.history) == _strip_seconds(b.history)
    c = train(small_cfg(epochs=2, seed=1), dataset=dataset, write=False, console=False)
    assert not _same_state(a.model.state_dict(), c.model.state_dict())


def test_learns_the_synthetic_task(dataset):
    result = train(small_cfg(epochs=8, batch_size=8), dataset=dataset, write=False, console=False)
    assert result.history[-1]["val_acc"] > 0.8
    assert result.test_report["accuracy"] > 0.8


def test_early_stopping(dataset):
    # a learning rate so small that validation accuracy cannot change: stop after patience
    result = train(small_cfg(epochs=10, lr=1e-12, monitor="val_acc", early_stopping=2), dataset=dataset, write=False, console=False)
    assert len(result.history) == 3


# ---------------------------------------------------------------------- run folder
def test_run_folder_contents_and_load(tmp_path, dataset):
    result = train(small_cfg(epochs=2), dataset=dataset, output=tmp_path / "run", console=False)
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.csv", "train.log", "config.json", "model.safetensors", "last.ckpt",
                 "test_metrics.json", "test_confusion_matrix.csv", "test_confusion_matrix.png", "test_per_class.csv",
                 "training_curves.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert (run / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run.glob(".*tmp")), "temporary files left behind"
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert set(rows[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
    model = deepshrink.load(run)
    assert not model.training and model.label_names == dataset.label_names
    assert model.input_spec["length"] == dataset.length
    x = dataset.x[:8]
    ref = result.model.eval()(x)
    assert torch.allclose(model(x), ref, atol=1e-6)
    ckpt = load_checkpoint(run / "last.ckpt")
    assert ckpt["epoch"] == 2 and ckpt["step_in_epoch"] == 0 and len(ckpt["history"]) == 2


def test_existing_output_needs_force(tmp_path, dataset):
    train(small_cfg(epochs=1), dataset=dataset, output=tmp_path / "run", console=False)
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    with pytest.raises(ConfigError, match="already exists.*--force"):
        train(small_cfg(epochs=1, seed=3), dataset=dataset, output=tmp_path / "run", console=False)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    train(small_cfg(epochs=1, seed=3), dataset=dataset, output=tmp_path / "run", force=True, console=False)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() != before
    # --force never deletes a folder that is not a run folder
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="does not look like a run folder"):
        train(small_cfg(epochs=1), dataset=dataset, output=other, force=True, console=False)
    assert (other / "precious.txt").read_text() == "keep me"


def test_auto_named_folders_never_collide(tmp_path, dataset):
    a = train(small_cfg(epochs=1), dataset=dataset, runs_root=tmp_path, console=False)
    b = train(small_cfg(epochs=1), dataset=dataset, runs_root=tmp_path, console=False)
    assert a.run_dir != b.run_dir and a.run_dir.parent == b.run_dir.parent == tmp_path
    assert "drsn_cw_paper-synthetic" in a.run_dir.name


# ---------------------------------------------------------------------- divergence
def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_good_checkpoint(tmp_path, dataset):
    cfg = small_cfg(epochs=4)
    data = prepare_data(cfg, dataset)
    torch.manual_seed(0)
    model = create_model("drsn_cw_paper", num_classes=4)
    calls = {"n": 0}
    steps_per_epoch = len(data.train) // cfg.batch_size

    def poison(module, inputs, output):
        if module.training:
            calls["n"] += 1
            if calls["n"] == steps_per_epoch + 2:  # epoch 2, step 2
                return output * float("nan")
        return output

    model.register_forward_hook(poison)
    (tmp_path / "run").mkdir()
    writer = RunWriter(tmp_path / "run", data.label_names, {}, {})
    saved = []
    original = writer.checkpoint

    def recording_checkpoint(state):
        original(state)
        saved.append(hashlib.sha256((tmp_path / "run" / "last.ckpt").read_bytes()).hexdigest())

    writer.checkpoint = recording_checkpoint
    trainer = Trainer(cfg, model, data.train, data.val, writer=writer)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 2 of \d+") as err:
        trainer.fit()
    assert "\n" not in str(err.value) and "last.ckpt" in str(err.value)
    assert len(saved) == 1  # only the epoch-1 checkpoint was written
    assert hashlib.sha256((tmp_path / "run" / "last.ckpt").read_bytes()).hexdigest() == saved[0]
    ckpt = load_checkpoint(tmp_path / "run" / "last.ckpt")
    assert ckpt["epoch"] == 1 and all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_nonfinite_weights_are_never_checkpointed(tmp_path, dataset):
    cfg = small_cfg(epochs=2)
    data = prepare_data(cfg, dataset)
    model = create_model("drsn_cw_paper", num_classes=4)
    trainer = Trainer(cfg, model, data.train, data.val, writer=None)
    with torch.no_grad():
        model.fc.weight[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match="weights became NaN or infinite"):
        trainer._save(epoch_end=True)


# ---------------------------------------------------------------------- resume
def test_mid_epoch_checkpoint_resume_equals_uninterrupted(tmp_path, dataset, monkeypatch):
    cfg = small_cfg(epochs=3, checkpoint_every=2, noise="gaussian", snr=5.0, noise_protocol="fresh", model_args={"drop_rate": 0.2})
    full = train(cfg, dataset=dataset, output=tmp_path / "full", console=False)

    calls = {"n": 0}
    original = RunWriter.checkpoint

    class Crash(Exception):
        pass

    def crashing_checkpoint(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == 3:  # after a mid-epoch checkpoint of epoch 2
            raise Crash()

    monkeypatch.setattr(RunWriter, "checkpoint", crashing_checkpoint)
    with pytest.raises(Crash):
        train(cfg, dataset=dataset, output=tmp_path / "crashed", console=False)
    monkeypatch.setattr(RunWriter, "checkpoint", original)
    ckpt = load_checkpoint(tmp_path / "crashed" / "last.ckpt")
    assert ckpt["step_in_epoch"] > 0, "the crash should happen mid-epoch"
    resumed = train(cfg, dataset=dataset, resume=tmp_path / "crashed", console=False)
    assert _same_state(full.model.state_dict(), resumed.model.state_dict())
    assert _strip_seconds(full.history) == _strip_seconds(resumed.history)
    assert (tmp_path / "full" / "model.safetensors").read_bytes() == (tmp_path / "crashed" / "model.safetensors").read_bytes()


def test_resume_with_a_different_config_is_refused(tmp_path, dataset):
    train(small_cfg(epochs=1), dataset=dataset, output=tmp_path / "run", console=False)
    with pytest.raises(CheckpointError, match="different configuration.*seed: 0 -> 5"):
        train(small_cfg(epochs=1, seed=5), dataset=dataset, resume=tmp_path / "run", console=False)
    with pytest.raises(CheckpointError, match=r"different configuration \(epochs: 1 -> 2; lr: 0\.1 -> 0\.5\)"):
        train(small_cfg(epochs=2, lr=0.5), dataset=dataset, resume=tmp_path / "run", console=False)  # more than epochs
    with pytest.raises(CheckpointError, match="does not exist"):
        train(small_cfg(epochs=1), dataset=dataset, resume=tmp_path / "nope", console=False)
    # runtime keys may change
    train(small_cfg(epochs=1, progress="log", eval_batch_size=7), dataset=dataset, resume=tmp_path / "run", console=False)


@pytest.mark.parametrize("crash_after", [None, 1])
def test_a_full_disk_during_resume_leaves_every_file_as_it_was(tmp_path, dataset, monkeypatch, crash_after):
    """The disk fills before the resume writes anything (an extension, or an interrupted run):
    one OSError, and every byte of the run folder as before, train.log included."""
    import errno

    import deepshrink.train.run as run_module
    import deepshrink.train.runfolder as runfolder_module

    if crash_after is None:
        train(small_cfg(epochs=1), dataset=dataset, output=tmp_path / "run", console=False)
        again = small_cfg(epochs=2)  # extends the finished run
    else:
        original, calls = RunWriter.checkpoint, {"n": 0}

        def crash(self, state):
            original(self, state)
            calls["n"] += 1
            if calls["n"] == crash_after:
                raise KeyboardInterrupt

        monkeypatch.setattr(RunWriter, "checkpoint", crash)
        with pytest.raises(KeyboardInterrupt):
            train(small_cfg(epochs=2), dataset=dataset, output=tmp_path / "run", console=False)
        monkeypatch.undo()
        again = small_cfg(epochs=2)
    before = {f.name: f.read_bytes() for f in (tmp_path / "run").iterdir()}

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    for module in (run_module, runfolder_module):  # every write of a run's files
        monkeypatch.setattr(module, "atomic_write", full)
    monkeypatch.setattr(runfolder_module, "save_checkpoint", full)
    with pytest.raises(OSError, match="No space left on device"):
        train(again, dataset=dataset, resume=tmp_path / "run", console=False)
    assert {f.name: f.read_bytes() for f in (tmp_path / "run").iterdir()} == before


def test_resume_of_finished_run_changes_nothing(tmp_path, dataset):
    first = train(small_cfg(epochs=1), dataset=dataset, output=tmp_path / "run", console=False)
    again = train(small_cfg(epochs=1), dataset=dataset, resume=tmp_path / "run", console=False)
    assert _same_state(first.model.state_dict(), again.model.state_dict())
    assert len(again.history) == 1


# ---------------------------------------------------------------------- code paths: AMP, compile
def test_bf16_autocast_on_cpu(dataset):
    result = train(small_cfg(epochs=1, amp="bf16"), dataset=dataset, write=False, console=False)
    assert math.isfinite(result.history[0]["train_loss"])
    assert next(result.model.parameters()).dtype == torch.float32


def test_compile_flag_wraps_the_model(dataset, monkeypatch):
    seen = []

    def fake_compile(module, *args, **kwargs):
        seen.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    train(small_cfg(epochs=1, compile=True), dataset=dataset, write=False, console=False)
    assert len(seen) == 1 and isinstance(seen[0], nn.Module)
    seen.clear()
    train(small_cfg(epochs=1), dataset=dataset, write=False, console=False)  # auto: a few steps stay eager
    assert seen == []


def _fit(cfg, dataset, log=None):
    data = prepare_data(cfg, dataset)
    seed_everything(cfg.seed)
    trainer = Trainer(cfg, create_model(cfg.model, num_classes=4), data.train, data.val, log=log)
    trainer.fit()
    return trainer


def test_a_compile_that_fails_goes_on_eager_with_one_warning(dataset, monkeypatch):
    calls = []

    def broken_compile(module, *args, **kwargs):
        def forward(*a, **k):
            calls.append(1)
            raise RuntimeError("InductorError: no C++ compiler found\nsecond line")

        return forward

    eager = _fit(small_cfg(epochs=2, compile=False), dataset)
    monkeypatch.setattr(torch, "compile", broken_compile)
    lines = []
    fell_back = _fit(small_cfg(epochs=2, compile=True), dataset, log=lines.append)
    warnings = [line for line in lines if "torch.compile" in line]
    assert warnings == ["warning: torch.compile failed (RuntimeError: InductorError: no C++ compiler found); "
                        "going on in eager mode"]  # fmt: skip
    assert calls == [1]  # tried once, then eager for every step
    assert _same_state(eager.model.state_dict(), fell_back.model.state_dict())
    assert _strip_seconds(eager.history) == _strip_seconds(fell_back.history)


def test_a_real_compile_trains_as_eager_does(dataset, monkeypatch):
    # dynamo's graph capture and AOT autograd, as the Trainer's step uses them; inductor's C++
    # code generation (a minute cold on 2 cores) is torch's to test and the benchmarks' to time.
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    eager = _fit(small_cfg(model="drsn_cw_paper6", epochs=1, compile=False), dataset)
    lines = []
    compiled = _fit(small_cfg(model="drsn_cw_paper6", epochs=1, compile=True), dataset, log=lines.append)
    assert compiled.forward_model.is_compiled and not [line for line in lines if "warning" in line]
    for a, b in zip(eager.history, compiled.history):  # float32 rounding apart, the same run
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
    for key, value in eager.model.state_dict().items():
        assert torch.allclose(value.double(), compiled.model.state_dict()[key].double(), rtol=1e-3, atol=1e-4), key


class _FailingBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("CppCompileError: the backward kernel did not build")


def test_a_backward_that_fails_to_compile_goes_on_eager_too(dataset, monkeypatch):
    def compile_with_broken_backward(module, *args, **kwargs):
        return lambda x: _FailingBackward.apply(module(x))  # runs the forward (BatchNorm stats move), then fails

    eager = _fit(small_cfg(epochs=2, compile=False), dataset)
    monkeypatch.setattr(torch, "compile", compile_with_broken_backward)
    lines = []
    fell_back = _fit(small_cfg(epochs=2, compile=True), dataset, log=lines.append)
    assert [line for line in lines if "torch.compile" in line] == [
        "warning: torch.compile failed (RuntimeError: CppCompileError: the backward kernel did not build); "
        "going on in eager mode"
    ]
    assert _same_state(eager.model.state_dict(), fell_back.model.state_dict())  # running statistics restored


def test_a_compile_that_cannot_start_goes_on_eager(dataset, monkeypatch):
    def unsupported(module, *args, **kwargs):
        raise RuntimeError("torch.compile is not supported on Python 3.99+")

    monkeypatch.setattr(torch, "compile", unsupported)
    lines = []
    trainer = _fit(small_cfg(epochs=1, compile=True), dataset, log=lines.append)
    assert trainer.forward_model is trainer.model
    assert [line for line in lines if "torch.compile" in line] == [
        "warning: torch.compile is not available (RuntimeError: torch.compile is not supported on Python 3.99+); "
        "going on in eager mode"
    ]


def test_auto_compiles_long_cpu_runs_of_gated_networks_only():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not compile_pays("auto", cpu, CPU_COMPILE_MIN_STEPS - 1, gated=True)
    assert compile_pays("auto", cpu, CPU_COMPILE_MIN_STEPS, gated=True)
    assert not compile_pays("auto", cpu, 10**9, gated=False)  # a plain network gains nothing measurable
    assert not compile_pays("auto", cuda, 10**9, gated=True)  # not measured on a GPU yet: eager unless asked
    assert compile_pays(True, cpu, 1, gated=False) and compile_pays(True, cuda, 1, gated=False)
    assert not compile_pays(False, cpu, 10**9, gated=True)
    assert has_gates(create_model("drsn_cw_paper6", num_classes=2)) and has_gates(create_model("se_resnet_paper6"))
    assert not has_gates(create_model("resnet_paper6", num_classes=2))


def test_an_error_of_the_model_itself_is_not_hidden_by_the_fallback():
    def broken(*args):
        raise RuntimeError("compiler failure")

    model = nn.Linear(3, 2)
    lines = []
    step = EagerFallback(model, broken, lines.append)
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        step(torch.zeros(4, 5))  # wrong width: eager raises the model's own error after the fallback
    assert not step.is_compiled and len(lines) == 1
    assert torch.equal(step(torch.ones(1, 3)), model(torch.ones(1, 3)))
    assert step.train(False) is step and not model.training


# ---------------------------------------------------------------------- weight averaging
def test_ema_is_the_average_of_the_weights_after_each_step(dataset):
    """The kept network is the EMA of the very weights a run without averaging goes through."""
    cfg = small_cfg(epochs=2, val_fraction=0.0, recipe="adamw", lr=3e-3)
    data = prepare_data(cfg, dataset)
    seed_everything(cfg.seed)
    plain = Trainer(cfg, create_model(cfg.model, num_classes=4), data.train, None)
    reference = {k: v.detach().double().clone() for k, v in plain.model.state_dict().items()}  # the average starts here
    steps = []
    plain.optimizer.register_step_post_hook(
        lambda *args: steps.append({k: v.detach().double().clone() for k, v in plain.model.state_dict().items()}))
    plain.fit()
    decay, floating = 0.8, {k: v.is_floating_point() for k, v in plain.model.state_dict().items()}
    for n, state in enumerate(steps):  # by hand, in float64: d = min(decay, (1 + n) / (10 + n))
        d = min(decay, (1 + n) / (10 + n))
        reference = {k: (d * reference[k] + (1 - d) * v) if floating[k] else v for k, v in state.items()}
    averaged = _fit(cfg.replace(ema_decay=decay), dataset)
    assert len(steps) == averaged.global_step > 4
    for k, v in averaged.model.state_dict().items():
        assert torch.allclose(v.double(), reference[k], rtol=1e-5, atol=1e-6), k
    assert not _same_state(plain.model.state_dict(), averaged.model.state_dict())


def test_ema_run_resumed_and_extended_equals_uninterrupted(tmp_path, dataset):
    cfg = small_cfg(epochs=2, checkpoint_every=3, ema_decay=0.9)
    full = train(cfg, dataset=dataset, output=tmp_path / "full", console=False)
    train(cfg.replace(epochs=1), dataset=dataset, output=tmp_path / "part", console=False)
    state = load_checkpoint(tmp_path / "part" / "last.ckpt")
    assert state["average"]["updates"] == state["global_step"] > 0
    resumed = train(cfg, dataset=dataset, resume=tmp_path / "part", console=False)
    assert _same_state(full.model.state_dict(), resumed.model.state_dict())
    assert _strip_seconds(full.history) == _strip_seconds(resumed.history)
    saved = deepshrink.predict.load(tmp_path / "full").state_dict()  # the run folder keeps the average
    assert _same_state(saved, full.model.state_dict()) and not _same_state(saved, state["model"])


def test_adamw_recipe_with_clipping_and_smoothing(dataset):
    result = train(small_cfg(epochs=2, recipe="adamw", lr=3e-3, warmup_epochs=0.5, grad_clip=1.0, label_smoothing=0.1),
                   dataset=dataset, write=False, console=False)  # fmt: skip
    assert result.history[-1]["lr"] < 3e-3 and math.isfinite(result.history[-1]["train_loss"])
