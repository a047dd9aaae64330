"""One writer per folder, with real processes: a second study, shard, training or resume on a folder
in use refuses in one line naming the holder; the first finishes with each run recorded once; the
workers of --jobs end when their parent is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from deepshrink.study.results import read_results
from deepshrink.folders import FolderInUse, owned

CLI = [sys.executable, "-c", "import sys; from deepshrink.cli import main; sys.exit(main())"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY = {
    "name": "tiny", "data": "simulator",
    "data_args": {"recordings_per_condition": 2, "windows_per_recording": 8, "window": 256, "speeds_hz": [30],
                  "loads": [0.5], "workers": 1},
    "models": ["resnet_paper6", "drsn_cw_paper6"], "noises": ["gaussian"], "snrs": [0], "seeds": [0, 1],
    "train": {"epochs": 30, "batch_size": 8, "test_fraction": 0.5},
}  # fmt: skip
TRAIN = ["train", "--model", "drsn_cw_paper6", "--data-arg", "recordings_per_condition=2", "--data-arg",
         "windows_per_recording=8", "--data-arg", "window=256", "--data-arg", "speeds_hz=[30]", "--data-arg",
         "loads=[0.5]", "--batch-size", "8", "--threads", "1", "--noise", "none"]  # fmt: skip


def _note(folder: Path, role: str) -> Path:
    return folder.parent / f".{folder.name}.{role}.owner.json"


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass  # being written
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _second(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, capture_output=True, text=True, env=ENV, timeout=240)


def test_owned_refuses_a_second_holder_and_frees_on_exit(tmp_path):
    folder = tmp_path / "study"
    with owned(folder, "study"):
        note = json.loads(_note(folder, "study").read_text())
        assert note["pid"] == os.getpid()
        with pytest.raises(FolderInUse, match=rf"study: in use by process {os.getpid()} on .* since .*\(study\)"):
            with owned(folder, "study"):
                pass
        with owned(folder, "shard-0-of-2"):  # another role: another lock
            pass
    with owned(folder, "study"):  # free again
        pass
    assert not folder.exists()  # the lock lives beside the folder, which it never creates


@pytest.mark.slow
def test_a_second_study_on_a_folder_in_use_refuses_and_the_first_records_each_run_once(tmp_path):
    study = tmp_path / "tiny.yaml"
    study.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "s"
    first = subprocess.Popen(CLI + ["study", str(study), "-o", str(out), "--threads", "1"], env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    holder = _wait_for(_note(out, "study"), first)
    second = _second(["benchmark", str(study), "-o", str(out), "--threads", "1", "--force"])
    assert second.returncode == 2
    assert second.stderr.strip() == (f"error: {out}: in use by process {holder['pid']} on {holder['host']} since "
                                     f"{holder['since']} (study); wait for it to finish, stop it, or use another folder")
    jobs = _second(["benchmark", str(study), "-o", str(out), "--jobs", "2"])  # a --jobs parent holds the study too
    assert jobs.returncode == 2 and "in use by process" in jobs.stderr
    assert first.wait(timeout=600) == 0, first.communicate()
    ids = [r["run_id"] for r in read_results(out / "results.csv")]
    assert len(ids) == 4 == len(set(ids))  # each run once; the --force of the second deleted nothing


@pytest.mark.slow
def test_a_second_training_or_resume_into_a_run_in_use_refuses(tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen(CLI + TRAIN + ["--epochs", "300", "--output", str(run)], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        holder = _wait_for(_note(run, "run"), first)
        for args in (TRAIN + ["--epochs", "2", "--output", str(run), "--force"], ["train", "--resume", str(run)]):
            second = _second(args)
            assert second.returncode == 2, second.stderr
            assert f"in use by process {holder['pid']}" in second.stderr and len(second.stderr.splitlines()) == 1
    finally:
        first.kill()
        first.wait()
    with owned(run, "run"):  # the killed process's lock died with it
        pass


@pytest.mark.slow
def test_workers_end_when_the_parent_is_killed(tmp_path):
    study = tmp_path / "tiny.yaml"
    study.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "epochs": 400}}))
    out = tmp_path / "s"
    parent = subprocess.Popen(CLI + ["study", str(study), "-o", str(out), "--jobs", "2", "--oversubscribe"],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    workers = [_wait_for(_note(out, f"shard-{i}-of-2"), parent)["pid"] for i in range(2)]
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
