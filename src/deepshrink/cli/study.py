"""``deepshrink study``: the noise study (models x noise kinds x SNRs x seeds/folds), resumable, shardable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepshrink.cli import UsageError
from deepshrink.cli.flags import add_old_spelling
from deepshrink.study import commands
from deepshrink.study.presets import PRESETS
from deepshrink.study.panel import write_panel_report
from deepshrink.study.report import format_console_table
from deepshrink.study.results import read_results
from deepshrink.study.spec import AXES, StudySpec, parse_shard, study_to_yaml
from deepshrink.train.config import TrainConfig, parse_key_values
from deepshrink.settings import declared

_TRAIN = declared(TrainConfig)
# the training settings with a flag of their own here (any other: --set KEY=VALUE)
_TRAIN_FLAGS = ("epochs", "batch_size", "recipe")

EPILOG = """\
examples:
  deepshrink study quick --jobs 2                 # the CPU study of docs/results.md
  deepshrink study paper --print-study > my.yaml  # a preset as a YAML file to edit
  deepshrink study my.yaml --output studies/my --snr=-5,0 --seeds 0,1,2 --epochs 20
  deepshrink study studies/my                     # resume: finished runs are skipped
  deepshrink study quick --stack 1                # train the runs one by one (no stacking)
  deepshrink study paper --stack 64 --shard 0/4   # give every shard the same --stack
  deepshrink study paper --shard 3/8 --output studies/paper   # process 3 of 8 (one per GPU)
  torchrun --nproc_per_node=8 --no-python deepshrink study paper --output studies/paper
  deepshrink study studies/paper --report         # merge: report of what is finished
  deepshrink study quick --normalize none,per_sample --split recording,window --noise-protocol fixed,clean

