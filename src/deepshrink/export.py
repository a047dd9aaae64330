"""Export a model for inference without deepshrink: ONNX (any runtime) or TorchScript (libtorch).

:func:`export_model` runs the model in eval mode under ``torch.no_grad()``, where
:func:`~deepshrink.functional.soft_threshold` and the gates are plain tensor operators (the
custom autograd functions are only used for training), and writes

* ``onnx``: through ``torch.onnx.export(dynamo=True)`` (needs ``onnx`` and ``onnxscript``:
  ``pip install "deepshrink[onnx]"``); an ``opset`` below 18, which that exporter cannot write,
  goes through the TorchScript-based exporter (``dynamo=False``) instead, and the file is checked
  to hold the opset asked for. The batch dimension is dynamic (named ``batch``), the
  other dims are fixed by the example input; the input is named ``input`` and the output
  ``output``. The model's ``config.json`` (model arguments, label names, input spec) is kept
  in the ONNX metadata under ``deepshrink.config``.
* ``torchscript``: ``torch.jit.trace`` (TorchScript is deprecated upstream but still what
  libtorch C++ loads); any batch size works. ``config.json`` is kept as an extra file of the
  archive (``torch.jit.load(path, _extra_files={"config.json": ""})``).

After writing, the file is loaded again (onnxruntime for ONNX, if installed) and compared with
PyTorch on a batch of another size than the example's.

The exported graph is the network only: if the model was trained on standardised inputs
(``input_spec["normalize"] == "per_sample"``), standardise each observation and channel
before feeding it, as for the PyTorch model.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deepshrink._version import __version__
from deepshrink.errors import DeepshrinkError
from deepshrink.fileio import atomic_path, atomic_write
from deepshrink.checks import check_path
from deepshrink.serialization import unwrap_model

__all__ = ["DEFAULT_SUFFIX", "FORMATS", "ExportError", "ExportResult", "default_example_input", "export_model"]

FORMATS = ("onnx", "torchscript")
DEFAULT_SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
_DEFAULT_LENGTH = {1: 2048, 2: 32, 3: 16}
_CHECK_BATCH = 3  # compared after export: differs from the example's batch of 2
_ONNX_MAX_INLINE_BYTES = 1_800_000_000  # protobuf's limit is 2 GiB; above, weights go to a side file
_MAX_EXAMPLE_ELEMENTS = 1 << 24  # samples per channel of the example input (a typo beyond would exhaust memory)
_DYNAMO_MIN_OPSET = 18  # torch.onnx's dynamo exporter writes opset 18 and above
_TORCHSCRIPT_MIN_OPSET = 7  # torch.onnx's TorchScript-based exporter: opsets 7 to 20


class ExportError(DeepshrinkError):
    """A model could not be exported, or the exported file does not match the model."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` wrote and how the check went.

    Attributes:
        path: the file written.
        format: ``"onnx"`` or ``"torchscript"``.
        input_shape: shape of the example input, with the batch dim first (it is dynamic).
        max_abs_diff: largest |exported - PyTorch| on a check batch, or None when not checked
            (``check=False``, or onnxruntime not installed).
    """

    path: Path
    format: str
    input_shape: tuple[int, ...]
    max_abs_diff: float | None


def _spatial_shape(spatial_dims: int, length: int | Sequence[int] | None) -> tuple[int, ...]:
    if length is None:
        length = _DEFAULT_LENGTH.get(spatial_dims, 32)
    if isinstance(length, int):
        shape = (length,) * spatial_dims
    else:
        shape = tuple(length)
    if len(shape) != spatial_dims or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape):
        raise ExportError(
            f"input length must be a positive integer or {spatial_dims} of them "
            f"for a {spatial_dims}-D model, got {length!r}"
        )
    if math.prod(shape) > _MAX_EXAMPLE_ELEMENTS:
        raise ExportError(
            f"input length {length!r} is too large to export for: {math.prod(shape):,} samples per channel "
            f"(at most {_MAX_EXAMPLE_ELEMENTS:,}); the ONNX batch dim is dynamic, the length is not"
        )
    return shape


def default_example_input(model: nn.Module, length: int | Sequence[int] | None = None, batch_size: int = 2) -> Tensor:
    """A random input of the shape a deepshrink model expects: (N, C, L) or (N, C, H, W) ...

    The spatial size is ``length`` if given, else the ``length`` of the model's ``input_spec``
    (what :func:`~deepshrink.from_pretrained` reads from ``config.json``), else 2048 for 1-D
    and 32 (per side) for 2-D models. An int is used for every spatial dim.

    Raises:
        ExportError: the model is not a deepshrink model (pass ``example_input`` yourself), or
            the length is not a positive integer (or one per spatial dim).
    """
    model = unwrap_model(model)
    config = getattr(model, "config", None)
    dims = getattr(model, "spatial_dims", None)
    if not isinstance(config, dict) or "in_channels" not in config or not isinstance(dims, int):
        raise ExportError(
            f"cannot tell the input shape of {type(model).__name__}: pass example_input (a tensor of the input's shape)"
        )
    if length is None:
        length = (getattr(model, "input_spec", None) or {}).get("length") or config.get("input_length")
    channels = int(config["in_channels"]) * int(config.get("stack", 1))  # stacked networks: S*C channels
    shape = (batch_size, channels) + _spatial_shape(dims, length)
    generator = torch.Generator().manual_seed(0)
    ref = next(model.parameters(), None)
    x = torch.randn(shape, generator=generator)
    return x.to(ref.device, ref.dtype) if ref is not None else x


def _metadata(model: nn.Module) -> dict[str, Any] | None:
    """The facts ``config.json`` holds, for the exported file's metadata."""
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        return None
    return {
        "model_name": getattr(model, "model_name", None),
        "model_args": config,
        "label_names": getattr(model, "label_names", None),
        "input": getattr(model, "input_spec", None)
        or {"in_channels": config.get("in_channels"), "spatial_dims": getattr(model, "spatial_dims", None)},
    }


