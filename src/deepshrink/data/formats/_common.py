"""Small helpers shared by the file-format loaders (paths, text, error context)."""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deepshrink.errors import DatasetError

PathLike = str | os.PathLike


def existing_path(path: PathLike, what: str, *, directory: bool | None = None) -> Path:
    """``path`` as a :class:`Path`, checked to exist (and to be a folder / file if asked).

    Raises:
        DatasetError: It does not exist or is of the wrong kind.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: {what} does not exist")
    if directory is True and not p.is_dir():
        raise DatasetError(f"{p}: {what} must be a folder, but it is a file")
    if directory is False and not p.is_file():
        raise DatasetError(f"{p}: {what} must be a file, but it is a folder")
    return p


def read_text(path: Path) -> str:
    """The text of ``path``; unreadable or non-UTF-8 files are a DatasetError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(
            f"{path}: cannot be read as a text file ({type(err).__name__}: {err})"
        ) from None


@contextlib.contextmanager
def about_file(path: Path | str) -> Iterator[None]:
    """Prefix DatasetErrors raised inside (e.g. by SignalDataset checks) with the file name."""
    try:
        yield
    except DatasetError as err:
        message = str(err)
        if str(path) in message:
            raise
        raise DatasetError(f"{path}: {message}") from None


# ---------------------------------------------------------------------- sizes before memory
def memory_budget() -> int:
    """Bytes one array read may take: half the memory available now (all of it unknown: 64 GiB)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return 64 << 30


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def _npy_header(stream: Any, where: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise DatasetError(f"{where}: not a readable .npy array (header: {err})") from None
    return tuple(int(d) for d in shape), np.dtype(dtype)


def check_array_sizes(path: Path, budget: int | None = None) -> None:
    """Refuse a ``.npy`` or ``.npz`` file whose arrays claim more bytes than the file holds (a lying
    header) or than memory allows (a member that inflates to many GiB), before anything is allocated.

    Raises:
        DatasetError: naming the file (and member) and the claimed size.
    """
    budget = memory_budget() if budget is None else budget
    claims: list[tuple[str, tuple[int, ...], np.dtype, int]] = []  # (where, shape, dtype, bytes stored)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if not info.filename.endswith(".npy"):
                        continue
                    where = f"{path}, member {info.filename[:-4]!r}"
                    with archive.open(info) as member:
                        shape, dtype = _npy_header(member, where)
                    claims.append((where, shape, dtype, info.file_size))
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DatasetError(f"{path}: not a readable .npz archive (truncated or corrupt?) ({err})") from None
    else:
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                return  # not a .npy file: its reader says what it is
            f.seek(0)
            shape, dtype = _npy_header(f, str(path))
            stored = path.stat().st_size - f.tell()
        claims.append((str(path), shape, dtype, stored))
    total = 0
    for where, shape, dtype, stored in claims:
        claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize if dtype.itemsize else 0
        if claimed > stored + 128:  # the header says more than the file (or member) holds
            raise DatasetError(f"{where}: its header claims an array of shape {shape} ({_gib(claimed)}) but the "
                               f"file holds {_gib(stored)}; it is damaged or not what it says")  # fmt: skip
        total += claimed
    if total > budget:
        raise DatasetError(f"{path}: its arrays take {_gib(total)} in memory, more than the {_gib(budget)} this "
                           "process may use now; split the file or free memory")  # fmt: skip
