"""``deepshrink benchmark``: the noise study (models x noise kinds x SNRs x seeds/folds), resumable, shardable."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  deepshrink benchmark quick --jobs 2                 # the CPU study of docs/results.md
  deepshrink benchmark paper --print-study > my.yaml  # a preset as a YAML file to edit
  deepshrink benchmark my.yaml --output studies/my --snrs=-5,0 --seeds 0,1,2 --epochs 20
  deepshrink benchmark studies/my                     # resume: finished runs are skipped
  deepshrink benchmark quick --stack 1                # train the runs one by one (no stacking)
  deepshrink benchmark paper --stack 64 --shard 0/4   # give every shard the same --stack
  deepshrink benchmark paper --shard 3/8 --output studies/paper   # process 3 of 8 (one per GPU)
  torchrun --nproc_per_node=8 --no-python deepshrink benchmark paper --output studies/paper
  deepshrink benchmark studies/paper --report         # merge: report of what is finished
  deepshrink benchmark quick --normalize none,per_sample --split recording,window --noise-protocol fixed,clean

STUDY is a preset (paper, quick, forda, demo), a study YAML file, or a study folder (its
study.yaml; resumes it). Writes OUTPUT/results.csv (a row per finished run), and once every run
is done OUTPUT/report.md, OUTPUT/summary.csv and OUTPUT/figures/*.png. Shards (--shard, or
RANK/WORLD_SIZE under torchrun) take runs i, i+n, ...; they append to the same results.csv.
"""


