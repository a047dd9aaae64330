"""``deepshrink thresholds RUN_DIR``: the learned thresholds of a trained DRSN against the input SNR."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepshrink.cli import UsageError
from deepshrink.cli.flags import add_old_spelling
from deepshrink.errors import ConfigError
from deepshrink.study.commands import format_threshold_summary
from deepshrink.study.thresholds import analyze_thresholds, write_threshold_analysis
from deepshrink.noise import NOISE_KINDS
from deepshrink.train.config import parse_snr

EPILOG = """\
examples:
  deepshrink thresholds studies/quick/runs/drsn_cw_paper-gaussian-m5dB-seed0
  deepshrink thresholds runs/RUN --snr=-10:10:2 --noise pink --max-signals 512 --output reports/thr

Feeds the run's test signals (the recordings held out in training) through its model at each
SNR, with noise of the run's kind, and records per shrinkage layer the mean threshold tau, the
mean alpha = tau / mean|x| and the fraction of features set to zero, for all signals and per
class. Writes thresholds.csv, thresholds_correlation.csv (Spearman rho of a sample's SNR with
its tau / alpha / zero fraction, per layer), thresholds.png and thresholds_by_class.png into
RUN_DIR/thresholds/ (or --output).
"""


def _snrs(text: str) -> list[float]:
    try:
        spec = parse_snr(text, "--snr")
    except ConfigError as err:  # argparse would replace a ValueError's message by "invalid value"
        raise argparse.ArgumentTypeError(str(err).removeprefix("--snr: ")) from None
    if isinstance(spec, tuple):
        raise argparse.ArgumentTypeError(f"give a list (--snr=-10:10:2 or --snr=-5,0,5), not a range {text!r}")
    return [spec] if isinstance(spec, float) else list(spec)


def run(args: argparse.Namespace) -> int:
    if args.max_signals < 0:
        raise UsageError(f"deepshrink thresholds: --max-signals must be >= 0 (0: all), got {args.max_signals}")
    if args.seed < 0:
        raise UsageError(f"deepshrink thresholds: --seed must be >= 0, got {args.seed}")
    run_dir = Path(args.run_dir)
    analysis = analyze_thresholds(
        run_dir, snrs=args.snrs, noise=args.noise, max_signals=args.max_signals or None, split=args.part,
        seed=args.seed, include_clean=not args.no_clean,
    )  # fmt: skip
    out = Path(args.output) if args.output else run_dir / "thresholds"
    paths = write_threshold_analysis(analysis, out, prefix=args.prefix, title=args.title or run_dir.name)
    print(format_threshold_summary(analysis))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "thresholds",
        help="learned thresholds (tau, zero fraction) of a trained DRSN against the input SNR, per block and class",
        description="Test the idea that every sample gets a threshold that fits its own noise: feed a trained\n"
        "DRSN's test signals at a range of SNRs and record, per shrinkage block, the mean threshold and the\n"
        "fraction of features set to zero (CSV + PNG).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of a trained DRSN (deepshrink train / study)")
    p.add_argument("--snr", dest="snrs", type=_snrs, default=[-10.0, -8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
                   metavar="SPEC", help="input SNRs: --snr=-10:10:2 (default) or --snr=-5,0,5")  # fmt: skip
    p.add_argument("--noise", choices=NOISE_KINDS, help="noise kind (default the run's)")
    p.add_argument("--max-signals", type=int, default=1024, metavar="N", help="test signals used (class-stratified; 0: all)")
    p.add_argument("--part", dest="part", choices=["test", "train"], default="test", help="signals of the run's test (default) or training part")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--no-clean", action="store_true", help="skip the clean (no noise) reference")
    p.add_argument("--output", "-o", metavar="DIR", help="output folder (default RUN_DIR/thresholds)")
    p.add_argument("--prefix", default="thresholds", help="file name prefix (default thresholds)")
    p.add_argument("--title", help="figure title (default the run folder's name)")
    add_old_spelling(p, "--snrs", "--snr")
    add_old_spelling(p, "--split", "--part")
    p.set_defaults(func=run)
