"""``deepshrink predict``: classes and probabilities for a file of signals."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  deepshrink predict runs/RUN signals.npy                  # CSV to stdout
  deepshrink predict runs/RUN signals.csv --output predictions.csv

Input: .npy or .npz (array 'x', or the only array) of shape (N, L) or (N, C, L), or a .csv
with one observation per row (numbers only, an optional header row). Output CSV columns:
index, predicted (class name), p_<class> for every class.
"""


def run(args: argparse.Namespace) -> int:
    from deepshrink.train.evaluation import predict_file

    if args.batch_size is not None and args.batch_size < 1:
        from deepshrink.errors import ConfigError

        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    text = predict_file(args.run_dir, args.file, args.output, device=args.device, batch_size=args.batch_size or 512)
    if args.output is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.output} ({text.count(chr(10)) - 1} predictions)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict classes and probabilities for signals in a .npy/.npz/.csv file",
        description="Load the model of a run folder (config.json + model.safetensors, no pickle)\n"
        "and classify the signals in FILE.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by `deepshrink train`")
    p.add_argument("file", metavar="FILE", help="signals: .npy, .npz or .csv, shape (N, L) or (N, C, L)")
    p.add_argument("--output", "-o", metavar="CSV", help="write the predictions here (default: stdout)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch-size", type=int, metavar="N", help="batch size (default 512)")
    p.set_defaults(func=run)