STUDY is a preset (paper, quick, forda, demo), a study YAML file, or a study folder (its
study.yaml; resumes it). Writes OUTPUT/results.csv (a row per finished run), and once every run
is done OUTPUT/report.md, OUTPUT/summary.csv and OUTPUT/figures/*.png. Shards (--shard, or
RANK/WORLD_SIZE under torchrun) take runs i, i+n, ...; they append to the same results.csv.
"""


def _list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _checked_int(problem: Callable[[int], str | None]) -> Callable[[str], int]:
    """An argparse type: an integer ``problem`` finds nothing wrong with (argparse makes the error one line, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        wrong = problem(value)
        if wrong is not None:
            raise argparse.ArgumentTypeError(f"{wrong}, got {value}")
        return value

    return parse


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""
    return _checked_int(lambda value: None if low <= value <= high else f"must be in [{low}, {high}]")


def _setting_int(name: str) -> Callable[[str], int]:
    """An argparse type: an integer the training setting ``name`` allows (its declared interval)."""
    return _checked_int(_TRAIN[name].problem)


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in _list(text)]
    except ValueError:
        raise UsageError(f"expected comma-separated integers, got {text!r}") from None


def resolve_study(args: argparse.Namespace) -> tuple[StudySpec, Path]:
    """The study (preset, file or folder) with the command-line overrides applied, and its output folder."""
    changes: dict[str, Any] = {}
    if args.models:
        changes["models"] = _list(args.models)
    if args.noises:
        changes["noises"] = _list(args.noises)
    if args.snrs:
        changes["snrs"] = args.snrs
    if args.seeds:
        changes["seeds"] = _ints(args.seeds)
    if args.folds is not None:
        changes["folds"] = args.folds
    if args.run_folds:
        changes["run_folds"] = _ints(args.run_folds)
    if args.data:
        changes["data"] = args.data
    if args.data_arg:
        changes["data_args"] = parse_key_values(args.data_arg, "--data-arg")
    for axis in AXES:
        if getattr(args, axis):
            changes[axis] = _list(getattr(args, axis))
    if args.name:
        changes["name"] = args.name
    train = {key: getattr(args, key) for key in _TRAIN_FLAGS if getattr(args, key) is not None}
    if args.set:
        train.update(parse_key_values(args.set, "--set"))
    return commands.resolve_study(
        args.study, output=args.output, train=train, overrides_source="command line", **changes
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.list_presets:
        for name in sorted(PRESETS):
            print(f"{name:<8} {PRESETS[name].get('description', '')}")
        return 0
    if args.panel:
        if not args.output:
            raise UsageError("--panel needs --output DIR (where panel.md and its figures go)")
        print(f"panel: {write_panel_report(args.panel, args.output)}")
        return 0
    spec, output = resolve_study(args)
    if args.print_study:
        sys.stdout.write(study_to_yaml(spec))
        return 0
    if args.report:
        print(commands.report_study(spec, output).describe())
        return 0
    shard = parse_shard(args.shard)
    if args.dry_run:
        print(commands.plan_shard(spec, shard, stack=args.stack, device=args.device).describe())
        return 0
    if args.jobs > 1 and shard[1] > 1:
        raise UsageError("--jobs and --shard/torchrun do not combine: use one or the other")
    progress = commands.launch_study(
        spec, output, jobs=args.jobs, threads=args.threads, shard=shard, device=args.device,
        save_runs=not args.no_save_runs, force=args.force, max_runs=args.max_runs, stack=args.stack,
        oversubscribe=args.oversubscribe,
    )  # fmt: skip
    if progress.report is not None:
        print(format_console_table(read_results(output / "results.csv"), spec))
        print(f"report: {progress.report}")
    elif progress.remaining:
        print(f"{progress.remaining} run(s) of {progress.total} not finished yet (other shards, or --max-runs); "
              f"rerun to resume, or `deepshrink study {output} --report` for a report of what is done")  # fmt: skip
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "study",
        aliases=["benchmark"],  # its former name: older scripts and the evidence folders' reports use it
        help="the noise study: models x noise kinds x SNRs x seeds/folds, with report and figures",
        description="Train and test every (model, noise kind, SNR, seed or fold) of a study and report mean ± std\n"
        "accuracy per model (Table III style), per noise kind and SNR (Figs. 6-8), and time (Table V).\n"
        "Noise is added once (the paper's protocol) unless --noise-protocol says otherwise. Resumable, shardable.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("study", nargs="?", default="quick", metavar="STUDY",
                   help="preset (paper, quick, forda, demo), study YAML file, or study folder to resume (default quick)")  # fmt: skip
    p.add_argument("--output", "-o", metavar="DIR", help="study folder (default studies/<name>, or STUDY if a folder)")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    p.add_argument("--print-study", action="store_true", help="print the resolved study as YAML and exit")
    p.add_argument("--dry-run", action="store_true", help="list this shard's runs and exit")
    p.add_argument("--report", action="store_true", help="only (re)write report.md and figures from results.csv")
    p.add_argument("--panel", nargs="+", metavar="DIR", help="rank the models of these study folders (one dataset "
                   "each) over all their cells together: panel.md and a critical-difference figure in --output")

    g = p.add_argument_group("study overrides")
    g.add_argument("--name", help="study name")
    g.add_argument("--models", metavar="A,B", help="comma-separated model names")
    g.add_argument("--noises", metavar="A,B", help="comma-separated noise kinds (gaussian, laplacian, pink, ...)")
    g.add_argument("--snr", dest="snrs", metavar="SPEC", help="SNRs (the spec of train and evaluate): --snr=-5,0 or --snr=-5:5:1")
    g.add_argument("--seeds", metavar="0,1,2", help="comma-separated seeds")
    g.add_argument("--folds", type=_int_in(0, 1000), metavar="K", help="K-fold cross-validation by recording (0: seeds)")
    g.add_argument("--run-folds", metavar="0,1,2", help="run only these folds")
    g.add_argument("--data", metavar="SPEC", help="dataset: simulator, ucr:NAME, a path (resets data args)")
    g.add_argument("--data-arg", action="append", metavar="KEY=VALUE", help="loader argument; repeatable")
    g.add_argument("--noise-protocol", metavar="A,B", help="study axis: fixed (noise added once), fresh (redrawn "
                   "per epoch), clean (train clean, test at every noise and SNR); comma-separated")
    g.add_argument("--normalize", metavar="A,B", help="study axis: none, per_sample (per-window standardisation)")
    g.add_argument("--split", metavar="A,B", help="study axis: recording (leak-free), window (the paper's, leaky), "
                   "condition, predefined")
    # the training settings' own types, ranges and choices (TrainConfig declares them)
    g.add_argument("--epochs", type=_setting_int("epochs"), metavar=_TRAIN["epochs"].metavar, help="epochs per run")
    g.add_argument("--batch-size", type=_setting_int("batch_size"), metavar=_TRAIN["batch_size"].metavar,
                   help="batch size")  # fmt: skip
    g.add_argument("--recipe", choices=_TRAIN["recipe"].choices, help="training recipe")
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help="any training config key (YAML value); repeatable")

    g = p.add_argument_group("execution")
    g.add_argument("--jobs", "-j", type=_int_in(1, 1024), default=1, metavar="N", help="local worker processes (default 1)")
    g.add_argument("--threads", type=_int_in(1, 4096), metavar="N", help="torch threads per process (default: 1 with --jobs, else torch's)")
    g.add_argument("--stack", type=_int_in(1, 4096), metavar="S",
                   help="train up to S runs of a model together as one stacked network (1: one by one; "
                        "default: from the device, its memory and, on a CPU, the feature maps of a step; up to 16 on a CPU, 64 on a GPU)")  # fmt: skip
    g.add_argument("--oversubscribe", action="store_true",
                   help="run --jobs x --threads even when that exceeds the cores (default: cut to fit)")
    g.add_argument("--shard", metavar="I/N", help="run shard I of N (default RANK/WORLD_SIZE under torchrun)")
    g.add_argument("--device", default="auto", help="auto (a GPU per shard when there are GPUs), cpu, cuda:N")
    g.add_argument("--max-runs", type=_int_in(1, 10**9), metavar="N", help="stop after N runs (resume later)")
    g.add_argument("--no-save-runs", action="store_true", help="do not keep run folders (weights, checkpoints)")
    g.add_argument("--force", action="store_true", help="start over in OUTPUT (deletes its results)")
    add_old_spelling(p, "--snrs", "--snr")
    p.set_defaults(func=run)
