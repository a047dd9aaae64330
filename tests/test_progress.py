"""A study's progress: a live bar per worker on a terminal (a pseudo-terminal here), one line per
run and per cohort without one; the meter itself against a fake stream."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest
import yaml

from deepshrink.study.progress import StudyMeter

TINY = {
    "name": "tiny", "data": "simulator",
    "data_args": {"recordings_per_condition": 2, "windows_per_recording": 2, "window": 256, "speeds_hz": [30],
                  "loads": [0.5], "workers": 1},
    "models": ["resnet_paper6", "drsn_cw_paper6"], "noises": ["gaussian"], "snrs": [-5], "seeds": [0, 1],
    "train": {"epochs": 3, "batch_size": 8, "test_fraction": 0.5},
}  # fmt: skip
CLI = [sys.executable, "-c", "import sys; from deepshrink.cli import main; sys.exit(main())"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}


def _study(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _run_in_terminal(args: list[str], timeout: float = 240.0) -> str:
    """Run a command with stdout and stderr on a pseudo-terminal; return what it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=ENV, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.wait(timeout=30)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_study_on_a_terminal_shows_a_live_bar_before_the_first_run_finishes(tmp_path):
    out = _run_in_terminal(CLI + ["study", str(_study(tmp_path)), "-o", str(tmp_path / "s"), "--threads", "1"])
    bars = [m.start() for m in re.finditer(r"\d+/6 epochs \[", out)]  # 2 cohorts of 3 epochs
    first_run = out.index("test acc")
    assert bars and bars[0] < first_run, out  # the bar is up while the first cohort trains
    assert re.search(r"0/6 epochs", out) and re.search(r"6/6 epochs", out), out
    assert "resnet_paper6 x 2" in out and "drsn_cw_paper6 x 2" in out  # the bar names its cohort
    assert len(re.findall(r"\[\d/4\] \S+: test acc", out)) == 4 and "started" not in out  # run lines, no cohort lines


@pytest.mark.slow
def test_study_without_a_terminal_prints_one_line_per_run_and_per_cohort(tmp_path):
    proc = subprocess.run(CLI + ["study", str(_study(tmp_path)), "-o", str(tmp_path / "s"), "--threads", "1"],
                          capture_output=True, text=True, env=ENV, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(bool(re.match(r"\[\d/4\] \S+: test acc", line)) for line in lines) == 4
    assert [line for line in lines if line.endswith(": started")] == [
        "cohort 1/2: resnet_paper6 x 2: started", "cohort 2/2: drsn_cw_paper6 x 2: started"]  # fmt: skip
    assert "epochs [" not in proc.stdout and "\r" not in proc.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_meter_counts_epochs_across_cohorts_and_writes_lines_above_the_bar():
    stream = _Terminal()
    meter = StudyMeter(10, tag="[shard 1/2] ", position=1, stream=stream)
    assert meter.live and meter.bar.total == 10
    meter.start("cohort 1/2: drsn_cw_paper6 x 4")
    for done in (1, 2, 3):
        meter.epoch(done)
    meter.say("[shard 1/2] [1/4] run: test acc 0.5")
    meter.finish(5)  # early stopping at 3 of 5: the cohort's epochs count in full
    meter.start("cohort 2/2: resnet_paper6 x 4")
    meter.epoch(4)  # a resumed cohort reports its absolute epoch
    assert meter.bar.n == 9
    meter.finish(5)
    assert meter.bar.n == 10
    meter.close()
    text = stream.getvalue()
    assert "[shard 1/2] [1/4] run: test acc 0.5\n" in text and "10/10 epochs" in text
    assert "[shard 1/2] cohort 2/2: resnet_paper6 x 4" in text


def test_meter_without_a_terminal_says_each_cohort_once():
    lines: list[str] = []
    meter = StudyMeter(6, tag="[shard 0/2] ", say=lines.append, stream=io.StringIO())
    assert not meter.live and meter.bar is None
    meter.start("cohort 1/1: wdcnn x 3")
    meter.epoch(1)
    meter.say("a run finished")
    meter.close()
    assert lines == ["[shard 0/2] cohort 1/1: wdcnn x 3: started", "a run finished"]
