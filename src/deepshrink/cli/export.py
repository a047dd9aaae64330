"""``deepshrink export RUN_DIR``: write a saved model as ONNX or TorchScript for inference."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepshrink.errors import CheckpointError
from deepshrink.export import DEFAULT_SUFFIX, export_model
from deepshrink.serialization import from_pretrained


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such folder (expected a folder with config.json + model.safetensors)")
    model = from_pretrained(run_dir)
    output = Path(args.output) if args.output else run_dir / ("model" + DEFAULT_SUFFIX[args.format])
    result = export_model(model, output, format=args.format, opset=args.opset, length=args.length)
    shape = ", ".join(["batch", *(str(n) for n in result.input_shape[1:])])
    if result.max_abs_diff is None:
        check = "not checked (onnxruntime is not installed)"
    else:
        runtime = "onnxruntime" if result.format == "onnx" else "torch.jit.load"
        check = f"checked with {runtime}: max |diff| {result.max_abs_diff:.1e}"
    print(f"wrote {result.path} ({result.format}, input ({shape}); {check})")
    if (getattr(model, "input_spec", None) or {}).get("normalize") == "per_sample":
        print("note: standardise each observation and channel before feeding it (input normalize = per_sample)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a saved model to ONNX or TorchScript",
        description="Export the model of RUN_DIR (any folder with config.json + model.safetensors) to ONNX "
        "or TorchScript, with a dynamic batch dimension, and check the file against PyTorch.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder with config.json + model.safetensors")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="output format (default onnx)")
    p.add_argument(
        "--output", "-o", metavar="PATH", default=None,
        help="file to write (default RUN_DIR/model.onnx or RUN_DIR/model.torchscript.pt)",
    )  # fmt: skip
    p.add_argument(
        "--length", type=int, default=None, metavar="L",
        help="input length (or image side) to export for; default: the length in config.json, "
        "else 2048 for signals and 32 for images",
    )  # fmt: skip
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default: torch's)")
    p.set_defaults(func=run)
