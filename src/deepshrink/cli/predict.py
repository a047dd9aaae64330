"""``deepshrink predict``: classes and probabilities for windows, or for one long recording."""

from __future__ import annotations

import argparse
import os
import sys

from deepshrink.errors import ConfigError
from deepshrink.train.evaluation import predict_path

EPILOG = """\
examples:
  deepshrink predict runs/RUN signals.npy                  # windows (N, L): CSV to stdout
  deepshrink predict runs/RUN signals.csv --output predictions.csv
  deepshrink predict runs/RUN recording.wav --hop 1024 --output windows.csv --plot windows.png
  deepshrink predict runs/RUN 105.mat --key DE --sampling-rate 12000 --resample --summary 105.json

Windows: .npy or .npz (array 'x', or the only array) of shape (N, L) or (N, C, L), or a .csv
with one observation per row (numbers only, an optional header row), each of the model's
length L. Output CSV columns: index, predicted (class name), p_<class> for every class.

One recording: a file that holds one signal, (T,) or (C, T) in .npy / .npz, one column per
channel in .csv (a 'time' column gives the rate), a variable of a .mat file (--key; CWRU files:
--key DE/FE/BA; Paderborn files: a Y entry, default vibration_1) or a .wav file; or any file
with --recording / --hop. It is cut into the model's window every --hop samples (default: the
window). Output CSV columns: window, start, end (samples, end exclusive), start_s, end_s,
predicted, p_<class>; then one line with the recording's decision: the class of the mean
probability and the majority vote of the windows. A recording at another sampling rate than the
model's, or shorter than one window, is refused (--resample converts the rate).
"""


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def run(args: argparse.Namespace) -> int:
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.hop is not None and args.hop < 1:
        raise ConfigError(f"--hop must be >= 1 sample, got {args.hop}")
    if args.sampling_rate is not None and not args.sampling_rate > 0:
        raise ConfigError(f"--sampling-rate must be a positive number of Hz, got {args.sampling_rate:g}")
    outputs = [(flag, os.path.realpath(path)) for flag, path in (("--output", args.output), ("--summary", args.summary),
               ("--plot", args.plot)) if path is not None]  # fmt: skip
    for i, (flag, path) in enumerate(outputs):
        other = next((f for f, p in outputs[i + 1 :] if p == path), None)
        if other is not None:
            raise ConfigError(f"{flag} and {other} name the same file ({path}): one would overwrite the other")
    result = predict_path(
        args.run_dir, args.file, output=args.output, recording=args.mode, hop=args.hop, key=args.key,
        columns=args.columns, sampling_rate=args.sampling_rate, resample=args.resample, plot=args.plot,
        summary=args.summary, device=args.device, batch_size=args.batch_size or 512,
    )  # fmt: skip
    for note in result["notes"]:
        print(note, file=sys.stderr)
    text = result["csv"]
    if result["mode"] == "windows":
        if args.output is None:
            sys.stdout.write(text)
        else:
            print(f"wrote {args.output} ({text.count(chr(10)) - 1} predictions)")
        return 0
    prediction = result["prediction"]
    if args.output is None:
        sys.stdout.write(text)
        print(prediction.summary_line(), file=sys.stderr)  # stdout stays a clean CSV
    else:
        print(prediction.summary_line())
    for path in result["files"]:
        print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict classes for windows, or for one long recording cut into windows",
        description="Load the model of a run folder (config.json + model.safetensors, no pickle)\n"
        "and classify the windows in FILE, or cut one long recording into the model's window.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by `deepshrink train`")
    p.add_argument("file", metavar="FILE", help="windows (.npy/.npz/.csv) or one recording (.npy/.npz/.csv/.mat/.wav)")
    p.add_argument("--output", "-o", metavar="CSV", help="write the per-window CSV here (default: stdout)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--recording", dest="mode", action="store_const", const=True,
                      help="read FILE as one recording (default: decided from the file, see below)")  # fmt: skip
    mode.add_argument("--windows", dest="mode", action="store_const", const=False,
                      help="read FILE as windows of the model's length")  # fmt: skip
    p.add_argument("--hop", type=int, metavar="N", help="recording: step between windows in samples (default: the window)")
    p.add_argument("--key", metavar="NAME", help="recording: the .npz array or .mat variable (CWRU: DE, FE or BA; "
                   "Paderborn: a Y entry such as vibration_1)")  # fmt: skip
    p.add_argument("--columns", type=_columns, metavar="A,B", help="recording: .csv columns to use, by name or 0-based index")
    p.add_argument("--sampling-rate", type=float, metavar="HZ", help="recording: its sampling rate, checked against the model's")
    p.add_argument("--resample", action="store_true", help="recording: resample to the model's rate instead of refusing another")
    p.add_argument("--plot", metavar="PNG", help="recording: figure of the class probabilities along the recording")
    p.add_argument("--summary", metavar="JSON", help="recording: the per-recording decision, mean probabilities and votes")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch-size", type=int, metavar="N", help="batch size (default 512)")
    p.set_defaults(func=run, mode=None)
