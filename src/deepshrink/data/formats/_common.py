"""Small helpers shared by the file-format loaders (paths, text, error context)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

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
