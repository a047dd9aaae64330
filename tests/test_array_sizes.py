"""Sizes checked before memory is spent: a .npy whose header lies and an .npz whose member inflates to
many GiB are refused in one line, in under a second, with memory far below the claimed size."""

from __future__ import annotations

import resource
import time
import zipfile
import zlib

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


# ---------------------------------------------------------------------- .mat, .wav and text files
def _mat_v5(path, dims, *, mx_class=6, data=b"", compress=False, nbytes=None):
    """A MATLAB v5 file with one numeric variable ``a``, written by hand from the format's
    element tags (little-endian): ``dims`` as its header says, ``data`` as the bytes it holds,
    ``nbytes`` as the matrix element's own size claim (default: what it holds)."""
    import struct

    def element(kind, payload):
        return struct.pack("<II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)

    body = element(6, struct.pack("<II", mx_class, 0))  # array flags: class (6: double)
    body += element(5, struct.pack(f"<{len(dims)}i", *dims)) + element(1, b"a")
    body += element(9, data)  # miDOUBLE real part
    matrix = struct.pack("<II", 14, len(body) if nbytes is None else nbytes) + body
    if compress:
        packed = zlib.compress(matrix)
        matrix = struct.pack("<II", 15, len(packed)) + packed
    header = b"MATLAB 5.0 MAT-file, written by a test".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    path.write_bytes(header + matrix)
    return path


def test_an_honest_mat_file_passes_and_reads_as_scipy_reads_it(tmp_path):
    import scipy.io

    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    for compress in (False, True):
        path = _mat_v5(tmp_path / f"a{compress}.mat", (3, 4), data=x.T.tobytes(), compress=compress)
        check_array_sizes(path)
        np.testing.assert_array_equal(scipy.io.loadmat(path)["a"], x)  # the hand-written file is a real one
    scipy.io.savemat(tmp_path / "v4.mat", {"a": x}, format="4")
    scipy.io.savemat(tmp_path / "s.mat", {"a": x, "s": {"b": x, "t": "text"}, "fs": 12000.0})
    for name in ("v4.mat", "s.mat"):
        check_array_sizes(tmp_path / name)


@pytest.mark.parametrize("compress", [False, True])
def test_a_mat_variable_claiming_more_than_it_holds_is_refused(tmp_path, compress):
    import scipy.io

    path = _mat_v5(tmp_path / "lie.mat", (100_000, 500_000), data=np.zeros(64).tobytes(), compress=compress)
    with pytest.raises(DatasetError, match=r"lie\.mat, variable 1: its header claims an array of shape \(100000, 500000\)"):
        check_array_sizes(path)
    v4 = tmp_path / "v4.mat"
    scipy.io.savemat(v4, {"a": np.zeros((1, 500))}, format="4")
    raw = bytearray(v4.read_bytes())
    raw[4:8] = np.int32(10**9).tobytes()  # rows
    v4.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"v4\.mat, variable 1: its header claims an array of shape \(1000000000, 500\)"):
        check_array_sizes(v4)


def test_a_compressed_mat_bomb_is_refused_from_its_first_bytes(tmp_path):
    n = 1 << 27  # 1 GiB of doubles, claimed honestly by the matrix; the file holds a few hundred bytes
    path = _mat_v5(tmp_path / "bomb.mat", (1, n), data=b"\0" * 64, compress=True, nbytes=8 * n + 56)
    assert path.stat().st_size < 1000
    started = time.perf_counter()
    with pytest.raises(DatasetError, match=r"bomb\.mat: its arrays take 1\.0 GiB in memory, more than the 256\.0 MiB"):
        check_array_sizes(path, budget=256 << 20)
    assert time.perf_counter() - started < 1.0


def test_a_cut_mat_file_is_refused_naming_what_is_missing(tmp_path):
    path = _mat_v5(tmp_path / "a.mat", (1, 500), data=np.zeros(500).tobytes())
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(DatasetError, match=r"a\.mat: not a readable MATLAB \.mat file \(truncated or corrupt\?\): "
                                           r"variable 1 claims 4\.0 KiB, the file holds 464 bytes after its header"):  # fmt: skip
        check_array_sizes(path)


def test_wav_frames_are_checked_against_the_file_and_memory(tmp_path):
    import scipy.io.wavfile

    path = tmp_path / "a.wav"
    scipy.io.wavfile.write(path, 8000, np.zeros(4000, dtype=np.int16))
    check_array_sizes(path)
    with pytest.raises(DatasetError, match=r"a\.wav: its arrays take 62\.5 KiB in memory"):  # 8000 bytes -> float64
        check_array_sizes(path, budget=10_000)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"data")
    raw[at + 4 : at + 8] = np.uint32(4_000_000_000).tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"a\.wav, data chunk: its header claims a data chunk \(3\.7 GiB at least\) "
                                           r"but the file holds 7\.8 KiB"):  # fmt: skip
        check_array_sizes(path)


def test_readers_check_mat_wav_and_csv_sizes_first(tmp_path, capsys, monkeypatch):
    from deepshrink.data import check_text_size
    from deepshrink.predict.recording import read_recording

    lie = _mat_v5(tmp_path / "lie.mat", (100_000, 500_000), data=np.zeros(64).tobytes())
    with pytest.raises(DatasetError, match="its header claims an array of shape"):
        read_recording(lie)
    csv = tmp_path / "signal.csv"
    csv.write_text("a,b\n" + "1.5,2.5\n" * 1000)
    with pytest.raises(DatasetError, match=r"signal\.csv: a 7\.8 KiB text file takes about 312\.7 KiB in memory to "
                                           r"read, more than the 100\.0 KiB"):  # fmt: skip
        check_text_size(csv, 40, budget=100 << 10)
    monkeypatch.setattr("deepshrink.data.formats._common.memory_budget", lambda: 100 << 10)
    with pytest.raises(DatasetError, match=r"signal\.csv: a 7\.8 KiB text file"):
        read_recording(csv)
    for label in ("healthy", "fault"):  # a folder of per-class CSV files, as `deepshrink data` reads it
        (tmp_path / "folder" / label).mkdir(parents=True)
        (tmp_path / "folder" / label / "r1.csv").write_text("0.5\n" * 20_000)
    assert main(["data", str(tmp_path / "folder")]) == 2
    err = capsys.readouterr().err
    assert "r1.csv: a 78.1 KiB text file takes about 625.0 KiB in memory" in err and len(err.strip().splitlines()) == 1
