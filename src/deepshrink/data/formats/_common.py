"""Small helpers shared by the file-format loaders (paths, text, error context)."""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

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
    """The text of ``path``, checked to fit in memory once parsed into numbers (lines of Python
    floats: about 40 bytes per byte of text); unreadable or non-UTF-8 files are a DatasetError naming it."""
    try:
        check_text_size(path, 40)
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


def _size(n: float) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{int(n)} bytes"


class _Claim(NamedTuple):
    """What one array's header says: ``needs`` bytes in the file (at least), ``memory`` once read."""

    where: str
    what: str
    needs: float
    memory: float
    stored: int


def _npy_header(stream: Any, where: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise DatasetError(f"{where}: not a readable .npy array (header: {err})") from None
    return tuple(int(d) for d in shape), np.dtype(dtype)


# MATLAB v5: element types, and the bytes per element of each numeric array class in memory
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_ITEMSIZE = {4: 2, 6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}  # char, double ... uint64
_MAT_V4_ITEMSIZE = {0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 1}  # the P digit of a v4 type code


def _array_claim(where: str, shape: tuple[int, ...], dtype: np.dtype, stored: int) -> _Claim:
    size = float(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    return _Claim(where, f"an array of shape {shape}", size, size, stored)


def _mat_v5_claim(head: bytes, order: str, where: str, stored: int) -> _Claim:
    """What the miMATRIX element starting ``head`` (tag, flags, dims) claims. Stored data take at
    least a byte a number (MATLAB may store doubles as small integers); a struct or cell, whose
    members hold the data, and a sparse matrix, whose dims say nothing of its storage, take
    about their stored bytes."""
    try:
        nbytes = int(np.frombuffer(head[4:8], dtype=f"{order}u4")[0])
        flags = int(np.frombuffer(head[16:20], dtype=f"{order}u4")[0])
        dims_type, dims_bytes = (int(v) for v in np.frombuffer(head[24:32], dtype=f"{order}u4"))
        dims = np.frombuffer(head[32 : 32 + dims_bytes], dtype=f"{order}i4")
    except ValueError:
        raise DatasetError(f"{where}: not a readable MATLAB .mat file (a variable's header is cut)") from None
    if dims_type != 5 or dims.size * 4 != dims_bytes or (dims < 0).any():  # miINT32 dimensions
        raise DatasetError(f"{where}: not a readable MATLAB .mat file (a variable's dimensions are damaged)")
    mx_class, shape = flags & 0xFF, tuple(int(d) for d in dims)
    if mx_class not in _MX_ITEMSIZE:
        return _Claim(where, "a struct or cell", nbytes, nbytes, stored)
    count = float(np.prod(shape, dtype=np.float64))
    itemsize = _MX_ITEMSIZE[mx_class] * (2 if flags & 0x800 else 1)  # 0x800: complex
    return _Claim(where, f"an array of shape {shape}", count, count * itemsize, stored)


def _mat_claims(path: Path) -> list[_Claim]:
    """Every top-level variable of a MATLAB v4 or v5 file, from the element tags alone (a
    compressed one: from the first bytes it inflates to); nothing for another kind of file."""
    size, claims = path.stat().st_size, []
    with open(path, "rb") as f:
        header = f.read(128)
        if header[:10] == b"MATLAB 5.0" and len(header) == 128:
            order = "<" if header[126:128] == b"IM" else ">"
            offset = 128
            while offset + 8 <= size:
                f.seek(offset)
                kind, nbytes = (int(v) for v in np.frombuffer(f.read(8), dtype=f"{order}u4"))
                where = f"{path}, variable {len(claims) + 1}"
                if offset + 8 + nbytes > size:  # the tag says more than the file holds
                    raise DatasetError(f"{path}: not a readable MATLAB .mat file (truncated or corrupt?): variable "
                                       f"{len(claims) + 1} claims {_size(nbytes)}, the file holds {_size(size - offset - 8)} "
                                       "after its header")  # fmt: skip
                if kind == _MI_COMPRESSED:
                    inflate, head = zlib.decompressobj(), b""
                    while len(head) < 4096 and f.tell() < offset + 8 + nbytes and not inflate.eof:
                        chunk = f.read(min(1 << 16, offset + 8 + nbytes - f.tell()))
                        try:
                            head += inflate.decompress(chunk, 4096 - len(head))
                        except zlib.error as err:
                            raise DatasetError(f"{where}: not a readable MATLAB .mat file ({err})") from None
                    if len(head) >= 8 and int(np.frombuffer(head[:4], dtype=f"{order}u4")[0]) == _MI_MATRIX:
                        claims.append(_mat_v5_claim(head, order, where, int(np.frombuffer(head[4:8], f"{order}u4")[0])))
                elif kind == _MI_MATRIX:
                    f.seek(offset)
                    claims.append(_mat_v5_claim(f.read(min(nbytes + 8, 4096)), order, where, nbytes))
                offset += 8 + nbytes + (-nbytes % 8 if kind != _MI_COMPRESSED else 0)
            return claims
        offset = 0  # v4: a 20-byte header per variable, its name, then rows x columns numbers
        while offset + 20 <= size:
            f.seek(offset)
            raw = f.read(20)
            order = "<" if 0 <= np.frombuffer(raw[:4], dtype="<i4")[0] < 5000 else ">"
            mopt, rows, cols, imag, namelen = (int(v) for v in np.frombuffer(raw, dtype=f"{order}i4"))
            precision = (mopt % 100) // 10
            if not 0 <= mopt < 5000 or precision not in _MAT_V4_ITEMSIZE or min(rows, cols, namelen) < 0:
                return claims  # not a v4 file after all: its reader says what it is
            itemsize = _MAT_V4_ITEMSIZE[precision] * (2 if imag else 1)
            where = f"{path}, variable {len(claims) + 1}"
            claims.append(_array_claim(where, (rows, cols), np.dtype(f"V{itemsize}"), size - offset - 20 - namelen))
            offset += 20 + namelen + rows * cols * itemsize
    return claims


def _wav_claims(path: Path) -> list[_Claim]:
    """The ``data`` chunk of a RIFF/WAVE file: its samples become float64 (8-bit PCM: 8 x)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(12)
        while len(tag := f.read(8)) == 8:
            chunk, nbytes = tag[:4], int(np.frombuffer(tag[4:], dtype="<u4")[0])
            if chunk == b"data":
                return [_Claim(f"{path}, data chunk", "a data chunk", nbytes, 8 * nbytes, size - f.tell())]
            f.seek(nbytes + nbytes % 2, os.SEEK_CUR)
    return []


def check_array_sizes(path: Path, budget: int | None = None) -> None:
    """Refuse a binary array file whose arrays claim more bytes than the file holds (a lying
    header) or than memory allows (a member that inflates to many GiB), before anything is
    allocated: ``.npy``, ``.npz`` members, MATLAB v4/v5 ``.mat`` variables and ``.wav`` frames,
    told apart by their first bytes. Anything else passes: its reader says what it is.

    Raises:
        DatasetError: naming the file (and member or variable) and the claimed size.
    """
    budget = memory_budget() if budget is None else budget
    claims: list[_Claim] = []
    with open(path, "rb") as f:
        magic = f.read(12)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if not info.filename.endswith(".npy"):
                        continue
                    where = f"{path}, member {info.filename[:-4]!r}"
                    with archive.open(info) as member:
                        claims.append(_array_claim(where, *_npy_header(member, where), info.file_size))
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DatasetError(f"{path}: not a readable .npz archive (truncated or corrupt?) ({err})") from None
    elif magic[:6] == b"\x93NUMPY":
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f, str(path))
            claims.append(_array_claim(str(path), shape, dtype, path.stat().st_size - f.tell()))
    elif magic[:4] == b"RIFF" and magic[8:12] == b"WAVE":
        claims = _wav_claims(path)
    elif path.suffix.lower() == ".mat" or magic[:10] == b"MATLAB 5.0":
        claims = _mat_claims(path)
    for claim in claims:
        if claim.needs > claim.stored + 128:  # the header says more than the file (or member) holds
            raise DatasetError(f"{claim.where}: its header claims {claim.what} ({_size(claim.needs)} at least) but the "
                               f"file holds {_size(claim.stored)}; it is damaged or not what it says")  # fmt: skip
    total = sum(claim.memory for claim in claims)
    if total > budget:
        raise DatasetError(f"{path}: its arrays take {_size(total)} in memory, more than the {_size(budget)} this "
                           "process may use now; split the file or free memory")  # fmt: skip


def check_text_size(path: Path, bytes_per_byte: int, budget: int | None = None) -> None:
    """Refuse a text file whose numbers would take more memory than allowed once parsed
    (``bytes_per_byte``: the reader's memory per byte of text, e.g. Python floats in lists).

    Raises:
        DatasetError: naming the file, its size and what parsing it would take.
    """
    budget = memory_budget() if budget is None else budget
    needed = path.stat().st_size * bytes_per_byte
    if needed > budget:
        raise DatasetError(f"{path}: a {_size(path.stat().st_size)} text file takes about {_size(needed)} in memory "
                           f"to read, more than the {_size(budget)} this process may use now; split it or save it "
                           "as .npy")  # fmt: skip