def _list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _int_in(low: int, high: int):
    """An argparse type: an integer in [low, high] (argparse turns the error into one line, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}], got {value}")
        return value

    return parse


def _ints(text: str) -> list[int]:
    from deepshrink.cli import UsageError

    try:
        return [int(t) for t in _list(text)]
    except ValueError:
        raise UsageError(f"expected comma-separated integers, got {text!r}") from None


def resolve_study(args: argparse.Namespace):
    """The study (preset, file or folder) with the command-line overrides applied, and its output folder."""
    from deepshrink.experiments.presets import PRESETS
    from deepshrink.experiments.study import load_study, study_from_dict
    from deepshrink.train.config import parse_key_values

    source = args.study
    folder = None
    if Path(source).is_dir() and ((Path(source) / "study.yaml").is_file() or source not in PRESETS):
        folder = Path(source)
        if not (folder / "study.yaml").is_file():
            from deepshrink.errors import ConfigError

            raise ConfigError(f"{folder}: not a study folder (no study.yaml); give a preset ({', '.join(sorted(PRESETS))}) or a YAML file")
        spec = load_study(folder / "study.yaml")
    else:
        spec = load_study(source)
    values = spec.to_dict()
    if args.models:
        values["models"] = _list(args.models)
    if args.noises:
        values["noises"] = _list(args.noises)
    if args.snrs:
        values["snrs"] = args.snrs
    if args.seeds:
        values["seeds"] = _ints(args.seeds)
    if args.folds is not None:
        values["folds"] = args.folds
        if not args.folds:
            values["run_folds"] = None
    if args.run_folds:
        values["run_folds"] = _ints(args.run_folds)
    if args.data:
        values["data"] = args.data
        values["data_args"] = {}
    if args.data_arg:
        values["data_args"] = {**values["data_args"], **parse_key_values(args.data_arg, "--data-arg")}
    for axis in ("noise_protocol", "normalize", "split"):
        if getattr(args, axis):
            values[axis] = _list(getattr(args, axis))
    train = dict(values.get("train") or {})
    if args.epochs is not None:
        train["epochs"] = args.epochs
    if args.batch_size is not None:
        train["batch_size"] = args.batch_size
    if args.recipe:
        train["recipe"] = args.recipe
    if args.set:
        train.update(parse_key_values(args.set, "--set"))
    values["train"] = train
    if args.name:
        values["name"] = args.name
    if values.get("run_folds") is None:
        values.pop("run_folds", None)
    spec = study_from_dict(values, source="command line" if folder is None else str(folder / "study.yaml"))
    output = Path(args.output) if args.output else (folder if folder is not None else Path("studies") / spec.name)
    return spec, output


def run(args: argparse.Namespace) -> int:
    import sys

    from deepshrink.experiments.presets import PRESETS

    if args.list_presets:
        for name in sorted(PRESETS):
            print(f"{name:<8} {PRESETS[name].get('description', '')}")
        return 0
    spec, output = resolve_study(args)
    if args.print_study:
        from deepshrink.experiments.study import study_to_yaml

        sys.stdout.write(study_to_yaml(spec))
        return 0
    if args.report:
        from deepshrink.experiments.report import format_console_table, write_study_report
        from deepshrink.experiments.study import expand_runs, read_results

        rows = read_results(output / "results.csv")
        path = write_study_report(output, spec=spec if not (output / "study.yaml").is_file() else None)
        left = len({r.run_id for r in expand_runs(spec)} - {r["run_id"] for r in rows})
        print(format_console_table(rows, spec))
        print(f"wrote {path}" + (f" ({left} run(s) of the study not finished yet)" if left else ""))
        return 0

    from deepshrink.experiments.study import expand_runs, parse_shard

    shard = parse_shard(args.shard)
    total = len(expand_runs(spec))
    if args.dry_run:
        from deepshrink.experiments.study import default_stack, plan_cohorts, shard_device

        stack = args.stack if args.stack is not None else default_stack(shard_device(args.device), None, total)
        cohorts = plan_cohorts(spec, expand_runs(spec), max(1, stack))[shard[0] :: shard[1]]
        mine = [r for c in cohorts for r in c]
        print(f"study {spec.name}: {total} runs; shard {shard[0]}/{shard[1]} takes {len(mine)}"
              + (f" in {len(cohorts)} cohort(s) of up to {stack} stacked runs" if stack > 1 else "") + ":")  # fmt: skip
        for k, c in enumerate(cohorts):
            for r in c:
                print(f"  {r.run_id}" + (f"   (cohort {k})" if stack > 1 else ""))
        return 0
    if args.stack is not None and args.stack < 1:
        from deepshrink.cli import UsageError

        raise UsageError(f"--stack must be >= 1 (1 trains the runs one by one), got {args.stack}")
    if args.jobs > 1 and shard[1] > 1:
        from deepshrink.cli import UsageError

        raise UsageError("--jobs and --shard/torchrun do not combine: use one or the other")
    if args.jobs > 1:
        from deepshrink.experiments.parallel import run_study_parallel

        progress = run_study_parallel(spec, output, jobs=args.jobs, threads_per_job=args.threads or 1, device=args.device,
                                      save_runs=not args.no_save_runs, force=args.force, max_runs=args.max_runs,
                                      stack=args.stack, oversubscribe=args.oversubscribe)  # fmt: skip
    else:
        from deepshrink.experiments.study import run_study

        progress = run_study(spec, output, shard=shard, device=args.device, num_threads=args.threads,
                             save_runs=not args.no_save_runs, force=args.force, max_runs=args.max_runs,
                             stack=args.stack)  # fmt: skip
    if progress.report is not None:
        from deepshrink.experiments.report import format_console_table
        from deepshrink.experiments.study import read_results

        print(format_console_table(read_results(output / "results.csv"), spec))
        print(f"report: {progress.report}")
    elif progress.remaining:
        print(f"{progress.remaining} run(s) of {progress.total} not finished yet (other shards, or --max-runs); "
              f"rerun to resume, or `deepshrink benchmark {output} --report` for a report of what is done")  # fmt: skip
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "benchmark",
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

    g = p.add_argument_group("study overrides")
    g.add_argument("--name", help="study name")
    g.add_argument("--models", metavar="A,B", help="comma-separated model names")
    g.add_argument("--noises", metavar="A,B", help="comma-separated noise kinds (gaussian, laplacian, pink, ...)")
    g.add_argument("--snrs", metavar="SPEC", help="SNRs: --snrs=-5,0 or --snrs=-5:5:1")
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
    g.add_argument("--epochs", type=_int_in(1, 1_000_000), metavar="N", help="epochs per run")
    g.add_argument("--batch-size", type=_int_in(1, 1 << 24), metavar="N", help="batch size")
    g.add_argument("--recipe", choices=["paper", "adamw"], help="training recipe")
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help="any training config key (YAML value); repeatable")

    g = p.add_argument_group("execution")
    g.add_argument("--jobs", "-j", type=_int_in(1, 1024), default=1, metavar="N", help="local worker processes (default 1)")
    g.add_argument("--threads", type=_int_in(1, 4096), metavar="N", help="torch threads per process (default: 1 with --jobs, else torch's)")
    g.add_argument("--stack", type=_int_in(1, 4096), metavar="S",
                   help="train up to S runs of a model together as one stacked network (1: one by one; "
                        "default: from the device and memory, up to 16 on a CPU, 64 on a GPU)")  # fmt: skip
    g.add_argument("--oversubscribe", action="store_true",
                   help="run --jobs x --threads even when that exceeds the cores (default: cut to fit)")
    g.add_argument("--shard", metavar="I/N", help="run shard I of N (default RANK/WORLD_SIZE under torchrun)")
    g.add_argument("--device", default="auto", help="auto (a GPU per shard when there are GPUs), cpu, cuda:N")
    g.add_argument("--max-runs", type=_int_in(1, 10**9), metavar="N", help="stop after N runs (resume later)")
    g.add_argument("--no-save-runs", action="store_true", help="do not keep run folders (weights, checkpoints)")
    g.add_argument("--force", action="store_true", help="start over in OUTPUT (deletes its results)")
    p.set_defaults(func=run)
