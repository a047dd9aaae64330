"""Shared helpers of the training / CLI / checkpoint / DDP tests (no tests here).

A tiny learnable dataset (sines of class-dependent frequency in noise, 16 recordings of 12
windows), saved as ``.npz`` when a test needs a data spec for the CLI, and a way to run the
``deepshrink`` console script in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from deepshrink.data import SignalDataset

SRC = str(Path(__file__).resolve().parents[1] / "src")


def synthetic_dataset(n_rec: int = 16, per: int = 12, length: int = 128, k: int = 4, seed: int = 0,
                      channels: int = 1) -> SignalDataset:  # fmt: skip
    """``k`` classes of sines (frequency 3 + 5·class cycles per window) plus noise, ``n_rec`` recordings."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / length
    xs, ys, rs = [], [], []
    for r in range(n_rec):
        c = r % k
        for _ in range(per):
            phase = rng.uniform(0, 2 * np.pi, size=(channels, 1))
            xs.append(np.sin(2 * np.pi * (3 + 5 * c) * t + phase) + 0.3 * rng.standard_normal((channels, length)))
            ys.append(c)
            rs.append(f"rec{r:02d}")
    return SignalDataset(np.stack(xs).astype(np.float32), np.asarray(ys), label_names=[f"class{i}" for i in range(k)],
                         recording_ids=np.asarray(rs), sampling_rate=1000.0, name="synthetic")  # fmt: skip


def write_npz(path: Path, **kwargs) -> Path:
    from deepshrink.data import save_npz

    save_npz(synthetic_dataset(**kwargs), path)
    return path


def cli_command() -> list[str]:
    """The ``deepshrink`` console script next to this Python, else ``python -c`` on the CLI's main."""
    script = shutil.which("deepshrink", path=os.path.dirname(sys.executable))
    if script:
        return [sys.executable, script]
    return [sys.executable, "-c", "import sys; from deepshrink.cli import main; sys.exit(main())"]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["MKL_NUM_THREADS"] = "1"
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def run_cli(args: list[str], cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command() + [str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=subprocess_env(), timeout=timeout)  # fmt: skip


def start_cli(args: list[str], cwd: Path | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(cli_command() + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=subprocess_env(), **kwargs)  # fmt: skip


def fast_train_args(data: Path, output: Path, epochs: int = 3, batch_size: int = 32) -> list[str]:
    """CLI arguments of a small, quick, deterministic CPU run on ``data``."""
    return ["train", "--model", "drsn_cw_paper", "--data", data, "--noise", "none", "--epochs", epochs,
            "--batch-size", batch_size, "--device", "cpu", "--threads", "1", "--progress", "log",
            "--test-fraction", "0.25", "--val-fraction", "0.2", "--output", output]  # fmt: skip
