"""``deepshrink thresholds RUN_DIR``: the learned thresholds of a trained DRSN against the input SNR."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  deepshrink thresholds studies/quick/runs/drsn_cw_paper-gaussian-m5dB-seed0
  deepshrink thresholds runs/RUN --snrs=-10:10:2 --noise pink --max-signals 512 --output reports/thr

Feeds the run's test signals (the recordings held out in training) through its model at each
SNR, with noise of the run's kind, and records per shrinkage layer the mean threshold tau, the
mean alpha = tau / mean|x| and the fraction of features set to zero, for all signals and per
class. Writes thresholds.csv, thresholds_correlation.csv (Spearman rho of a sample's SNR with
its tau / alpha / zero fraction, per layer), thresholds.png and thresholds_by_class.png into
RUN_DIR/thresholds/ (or --output).
"""


def _snrs(text: str) -> list[float]:
    from deepshrink.errors import ConfigError
    from deepshrink.train.config import parse_snr

    try:
        spec = parse_snr(text, "--snrs")
    except ConfigError as err:  # argparse would replace a ValueError's message by "invalid value"
        raise argparse.ArgumentTypeError(str(err).removeprefix("--snrs: ")) from None
    if isinstance(spec, tuple):
        raise argparse.ArgumentTypeError(f"give a list (--snrs=-10:10:2 or --snrs=-5,0,5), not a range {text!r}")
    return [spec] if isinstance(spec, float) else list(spec)


def format_summary(analysis) -> str:
    """A short text table: per layer, tau and zero fraction at the lowest and highest SNR, and rho."""
    rows = [r for r in analysis.rows if r["class"] == "all"]
    snrs = sorted({r["snr_db"] for r in rows if r["snr_db"] is not None})
    lo, hi = snrs[0], snrs[-1]
    by = {(r["layer"], r["snr_db"]): r for r in rows}
    corr = {c["layer"]: c for c in analysis.correlations}
    lines = [f"{analysis.mode.upper()} thresholds, {analysis.noise} noise; accuracy {100 * by[(analysis.layers[0], lo)]['accuracy']:.1f} % "
             f"at {lo:g} dB, {100 * by[(analysis.layers[0], hi)]['accuracy']:.1f} % at {hi:g} dB",
             f"{'layer':<18} {'tau ' + format(lo, 'g') + ' dB':>12} {'tau ' + format(hi, 'g') + ' dB':>12} "
             f"{'alpha lo/hi':>13} {'zero lo/hi':>13} {'rho(SNR,tau)':>13} {'rho(SNR,alpha)':>15}"]  # fmt: skip
    for layer in analysis.layers:
        a, b = by[(layer, lo)], by[(layer, hi)]
        c = corr.get(layer, {})
        lines.append(
            f"{a['block']:<18} {a['tau_mean']:>12.4g} {b['tau_mean']:>12.4g} "
            f"{a['alpha_mean']:>6.3f}/{b['alpha_mean']:<6.3f} {a['zero_fraction']:>6.3f}/{b['zero_fraction']:<6.3f} "
            f"{c.get('rho_tau', float('nan')):>13.3f} {c.get('rho_alpha', float('nan')):>15.3f}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from deepshrink.experiments.thresholds import analyze_thresholds, write_threshold_analysis

    from deepshrink.cli import UsageError

    if args.max_signals < 0:
        raise UsageError(f"deepshrink thresholds: --max-signals must be >= 0 (0: all), got {args.max_signals}")
    if args.seed < 0:
        raise UsageError(f"deepshrink thresholds: --seed must be >= 0, got {args.seed}")
    run_dir = Path(args.run_dir)
    analysis = analyze_thresholds(
        run_dir, snrs=args.snrs, noise=args.noise, max_signals=args.max_signals or None, split=args.split,
        seed=args.seed, include_clean=not args.no_clean,
    )  # fmt: skip
    out = Path(args.output) if args.output else run_dir / "thresholds"
    paths = write_threshold_analysis(analysis, out, prefix=args.prefix, title=args.title or run_dir.name)
    print(format_summary(analysis))
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
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of a trained DRSN (deepshrink train / benchmark)")
    p.add_argument("--snrs", type=_snrs, default=[-10.0, -8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
                   metavar="SPEC", help="input SNRs: --snrs=-10:10:2 (default) or --snrs=-5,0,5")  # fmt: skip
    p.add_argument("--noise", choices=["gaussian", "laplacian", "uniform", "pink", "brown"], help="noise kind (default the run's)")
    p.add_argument("--max-signals", type=int, default=1024, metavar="N", help="test signals used (class-stratified; 0: all)")
    p.add_argument("--split", choices=["test", "train"], default="test", help="signals of the run's test (default) or training part")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--no-clean", action="store_true", help="skip the clean (no noise) reference")
    p.add_argument("--output", "-o", metavar="DIR", help="output folder (default RUN_DIR/thresholds)")
    p.add_argument("--prefix", default="thresholds", help="file name prefix (default thresholds)")
    p.add_argument("--title", help="figure title (default the run folder's name)")
    p.set_defaults(func=run)
