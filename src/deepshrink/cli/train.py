"""``deepshrink train``: train a model from a YAML config and/or flags; resume a run."""

from __future__ import annotations

import argparse
import re
import sys

NEGATIVE_SPEC = re.compile(r"^-\d*\.?\d+([:,]-?\d*\.?\d+)*$")

EPILOG = """\
examples:
  deepshrink train --model drsn_cw_paper --data simulator --noise gaussian --snr -5:5 --epochs 100
  deepshrink train --config run.yaml --epochs 20 --output runs/quick
  deepshrink train --config run.yaml --print-config        # show the resolved config, train nothing
  deepshrink train --resume runs/20250101-120000-drsn_cw_paper-simulator
  torchrun --nproc_per_node=4 -m deepshrink.train --config run.yaml   # DDP, same global batch

Settings come from, in order: defaults < --config FILE < flags < --set KEY=VALUE.
SNR specs: --snr 0 (one SNR), --snr -5:5 (uniform in a range, per observation),
--snr -5:5:1 (the set -5, -4, ..., 5, balanced over the observations), --snr -5,0,5.
--batch-size is the global batch: with N processes under torchrun each takes batch/N.
The run folder (default runs/<stamp>-<model>-<data>/) gets config.yaml, metrics.csv,
train.log, config.json + model.safetensors, last.ckpt and the test report.
"""

# flag dest -> config key
_FLAG_KEYS = {
    "model": "model", "data": "data", "noise": "noise", "snr": "snr", "noise_protocol": "noise_protocol",
    "split": "split", "test_fraction": "test_fraction", "val_fraction": "val_fraction", "normalize": "normalize",
    "recipe": "recipe", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
    "grad_clip": "grad_clip", "early_stopping": "early_stopping", "seed": "seed", "device": "device", "amp": "amp",
    "compile": "compile", "num_threads": "num_threads", "checkpoint_every": "checkpoint_every",
    "progress": "progress", "sync_bn": "sync_bn", "keep": "keep", "eval_batch_size": "eval_batch_size",
}  # fmt: skip


def build_config(args: argparse.Namespace):
    """The TrainConfig from --config / --resume's config.yaml, then flags, then --set."""
    from pathlib import Path

    from deepshrink.cli import UsageError
    from deepshrink.errors import CheckpointError
    from deepshrink.train.config import TrainConfig, apply_overrides, load_config, parse_key_values

    if args.resume is not None and (args.output is not None or args.force):
        flag = "--output" if args.output is not None else "--force"
        raise UsageError(f"deepshrink train: --resume continues RUN_DIR in place; {flag} cannot be combined with it")
    if args.config is not None:
        cfg = load_config(args.config)
    elif args.resume is not None:
        saved = Path(args.resume) / "config.yaml"
        if not Path(args.resume).is_dir():
            raise CheckpointError(f"{args.resume}: run folder to resume does not exist")
        if not saved.is_file():
            raise CheckpointError(f"{saved}: missing; cannot resume a folder that is not a deepshrink run")
        cfg = load_config(saved)
    else:
        cfg = TrainConfig()
    flags = {key: getattr(args, dest) for dest, key in _FLAG_KEYS.items() if getattr(args, dest) is not None}
    if args.model_arg:
        flags["model_args"] = {**cfg.model_args, **parse_key_values(args.model_arg, "--model-arg")}
    if args.data_arg:
        flags["data_args"] = {**cfg.data_args, **parse_key_values(args.data_arg, "--data-arg")}
    if args.test_condition:
        flags["test_conditions"] = {
            k: v if isinstance(v, list) else [v] for k, v in parse_key_values(args.test_condition, "--test-condition").items()
        }
        flags.setdefault("split", "condition")
    cfg = apply_overrides(cfg, flags, source="command line")
    if args.set:
        cfg = apply_overrides(cfg, parse_key_values(args.set, "--set"), source="--set")
    if args.snr is not None and cfg.noise == "none":
        raise UsageError("deepshrink train: --snr needs a noise kind, but noise is 'none' (give --noise gaussian, ...)")
    return cfg


def run(args: argparse.Namespace) -> int:
    from deepshrink.train.config import resolve, to_yaml

    cfg = build_config(args)
    if args.print_config:
        sys.stdout.write(to_yaml(resolve(cfg)))
        return 0
    from deepshrink.train.run import train

    result = train(cfg, output=args.output, runs_root=args.runs_root, force=args.force, resume=args.resume)
    if result.run_dir is not None and result.test_report is not None:
        print(f"done: {result.run_dir}")
    return 0