def _check_batch(x: Tensor) -> Tensor:
    """A check input with another batch size than ``x`` (same other dims, fixed seed)."""
    generator = torch.Generator().manual_seed(1)
    n = _CHECK_BATCH if x.shape[0] != _CHECK_BATCH else _CHECK_BATCH + 1
    return torch.randn((n,) + tuple(x.shape[1:]), generator=generator).to(x.device, x.dtype)


def _compare(exported: Tensor, reference: Tensor, path: Path, rtol: float = 1e-4, atol: float = 1e-4) -> float:
    diff = (exported.double() - reference.double()).abs()
    worst = float(diff.max()) if diff.numel() else 0.0
    limit = atol + rtol * float(reference.double().abs().max()) if reference.numel() else atol
    if not worst <= limit:  # also catches NaN
        raise ExportError(f"{path}: exported model differs from PyTorch by {worst:.3g} (limit {limit:.3g})")
    return worst


def _max_opset() -> int:
    """The newest ONNX opset the installed onnx package knows."""
    import onnx

    return int(onnx.defs.onnx_opset_version())


def _check_opset(opset: Any, path: Path) -> int | None:
    """``opset`` checked against what the installed exporters can write."""
    if opset is None:
        return None
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise ExportError(f"{path}: opset must be an integer, got {type(opset).__name__} {opset!r}")
    from torch.onnx import _constants

    low, high = _TORCHSCRIPT_MIN_OPSET, _max_opset()
    torchscript_max = getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20)
    if not low <= opset <= high:
        raise ExportError(f"{path}: opset {opset} is not one this onnx can write (choose {low} to {high})")
    if torchscript_max < opset < _DYNAMO_MIN_OPSET:  # pragma: no cover - torch keeps the two ranges overlapping
        raise ExportError(f"{path}: opset {opset} is not supported by torch's exporters")
    return opset


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep the exporters' warnings and log lines (deprecations, TracerWarnings) off the terminal."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def _written_opset(model_proto: Any) -> int | None:
    for entry in model_proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return None


def _write_onnx(model: nn.Module, x: Tensor, path: Path, opset: int | None, meta: dict | None) -> None:
    try:
        import onnxscript  # noqa: F401  # the dynamo exporter needs it; fail with a clear message
    except ImportError:
        raise ExportError('ONNX export needs onnx and onnxscript: pip install "deepshrink[onnx]"') from None
    import onnx
    from torch.export import Dim

    opset = _check_opset(opset, path)
    if x.shape[0] < 2:  # torch.export would specialise a batch of 1 to a constant
        x = x.expand((2,) + tuple(x.shape[1:])).contiguous()
    dynamo = opset is None or opset >= _DYNAMO_MIN_OPSET
    try:
        with _quiet_exporter():
            if dynamo:
                program = torch.onnx.export(
                    model, (x,), None, input_names=["input"], output_names=["output"], opset_version=opset,
                    dynamic_shapes=({0: Dim("batch")},), dynamo=True, external_data=False, verbose=False,
                )  # fmt: skip
                proto = None
            else:
                buffer = io.BytesIO()
                torch.onnx.export(
                    model, (x,), buffer, input_names=["input"], output_names=["output"], opset_version=opset,
                    dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False,
                )  # fmt: skip
                program, proto = None, onnx.load_from_string(buffer.getvalue())
    except Exception as err:  # the exporter raises many types; keep the last line, it says what failed
        last = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ExportError(f"{path}: ONNX export of {type(model).__name__} failed: {last}") from err
    written = program.model.opset_imports.get("") if program is not None else _written_opset(proto)
    if opset is not None and written != opset:
        raise ExportError(f"{path}: asked for ONNX opset {opset}, but the exporter could only write opset {written}")

    if program is None:  # TorchScript-based exporter: an onnx ModelProto
        if meta is not None:
            for key, value in (("deepshrink.config", json.dumps(meta)), ("deepshrink.version", __version__)):
                entry = proto.metadata_props.add()
                entry.key, entry.value = key, value
        atomic_write(path, proto.SerializeToString())
        return
    if meta is not None:
        program.model.metadata_props["deepshrink.config"] = json.dumps(meta)
        program.model.metadata_props["deepshrink.version"] = __version__
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if size > _ONNX_MAX_INLINE_BYTES:
        program.save(str(path), external_data=True)
        return
    with atomic_path(path) as tmp:
        program.save(tmp, external_data=False)


