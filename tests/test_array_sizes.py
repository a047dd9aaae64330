"""Sizes checked before memory is spent: a .npy whose header lies and an .npz whose member inflates to
many GiB are refused in one line, in under a second, with memory far below the claimed size."""

from __future__ import annotations

import resource
import time
import zipfile

import numpy as np
import pytest

from deepshrink.cli import main
from deepshrink.data import check_array_sizes
from deepshrink.errors import DatasetError


def _lying_npy(path, shape=(10**12,)):
    """A real .npy header claiming ``shape`` float32, followed by 80 bytes of data."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        f.write(b"\0" * 80)
    return path


def test_a_lying_npy_header_is_refused_before_allocation(tmp_path):
    path = _lying_npy(tmp_path / "x.npy")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(DatasetError, match=r"x\.npy: its header claims an array of shape \(1000000000000,\)") as err:
        check_array_sizes(path)
    assert time.perf_counter() - started < 1.0 and "\n" not in str(err.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: far below 3.6 TiB


def test_a_huge_npz_member_is_refused_against_the_memory_budget(tmp_path):
    path = tmp_path / "bomb.npz"
    n = (1 << 30) // 8  # a real 1 GiB member of zeros: its header and zip entry both say so
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
            chunk = b"\0" * (1 << 24)
            for _ in range(64):
                member.write(chunk)
    assert path.stat().st_size < 20 << 20  # deflated to a few MiB
    started = time.perf_counter()
    with pytest.raises(DatasetError, match=r"bomb\.npz: its arrays take 1\.0 GiB in memory, more than the 256\.0 MiB"):
        check_array_sizes(path, budget=256 << 20)
    assert time.perf_counter() - started < 1.0


def test_loaders_and_the_cli_check_first(tmp_path, capsys):
    bad = tmp_path / "signals.npz"
    with zipfile.ZipFile(bad, "w") as z:
        with z.open("x.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 1, 64)})
            member.write(b"\0" * 256)
        with z.open("y.npy", "w") as member:
            np.save(member, np.zeros(4, dtype=np.int64))
    assert main(["data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "member 'x': its header claims an array of shape (1000000000, 1, 64)" in err
    assert len(err.strip().splitlines()) == 1


def test_honest_files_pass(tmp_path):
    np.save(tmp_path / "ok.npy", np.zeros((4, 1, 16), dtype=np.float32))
    np.savez(tmp_path / "ok.npz", x=np.zeros((4, 1, 16), dtype=np.float32), y=np.arange(4))
    np.savez_compressed(tmp_path / "okc.npz", x=np.zeros((4, 1, 16), dtype=np.float32), y=np.arange(4))
    for name in ("ok.npy", "ok.npz", "okc.npz"):
        check_array_sizes(tmp_path / name)