def _snr(text: str) -> float | str:
    """A plain number becomes a float; ranges and sets stay text (checked by the config)."""
    try:
        return float(text)
    except ValueError:
        return text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (YAML config + flags), or resume a run",
        description="Train a model on a dataset with noise at a given SNR, with the paper's recipe\n"
        "(SGD momentum 0.9, lr 0.1 / 0.01 / 0.001 split at 40% / 80% of the epochs, batch 128,\n"
        "weight decay 1e-4 on conv and linear weights) or --recipe adamw (AdamW, warm-up + cosine).\n"
        "Writes a run folder; a killed run continues where it stopped with --resume RUN_DIR.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    g = p.add_argument_group("config")
    g.add_argument("--config", metavar="FILE", help="YAML file of settings (keys: see --print-config)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help="set any config key (YAML value); repeatable")
    g.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")

    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="NAME", help="registered model name, e.g. drsn_cw_paper (see `deepshrink models`)")
    g.add_argument("--model-arg", action="append", metavar="KEY=VALUE", help="model argument, e.g. drop_rate=0.1; repeatable")

    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC", help="dataset: simulator, cwru, ucr:NAME or a path (.npz, folder)")
    g.add_argument("--data-arg", action="append", metavar="KEY=VALUE", help="loader argument, e.g. window=1024; repeatable")
    g.add_argument("--noise", choices=["none", "gaussian", "laplacian", "uniform", "pink", "brown"], help="noise kind")
    g.add_argument("--snr", type=_snr, metavar="SPEC", help="SNR in dB: 0, -5:5 (range), -5:5:1 or -5,0,5 (a set)")
    g.add_argument("--noise-protocol", choices=["fixed", "fresh"], help="noise drawn once (fixed, the paper's) or each epoch")
    g.add_argument("--split", choices=["recording", "condition", "predefined"], help="how the test set is held out")
    g.add_argument("--test-fraction", type=float, metavar="F", help="share of recordings for test (split recording)")
    g.add_argument("--test-condition", action="append", metavar="KEY=VALUES", help="test condition, e.g. speed_hz=40 (implies --split condition)")
    g.add_argument("--val-fraction", type=float, metavar="F", help="share of training recordings for validation (0: none)")
    g.add_argument("--normalize", choices=["none", "per_sample"], help="input standardisation")

    g = p.add_argument_group("optimisation")
    g.add_argument("--recipe", choices=["paper", "adamw"], help="paper (SGD, step lr) or adamw (AdamW, warm-up + cosine)")
    g.add_argument("--epochs", type=int, metavar="N", help="number of epochs")
    g.add_argument("--batch-size", type=int, metavar="N", help="GLOBAL batch size (split over torchrun processes)")
    g.add_argument("--lr", type=float, help="base learning rate (default from the recipe)")
    g.add_argument("--weight-decay", type=float, help="weight decay on conv/linear weights (default from the recipe)")
    g.add_argument("--grad-clip", type=float, metavar="NORM", help="clip the gradient norm")
    g.add_argument("--early-stopping", type=int, metavar="PATIENCE", help="stop after this many epochs without improvement")
    g.add_argument("--keep", choices=["best", "last"], help="weights saved as model.safetensors")
    g.add_argument("--seed", type=int, help="seed of initialisation, shuffling, splits and noise")

    g = p.add_argument_group("runtime")
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--amp", choices=["auto", "bf16", "off"], help="mixed precision (auto: bf16 on CUDA, off on CPU)")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the model")
    g.add_argument("--sync-bn", action=argparse.BooleanOptionalAction, default=None, help="synchronise BatchNorm under DDP (default on)")
    g.add_argument("--num-threads", type=int, metavar="N", help="CPU threads per process")
    g.add_argument("--eval-batch-size", type=int, metavar="N", help="batch size for validation and test")
    g.add_argument("--checkpoint-every", type=int, metavar="STEPS", help="also checkpoint every N steps (0: epoch ends)")
    g.add_argument("--progress", choices=["auto", "bar", "log", "off"], help="progress bar (auto: on a terminal)")

    g = p.add_argument_group("run folder")
    g.add_argument("--output", metavar="DIR", help="run folder (default RUNS_ROOT/<stamp>-<model>-<data>)")
    g.add_argument("--runs-root", default="runs", metavar="DIR", help="parent of auto-named run folders (default runs)")
    g.add_argument("--force", action="store_true", help="overwrite an existing --output run folder")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last.ckpt (uses its config.yaml)")
    # let SNR specs that start with '-' ("-5:5", "-5,0,5") be values, not options
    p._negative_number_matcher = NEGATIVE_SPEC
    p.set_defaults(func=run)
