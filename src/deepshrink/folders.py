"""One writer per folder: a study, a shard of it or a run folder is held by one process at a time.

Two ``deepshrink study`` processes on one study folder, or a ``train --resume`` beside the
training it resumes, would run the same work twice and record it twice (or delete each other's
files with ``--force``). :func:`owned` makes the second one refuse, naming the first.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from deepshrink.errors import ConfigError

__all__ = ["FolderInUse", "owned"]


class FolderInUse(ConfigError):
    """Another process writes this folder (a study, a shard of it or a run)."""


@contextlib.contextmanager
def owned(folder: str | os.PathLike, role: str) -> Iterator[None]:
    """Hold ``folder`` as its one writer of kind ``role`` (``study``, ``shard-0-of-2``, ``run``) for the block.

    A second process asking for the same folder and role gets :class:`FolderInUse` at once,
    naming the holder (pid, host, since when). The lock is the operating system's (``flock``), so
    the lock of a process that died is free again. It lives beside the folder (hidden
    ``.<folder>.<role>.lock`` and ``.owner.json`` files in its parent, removed at the end), so the
    folder itself holds only what its writer puts there and may be created or replaced under it.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    base = folder.parent / f".{folder.name}.{role}"
    lock = FileLock(f"{base}.lock", timeout=0)
    note = Path(f"{base}.owner.json")
    try:
        lock.acquire()
    except Timeout:
        try:
            held = json.loads(note.read_text(encoding="utf-8"))
            holder = f"process {held['pid']} on {held['host']} since {held['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            holder = "another process"
        raise FolderInUse(f"{folder}: in use by {holder} ({role}); wait for it to finish, stop it, or use "
                          "another folder") from None  # fmt: skip
    try:
        with contextlib.suppress(OSError):  # the note is for the error message only
            note.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                        "since": time.strftime("%Y-%m-%d %H:%M:%S")}), encoding="utf-8")  # fmt: skip
        yield
    finally:
        with contextlib.suppress(OSError):
            note.unlink()
        with contextlib.suppress(OSError):  # no lock files left beside the folder (removed while still held)
            Path(lock.lock_file).unlink()
        lock.release()
