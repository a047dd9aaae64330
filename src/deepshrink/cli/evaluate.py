"""``deepshrink evaluate``: test a trained run (its own test set, or other data / noise / SNRs)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from deepshrink.checks import check_device
from deepshrink.cli import UsageError
from deepshrink.cli.flags import add_old_spelling
from deepshrink.train.config import NOISE_CHOICES, parse_key_values
from deepshrink.train.evaluation import evaluate_run

NEGATIVE_SPEC = re.compile(r"^-\d*\.?\d+([:,]-?\d*\.?\d+)*$")

EPILOG = """\
examples:
  deepshrink evaluate runs/RUN                       # the run's test set, as in training
  deepshrink evaluate runs/RUN --noise pink --snr -5:5:1    # every test signal at -5, -4, ..., 5 dB
  deepshrink evaluate runs/RUN --data other.npz --noise none --output reports/other

Writes {prefix}_metrics.json, {prefix}_confusion_matrix.csv/.png, {prefix}_per_class.csv and,
with several SNRs, {prefix}_accuracy_by_snr.csv into the run folder (or --output); prefix is
'test' for the run's own test set and 'eval' otherwise (or --prefix).
"""


def _snr(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def format_report(report: dict) -> str:
    """A short text summary of an evaluation report."""
    ev = report.get("evaluated", {})
    lines = [
        f"evaluated {ev.get('data')} ({ev.get('split')}, noise {ev.get('noise')}"
        + (f", snr {ev.get('snr')}" if ev.get("noise") != "none" else "") + f"): {report['num_observations']} observations",
        f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}   loss {report.get('loss', float('nan')):.4f}",
        "recall per class:",
    ]
    width = max(len(r["class"]) for r in report["per_class"])
    lines += [f"  {r['class']:<{width}}  {r['recall']:.4f}  (n={r['support']})" for r in report["per_class"]]
    if "accuracy_by_snr" in report:
        lines.append("accuracy per SNR:")
        lines += [f"  {r['snr_db']:>6g} dB  {r['accuracy']:.4f}  (n={r['count']})" for r in report["accuracy_by_snr"]]
    lines.append("wrote " + ", ".join(report.get("files", [])))
    return "\n".join(lines)


def check_args(args: argparse.Namespace) -> None:
    """Refuse nonsense before any work: a batch size below 1, an --output that is a file."""
    if args.device != "auto":
        check_device(args.device, "--device")
    if args.data_arg and args.data is None:
        raise UsageError("deepshrink evaluate: --data-arg applies to --data; give --data SPEC too (the run's own data takes its config's arguments)")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"deepshrink evaluate: --batch-size must be >= 1, got {args.batch_size}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"deepshrink evaluate: --seed must be >= 0, got {args.seed}")
    if args.output is not None:
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise UsageError(f"deepshrink evaluate: --output {out} is an existing file; give a folder for the report files")
    if args.prefix is not None and (not args.prefix.strip() or any(c in args.prefix for c in "/\\\0")):
        raise UsageError(f"deepshrink evaluate: --prefix must be a plain file name prefix, got {args.prefix!r}")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    report = evaluate_run(
        args.run_dir, data=args.data, data_args=parse_key_values(args.data_arg, "--data-arg"), noise=args.noise,
        snr=args.snr, split=args.part, output=args.output, prefix=args.prefix, device=args.device,
        batch_size=args.batch_size, seed=args.seed,
    )  # fmt: skip
    print(format_report(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="accuracy, macro-F1, per-class recall, confusion matrix (and per SNR) of a trained run",
        description="Evaluate the model of a run folder. By default the run's own test set is rebuilt\n"
        "from its config.yaml (same split, same noise), reproducing the test report of training;\n"
        "--data, --noise and --snr evaluate on other data or noise.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by `deepshrink train`")
    p.add_argument("--data", metavar="SPEC", help="another dataset (simulator, ucr:NAME, a path); default the run's")
    p.add_argument("--data-arg", action="append", metavar="KEY=VALUE", help="loader argument for --data; repeatable")
    p.add_argument("--part", choices=["test", "val", "train", "all"], help="part to evaluate (default test; all with --data)")
    p.add_argument("--noise", choices=NOISE_CHOICES, help="noise kind (default the run's)")
    p.add_argument("--snr", type=_snr, metavar="SPEC", help="SNR: 0, -5:5 (range), or -5:5:1 / -5,0,5 (every signal at every SNR)")
    p.add_argument("--seed", type=int, help="noise seed (default the run's)")
    p.add_argument("--output", "-o", metavar="DIR", help="folder for the report files (default the run folder)")
    p.add_argument("--prefix", help="file name prefix (default test, or eval with overrides)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch-size", type=int, metavar="N", help="evaluation batch size")
    # let SNR specs that start with '-' ("-5:5", "-5,0,5") be values, not options
    p._negative_number_matcher = NEGATIVE_SPEC
    add_old_spelling(p, "--split", "--part")
    p.set_defaults(func=run)
