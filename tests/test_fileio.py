"""deepshrink.fileio: atomic writes that never tear or lose a file, and a lock between processes."""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import deepshrink
from deepshrink import fileio, serialization
from deepshrink.fileio import atomic_path, atomic_write, locked

SRC = Path(deepshrink.__file__).parent


def _injected(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device (injected)")


class _HalfWriter(io.RawIOBase):
    """Stands in for the temporary file: half of the data reaches it, then the disk is full."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(bytes(data[: len(data) // 2]))
        _injected()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_creates_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "a.bin"
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and _only(tmp_path) == ["a.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failure_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, failing):
    target = tmp_path / "kept.csv"
    target.write_bytes(b"previous")
    if failing == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _HalfWriter(real_fdopen(fd, *a, **k)))
    else:
        monkeypatch.setattr(os, failing, _injected)
    with pytest.raises(OSError, match="injected") as err:
        atomic_write(target, b"new content that never lands")
    monkeypatch.undo()
    assert target.read_bytes() == b"previous"
    assert _only(tmp_path) == ["kept.csv"]
    assert err.value.filename == str(target) and err.value.errno == errno.ENOSPC  # the user's path


def test_an_interrupt_midway_removes_the_temporary_and_is_not_renamed(tmp_path, monkeypatch):
    target = tmp_path / "kept.csv"
    target.write_bytes(b"previous")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"previous" and _only(tmp_path) == ["kept.csv"]


def test_a_missing_folder_is_an_error_naming_the_path(tmp_path):
    target = tmp_path / "no" / "such" / "file.txt"
    with pytest.raises(FileNotFoundError) as err:
        atomic_write(target, b"x")
    assert err.value.filename == str(target)


def test_atomic_write_syncs_the_file_and_then_its_folder(tmp_path, monkeypatch):
    real_fsync, synced = os.fsync, []

    def recording(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    atomic_write(tmp_path / "a.bin", b"x")
    assert synced == ["file", "dir"]  # the rename itself survives a power cut


def test_atomic_path_gives_writers_that_want_a_name_the_same_guarantees(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and tmp.name.startswith(".model.onnx.")
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"previous"  # nothing replaced before the block ends
    assert target.read_bytes() == b"new" and _only(tmp_path) == ["model.onnx"]

    with pytest.raises(ValueError, match="exporter failed"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("exporter failed")
    assert target.read_bytes() == b"new" and _only(tmp_path) == ["model.onnx"]
    with pytest.raises(OSError) as err:
        with atomic_path(target) as tmp:
            os.rmdir(tmp)  # not a folder: ENOTDIR, raised on the hidden name
    assert err.value.filename == str(target) and _only(tmp_path) == ["model.onnx"]


def test_one_implementation_of_the_atomic_write():
    defined = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "def atomic_write(" in p.read_text(encoding="utf-8"))
    assert defined == ["fileio.py"] and not hasattr(serialization, "atomic_write")  # one place, no re-export shim
    writers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "mkstemp" in p.read_text(encoding="utf-8"))
    assert writers == ["fileio.py"]


def test_locked_holds_a_hidden_lock_file_and_excludes_another_thread(tmp_path):
    target = tmp_path / "results.csv"
    outcome = []

    def contender():
        try:
            with locked(target, timeout=0.2):
                outcome.append("acquired")
        except TimeoutError:
            outcome.append("timed out")

    with locked(target):
        assert (tmp_path / ".results.csv.lock").exists()
        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()
    assert outcome == ["timed out"]
    thread = threading.Thread(target=contender)
    thread.start()
    thread.join()
    assert outcome == ["timed out", "acquired"]  # free again once the block has ended


def test_locked_serialises_read_modify_write(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")

    def bump():
        for _ in range(5):
            with locked(counter):
                value = int(counter.read_text())
                time.sleep(0.002)  # without the lock, another thread reads the same value here
                counter.write_text(str(value + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.read_text() == "20"


def test_locked_excludes_another_process_which_needs_nothing_but_filelock(tmp_path):
    # the other process loads fileio.py on its own, without the deepshrink package: the module
    # sits below everything, so it must not pull in torch or any other deepshrink module
    target = tmp_path / "results.csv"
    script = textwrap.dedent(
        """
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("fileio", sys.argv[1])
        fileio = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fileio)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "numpy", "deepshrink"))
        try:
            with fileio.locked(sys.argv[2], timeout=0.3):
                print("acquired", loaded)
        except TimeoutError:
            print("timed out", loaded)
        """
    )
    command = [sys.executable, "-c", script, str(SRC / "fileio.py"), str(target)]
    with locked(target):
        held = subprocess.run(command, capture_output=True, text=True, timeout=60)
    free = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (held.stdout.strip(), held.stderr) == ("timed out []", "")
    assert (free.stdout.strip(), free.stderr) == ("acquired []", "")
