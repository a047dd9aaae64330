"""``deepshrink demo``: a small noise study on the simulator (ResNet vs DRSN-CW under heavy noise) in minutes."""

from __future__ import annotations

import argparse

from deepshrink.cli import UsageError
from deepshrink.study.commands import run_demo

EPILOG = """\
The demo is the 'demo' preset of `deepshrink study` (print it with `deepshrink study demo
--print-study`): ResNet and DRSN-CW (the 6-unit networks of the authors' code) trained on a
small simulated drivetrain set (8 health states, 3 speeds x 3 loads) with white Gaussian noise
at 0 dB (as strong as the signal) added once, tested on held-out recordings; 4 seeds, 80 epochs
(enough for both models to converge; the report gives each run's training accuracy). The runs of each model train together as one
stacked network, one model per core. It prints mean ± std test accuracy and the paired
difference DRSN-CW - ResNet with its 95 % confidence interval, then plots the learned
thresholds of one DRSN-CW against the input SNR. A few minutes on 2 CPU cores (measured times:
benchmarks/RESULTS.md); a live bar per worker shows the epochs done and the time left.
Rerunning reuses finished runs (--force starts over); an interrupted demo resumes.
"""


def run(args: argparse.Namespace) -> int:
    if args.stack is not None and args.stack < 1:
        raise UsageError(f"--stack must be >= 1 (1 trains the runs one by one), got {args.stack}")
    run_demo(args.output, epochs=args.epochs, seeds=args.seeds, jobs=args.jobs, threads=args.threads, stack=args.stack,
             device=args.device, force=args.force, thresholds=not args.no_thresholds, log=_print_now)  # fmt: skip
    return 0


def _print_now(line: str) -> None:
    """print, flushed: worker processes write to the same stdout, after the lines printed before them."""
    print(line, flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="a few-minute noise study on the simulator: ResNet vs DRSN-CW under heavy noise, table, report, figures",
        description="Train ResNet and DRSN-CW on simulated drivetrain vibration with heavy Gaussian noise (0 dB),\n"
        "print a mean ± std table, write a report with figures and the learned-threshold plot.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", "-o", default="deepshrink-demo", metavar="DIR", help="output folder (default ./deepshrink-demo)")
    p.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default min(2, CPUs))")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads with --jobs 1")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per run (default the preset's)")
    p.add_argument("--seeds", type=int, metavar="N", help="number of seeds (default the preset's)")
    p.add_argument("--stack", type=int, metavar="S",
                   help="train up to S runs of a model together as one stacked network (1: one by one; default: auto)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:N")
    p.add_argument("--no-thresholds", action="store_true", help="skip the thresholds figure")
    p.add_argument("--force", action="store_true", help="start over (delete the folder's results)")
    p.set_defaults(func=run)
