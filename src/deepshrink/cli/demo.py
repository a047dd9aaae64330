"""``deepshrink demo``: a small noise study on the simulator (ResNet vs DRSN-CW under heavy noise) in minutes."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

EPILOG = """\
The demo is the 'demo' preset of `deepshrink benchmark` (print it with `deepshrink benchmark demo
--print-study`): ResNet and DRSN-CW (the 6-unit networks of the authors' code) trained on a
small simulated drivetrain set (8 health states, 3 speeds x 3 loads) with white Gaussian noise
at 0 dB (as strong as the signal) added once, tested on held-out recordings; 4 seeds, 80 epochs
(both models reach about 90 % training accuracy). The runs of each model train together as one
stacked network, one model per core. It prints mean ± std test accuracy and the paired
difference DRSN-CW - ResNet with its 95 % confidence interval, then plots the learned
thresholds of one DRSN-CW against the input SNR. About 3-4 minutes on 2 idle CPU cores.
Rerunning reuses finished runs (--force starts over); an interrupted demo resumes.
"""


def run(args: argparse.Namespace) -> int:
    from deepshrink.experiments.presets import get_preset
    from deepshrink.experiments.report import format_console_table
    from deepshrink.experiments.study import (
        expand_runs,
        read_results,
        run_study,
        study_from_dict,
    )
    from deepshrink.system import available_cpus

    started = time.perf_counter()
    values = get_preset("demo")
    if args.epochs is not None:
        values["train"]["epochs"] = args.epochs
    if args.seeds is not None:
        values["seeds"] = list(range(args.seeds))
    spec = study_from_dict(values, source="demo")
    out = Path(args.output)
    if args.stack is not None and args.stack < 1:
        from deepshrink.cli import UsageError

        raise UsageError(f"--stack must be >= 1 (1 trains the runs one by one), got {args.stack}")
    jobs = args.jobs or max(1, min(len(spec.models), available_cpus()))
    runs = expand_runs(spec)
    da = spec.data_args
    print(
        f"deepshrink demo: {', '.join(spec.models)} on the drivetrain simulator\n"
        f"  data: 8 health states x 3 speeds x 3 loads x {da['recordings_per_condition']} recordings, "
        f"{da['windows_per_recording']} windows of {da['window']} points each; "
        f"{100 * spec.train.get('test_fraction', 0.2):.0f} % of the recordings held out for test\n"
        f"  noise: {', '.join(spec.noises)} at {', '.join(f'{s:g}' for s in spec.snrs)} dB, added once (the paper's protocol)\n"
        f"  {len(runs)} runs ({len(spec.seeds)} seeds), {spec.train['epochs']} epochs each, {jobs} process(es) -> {out}/",
        flush=True,
    )
    if jobs > 1:
        from deepshrink.experiments.parallel import run_study_parallel

        run_study_parallel(spec, out, jobs=jobs, threads_per_job=1, force=args.force, report=True, log=print,
                           stack=args.stack, device=args.device)  # fmt: skip
    else:
        run_study(spec, out, num_threads=args.threads, force=args.force, report=True, log=print, stack=args.stack,
                  device=args.device)  # fmt: skip
    rows = read_results(out / "results.csv")
    print()
    print(format_console_table(rows, spec))

    # thresholds of one DRSN-CW
    thr_paths: list[Path] = []
    cw = [r for r in runs if r.model.startswith("drsn_cw")]
    if cw and not args.no_thresholds:
        from deepshrink.cli.thresholds import format_summary
        from deepshrink.experiments.thresholds import (
            analyze_thresholds,
            write_threshold_analysis,
        )

        run_dir = out / "runs" / cw[0].run_id
        if (run_dir / "model.safetensors").is_file():
            analysis = analyze_thresholds(run_dir, snrs=[-10, -5, 0, 5, 10], max_signals=512)
            thr_paths = write_threshold_analysis(analysis, out / "figures", title=f"DRSN-CW thresholds ({cw[0].run_id})")
            print()
            print(format_summary(analysis))
    elapsed = time.perf_counter() - started
    figures = sorted((out / "figures").glob("*.png"))
    print()
    print(f"done in {elapsed / 60:.1f} min. Files:")
    print(f"  {out / 'report.md'}        tables: overall (Table III style), per SNR, paired difference, time")
    print(f"  {out / 'results.csv'}      one row per run")
    for f in figures:
        print(f"  {f}")
    print(f"  {out / 'runs'}/<run>/      each trained model (config.json + model.safetensors) and its test report")
    print(
        "\nnext:\n"
        "  deepshrink benchmark quick --jobs 2            # the CPU study of docs/results.md: 3 models x 3 noises x 2 SNRs x 3 seeds\n"
        "  deepshrink benchmark paper --print-study       # the paper's full study (a GPU job; --shard i/n to split it)\n"
        f"  deepshrink thresholds {out / 'runs' / (cw[0].run_id if cw else 'RUN')} --snrs=-10:10:2\n"
        f"  deepshrink evaluate {out / 'runs' / runs[-1].run_id} --noise pink --snr=-5:5:1\n"
        "  deepshrink train --model drsn_cw_paper --noise gaussian --snr=-5 --epochs 100   # one full run"
    )
    return 0


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
