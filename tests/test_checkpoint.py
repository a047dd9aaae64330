"""last.ckpt: atomic writes (a failure mid-save leaves the old file intact), safe loading (a
malicious pickle is refused without running its payload), RNG state round trip."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train_support import fast_train_args, run_cli, write_npz

from deepshrink.cli import main
from deepshrink.errors import CheckpointError
from deepshrink.train.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint


class CreatesFile:
    """Unpickling this calls ``open(path, "w")``: a stand-in for arbitrary code execution."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _state(value: float) -> dict:
    return {"epoch": 1, "model": {"w": torch.full((3,), value)}, "history": [{"loss": value}]}


def test_round_trip(tmp_path):
    path = save_checkpoint(_state(1.0), tmp_path / "last.ckpt")
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["model"]["w"], torch.ones(3))
    assert state["format"] == "deepshrink.checkpoint"
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_failure_during_save_leaves_old_checkpoint_intact(tmp_path, monkeypatch, failing):
    path = tmp_path / "last.ckpt"
    save_checkpoint(_state(1.0), path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device (injected)")

    if failing == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    elif failing == "replace":
        monkeypatch.setattr(os, "replace", boom)
    else:
        import io

        real_fdopen = os.fdopen

        class HalfWriter(io.RawIOBase):
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(bytes(data[: len(data) // 2]))  # half of it reaches the temp file
                raise OSError(28, "No space left on device (injected)")

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: HalfWriter(real_fdopen(fd, mode, *a, **k)))
    with pytest.raises(OSError, match="injected"):
        save_checkpoint(_state(2.0), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(3))
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def _malicious_files(tmp_path: Path, marker: Path) -> list[Path]:
    zipped = tmp_path / "zipped" / "last.ckpt"
    zipped.parent.mkdir()
    torch.save({"format": "deepshrink.checkpoint", "format_version": 1, "model": CreatesFile(marker)}, zipped)
    raw = tmp_path / "raw" / "last.ckpt"
    raw.parent.mkdir()
    raw.write_bytes(pickle.dumps({"format": "deepshrink.checkpoint", "payload": CreatesFile(marker)}, protocol=2))
    return [zipped, raw]


def test_payload_is_live_when_unpickled_unsafely(tmp_path):
    """Control: the payload used below really creates its file under a plain unpickler."""
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(CreatesFile(control))).close()
    assert control.exists()


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    for path in _malicious_files(tmp_path, marker):
        with pytest.raises(CheckpointError, match="refused to load|not a readable checkpoint") as err:
            load_checkpoint(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
        assert not marker.exists(), f"the payload of {path} ran"


def test_malicious_checkpoint_through_cli_resume(tmp_path):
    data = write_npz(tmp_path / "data.npz")
    run = tmp_path / "run"
    assert main([str(a) for a in fast_train_args(data, run, epochs=1)] + ["--progress", "off"]) == 0
    marker = tmp_path / "pwned-cli"
    torch.save({"format": "deepshrink.checkpoint", "format_version": 1, "model": CreatesFile(marker)}, run / "last.ckpt")
    result = run_cli(["train", "--resume", run])
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "last.ckpt" in result.stderr and "refused" in result.stderr
    assert not marker.exists()


def test_truncated_and_foreign_files(tmp_path):
    path = save_checkpoint(_state(1.0), tmp_path / "last.ckpt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="not a deepshrink checkpoint"):
        load_checkpoint(path)
    path.write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    save_checkpoint({"rng": capture_rng()}, tmp_path / "rng.ckpt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng(load_checkpoint(tmp_path / "rng.ckpt")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]
