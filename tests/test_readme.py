"""The README's Python snippets run, in order, in one namespace, as a reader would paste them.

A snippet that needs something a reader brings (their CWRU copy, the run of the 60-second
check, torchvision) is marked in the README with ``<!-- readme-test: needs ... -->`` and is
skipped here with that reason; a few placeholders become small stand-ins (``SCALED``), so the
test runs the same calls in seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<needs>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)

# placeholder -> stand-in (the call stays the same; only the size or a path changes)
SCALED = {
    "simulate_drivetrain(seed=0)": "simulate_drivetrain(seed=0, recordings_per_condition=2, windows_per_recording=2)",
    '"path/to/deepshrink"': repr(str(REPO)),
    "epochs=30": "epochs=2",
}
ALLOWED_NEEDS = {"needs your copy of the CWRU files", "needs your copy of the Paderborn files",
                 "needs the run and the recording of the 60-second check",
                 "needs torchvision and timm that import beside your torch"}  # fmt: skip


def _blocks() -> list[tuple[str | None, str]]:
    return [(m["needs"], m["code"]) for m in BLOCK.finditer(README.read_text(encoding="utf-8"))]


def test_the_readme_marks_only_snippets_that_need_what_a_reader_brings():
    blocks = _blocks()
    needs = [n for n, _ in blocks if n]
    assert set(needs) <= ALLOWED_NEEDS, needs
    assert len(blocks) - len(needs) >= 7  # the rest runs below


def _namespace(tmp_path: Path) -> dict:
    """What the snippets take as given: a reader's tensors, arrays and a signals file."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 1, 256)).astype(np.float32)
    y = np.arange(60) % 3
    np.savez(tmp_path / "signals.npz", x=x, y=y)
    return {
        "features": torch.randn(2, 64, 100),
        "x": torch.randn(2, 1, 2048),
        "X_train": rng.standard_normal((32, 1, 2048)).astype(np.float32),
        "y_train": np.arange(32) % 4,
    }


@pytest.mark.slow
def test_readme_python_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    namespace = _namespace(tmp_path)
    ran = 0
    for needs, code in _blocks():
        if needs:
            continue
        for placeholder, stand_in in SCALED.items():
            code = code.replace(placeholder, stand_in)
        try:
            exec(compile(code, f"README.md snippet {ran + 1}", "exec"), namespace)  # noqa: S102 - our own README
        except Exception as err:  # say which snippet, with its first line
            raise AssertionError(f"README snippet {ran + 1} ({code.splitlines()[0]!r}) failed: {err!r}") from err
        ran += 1
    assert ran >= 7
    assert os.path.isfile(tmp_path / "my-model" / "model.safetensors")  # the saving snippet wrote its folder
    assert namespace["clf"].predict(namespace["X_train"]).shape == (32,)  # the estimator snippet fitted