def _check_onnx(path: Path, model: nn.Module, x: Tensor) -> float | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    xb = _check_batch(x)
    (out,) = session.run(None, {session.get_inputs()[0].name: xb.cpu().numpy()})
    with torch.no_grad():
        ref = model(xb).cpu()
    return _compare(torch.from_numpy(out), ref, path)


def _write_torchscript(model: nn.Module, x: Tensor, path: Path, meta: dict | None) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+. is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # shape checks, fixed by the example
        try:
            traced = torch.jit.trace(model, x, check_trace=False)
        except Exception as err:
            last = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise ExportError(f"{path}: TorchScript trace of {type(model).__name__} failed: {last}") from err
        buffer = io.BytesIO()
        extra = {"config.json": json.dumps(meta, indent=2)} if meta is not None else {}
        torch.jit.save(traced, buffer, _extra_files=extra)
    atomic_write(path, buffer.getvalue())


def _check_torchscript(path: Path, model: nn.Module, x: Tensor) -> float:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location=x.device)
    xb = _check_batch(x)
    with torch.enable_grad():  # as a user calls it: a trace that only runs without grad is broken
        try:
            out = loaded(xb).detach()
        except RuntimeError as err:
            last = str(err).strip().splitlines()[-1]
            raise ExportError(f"{path}: the traced TorchScript model fails when run: {last}") from err
    with torch.no_grad():
        return _compare(out, model(xb), path)


def export_model(
    model: nn.Module,
    path: str | os.PathLike,
    format: str = "onnx",
    example_input: Tensor | None = None,
    opset: int | None = None,
    *,
    length: int | Sequence[int] | None = None,
    check: bool = True,
) -> ExportResult:
    """Export ``model`` to ONNX or TorchScript, for inference with any batch size.

    Args:
        model: a deepshrink model (any ``nn.Module`` if ``example_input`` is given). It is put
            in eval mode for the export and back in its mode afterwards.
        path: the file to write; its folder must exist. Written through a temporary file.
        format: ``"onnx"`` or ``"torchscript"``.
        example_input: an input of the shape to export for, (N, C, L) or (N, C, H, W); by
            default a random one from the model's config (see :func:`default_example_input`).
        opset: ONNX opset version; default: the one torch's exporter targets.
        length: spatial size of the default example input (ignored with ``example_input``).
        check: load the written file and compare it with PyTorch on a batch of another size
            (ONNX: needs onnxruntime, else skipped). Raises if they differ by more than
            1e-4 + 1e-4·max|output|.

    Returns:
        An :class:`ExportResult`: path, format, example input shape, largest difference.

    Raises:
        ExportError: unknown format, missing folder, the exporter failed, or the check failed.
    """
    fmt = format.lower() if isinstance(format, str) else format
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    path = check_path(path, "path", ExportError)
    if opset is not None and fmt != "onnx":
        raise ExportError(f"{path}: opset applies to ONNX only, not to {fmt}")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give a file name such as {path / ('model' + DEFAULT_SUFFIX[fmt])}")
    model = unwrap_model(model)
    meta = _metadata(model)
    x = example_input if example_input is not None else default_example_input(model, length)
    if not isinstance(x, Tensor) or x.dim() < 2:
        raise ExportError(f"example_input must be a tensor with a batch dim, got {getattr(x, 'shape', type(x))}")
    config = getattr(model, "config", None)
    dims = getattr(model, "spatial_dims", None)
    if example_input is not None and isinstance(config, dict) and "in_channels" in config and isinstance(dims, int):
        channels = int(config["in_channels"]) * int(config.get("stack", 1))
        if x.dim() != dims + 2 or x.shape[1] != channels:
            raise ExportError(
                f"example_input of shape {tuple(x.shape)} does not fit the model: expected "
                f"{dims + 2} dims, (N, {channels}, *spatial)"
            )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if fmt == "onnx":
                _write_onnx(model, x, path, opset, meta)
            else:
                _write_torchscript(model, x, path, meta)
            try:
                checker = _check_onnx if fmt == "onnx" else _check_torchscript
                diff = checker(path, model, x) if check else None
            except ExportError:
                path.unlink(missing_ok=True)  # leave no file that does not do what the model does
                raise
    finally:
        model.train(was_training)
    return ExportResult(path=path, format=fmt, input_shape=tuple(x.shape), max_abs_diff=diff)
