"""``deepshrink train``: train a model from a YAML config and/or flags; resume a run.

One flag per setting comes from :class:`~deepshrink.train.config.TrainConfig`'s declaration;
this module adds the flags that are no setting (``--config``, ``--set``, ``--print-config``,
the run folder), parses and calls the library.
"""

from __future__ import annotations

import argparse
import re
import sys

from deepshrink.cli import UsageError
from deepshrink.cli.flags import add_old_spelling
from deepshrink.train.config import TrainConfig, layered_config, resolve, to_yaml
from deepshrink.train.run import train
from deepshrink.settings import add_flags, flag_values

NEGATIVE_SPEC = re.compile(r"^-\d*\.?\d+([:,]-?\d*\.?\d+)*$")

EPILOG = """\
examples:
  deepshrink train --model drsn_cw_paper --data simulator --noise gaussian --snr -5:5 --epochs 100
  deepshrink train --config run.yaml --epochs 20 --output runs/quick
  deepshrink train --config run.yaml --print-config        # show the resolved config, train nothing
  deepshrink train --resume runs/20250101-120000-drsn_cw_paper-simulator
  torchrun --nproc_per_node=4 -m deepshrink.train --config run.yaml   # DDP, same global batch

Settings come from, in order: defaults < --config FILE < flags < --set KEY=VALUE;
every setting is a flag and a YAML key (docs/config.md lists them).
SNR specs: --snr 0 (one SNR), --snr -5:5 (uniform in a range, per observation),
--snr -5:5:1 (the set -5, -4, ..., 5, balanced over the observations), --snr -5,0,5.
--batch-size is the global batch: with N processes under torchrun each takes batch/N.
The run folder (default runs/<stamp>-<model>-<data>/) gets config.yaml, metrics.csv,
train.log, config.json + model.safetensors, last.ckpt and the test report.
"""


def run(args: argparse.Namespace) -> int:
    if args.resume is not None and (args.output is not None or args.force):
        flag = "--output" if args.output is not None else "--force"
        raise UsageError(f"deepshrink train: --resume continues RUN_DIR in place; {flag} cannot be combined with it")
    cfg = layered_config(config=args.config, resume=args.resume, flags=flag_values(args, TrainConfig), sets=args.set)
    if args.snr is not None and cfg.noise == "none":
        raise UsageError("deepshrink train: --snr needs a noise kind, but noise is 'none' (give --noise gaussian, ...)")
    if args.print_config:
        sys.stdout.write(to_yaml(resolve(cfg), comments=True))
        return 0
    result = train(cfg, output=args.output, runs_root=args.runs_root, force=args.force, resume=args.resume)
    if result.run_dir is not None and result.test_report is not None:
        print(f"done: {result.run_dir}")
    return 0


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
    add_flags(p, TrainConfig)
    g = p.add_argument_group("run folder")
    g.add_argument("--output", "-o", metavar="DIR", help="run folder (default RUNS_ROOT/<stamp>-<model>-<data>)")
    g.add_argument("--runs-root", default="runs", metavar="DIR", help="parent of auto-named run folders (default runs)")
    g.add_argument("--force", action="store_true", help="overwrite an existing --output run folder")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last.ckpt (uses its config.yaml)")
    # let SNR specs that start with '-' ("-5:5", "-5,0,5") be values, not options
    p._negative_number_matcher = NEGATIVE_SPEC
    add_old_spelling(p, "--num-threads", "--threads")
    p.set_defaults(func=run)
