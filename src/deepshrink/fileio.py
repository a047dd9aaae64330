"""File I/O helpers for every layer: atomic writes and a lock between processes.

This module sits below everything (it needs the standard library and ``filelock`` only), so
models, data, training, the study and the CLI all write files the same way:

* :func:`atomic_write` (bytes) and :func:`atomic_path` (for writers that want a file name) go
  through a temporary file in the target's folder, fsync it, rename it over the target and
  fsync the folder. A crash (even SIGKILL) at any moment leaves the old file or the new one,
  never a torn one; on an error the temporary file is removed and the ``OSError`` names the
  user's path, not the hidden temporary one.
* :func:`locked` holds an exclusive lock on a hidden ``.<name>.lock`` file next to a path, for
  files that several processes append to or rewrite (e.g. a study's ``results.csv``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

__all__ = ["atomic_path", "atomic_write", "csv_cell", "locked", "named_os_error"]


def named_os_error(err: OSError, path: str | os.PathLike) -> OSError:
    """``err`` re-made to name ``path`` (the user's file), not the hidden temporary file."""
    new = OSError(err.errno, err.strerror or str(err), str(path)) if err.errno is not None else OSError(str(err))
    new.filename = str(path)
    return new


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: Windows cannot open folders)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[tuple[int, str]]:
    """A new temporary file next to ``path`` (descriptor, name): renamed over ``path`` when the
    block ends, removed if it raises."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise named_os_error(err, path) from None
    try:
        yield fd, tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except OSError as err:  # e.g. a full disk: the previous file stays as it was
        Path(tmp).unlink(missing_ok=True)
        raise named_os_error(err, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync, rename.

    On any failure (a full disk, no permission) the temporary file is removed, ``path`` keeps
    its previous content, and the ``OSError`` raised names ``path`` itself.
    """
    with _replacing(Path(path)) as (fd, _):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write instead of ``path``, for writers that take a file name.

    When the block ends the file is fsync'ed and renamed over ``path``; if the block raises,
    it is removed and ``path`` is untouched, as with :func:`atomic_write`.
    """
    with _replacing(Path(path)) as (fd, tmp):
        os.close(fd)
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDWR)  # read-write: Windows refuses to fsync a read-only descriptor
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def locked(path: str | os.PathLike, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the hidden file ``.<name>.lock`` next to ``path`` for the block.

    It excludes other processes and other threads alike (each call takes a lock of its own, so
    a nested call on the same path waits forever, as with ``flock``). ``filelock`` makes it
    work on Windows too.

    Args:
        path: the file to guard; the lock file is created next to it.
        timeout: seconds to wait for the lock; None waits as long as it takes.

    Raises:
        TimeoutError: (``filelock.Timeout``) the lock was not free within ``timeout``.
    """
    path = Path(path)
    with FileLock(str(path.parent / f".{path.name}.lock"), timeout=-1 if timeout is None else timeout):
        yield


def csv_cell(value: object) -> str:
    """A value as a CSV cell: None and NaN empty, floats to 6 significant digits."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return str(value)
