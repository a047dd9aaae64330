"""``deepshrink data``: describe a dataset (classes, counts, lengths, sampling rate), plot examples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from deepshrink.errors import ConfigError
from deepshrink.figures import new_figure, save_png
from deepshrink.train.config import parse_key_values
from deepshrink.train.prepare import load_data_spec

EPILOG = """\
examples:
  deepshrink data simulator --data-arg window=1024 --data-arg recordings_per_condition=1
  deepshrink data ucr:FordA --plot forda.png
  deepshrink data path/to/set.npz --json
"""


def describe_text(info: dict) -> str:
    """The dataset summary as aligned text."""
    rate = info.get("sampling_rate")
    lines = [
        f"dataset       {info['name']}",
        f"observations  {info['num_observations']}",
        f"shape         {info['num_channels']} channel(s) x {info['length']} samples",
        f"sampling rate {'unknown' if rate is None else f'{rate:g} Hz'}"
        + ("" if info.get("duration_s") is None else f"  ({info['duration_s']:.4g} s per observation)"),
        f"recordings    {info['num_recordings']}",
        f"classes       {info['num_classes']}",
    ]
    width = max(len(c) for c in info["classes"])
    for c in info["classes"]:
        lines.append(f"  {c:<{width}}  {info['class_counts'][c]:>7} observations  {info['recordings_per_class'][c]:>5} recordings")
    if info.get("conditions"):
        lines.append("conditions")
        for key, values in info["conditions"].items():
            lines.append(f"  {key}: {values}")
    if info.get("noise"):
        lines.append(f"noise         {info['noise']}")
    return "\n".join(lines)


def plot_examples(ds, path: str, per_class: int = 3, seed: int = 0) -> None:
    """A PNG grid: one row per class, ``per_class`` example observations (first channel)."""
    rng = np.random.default_rng(seed)
    y = ds.y.cpu().numpy()
    k = ds.num_classes
    fig = new_figure(3.2 * per_class, 1.4 * k + 0.6)
    t = np.arange(ds.length) / (ds.sampling_rate or 1.0)
    for c, name in enumerate(ds.label_names):
        idx = np.flatnonzero(y == c)
        chosen = rng.choice(idx, size=min(per_class, idx.size), replace=False) if idx.size else []
        for j in range(per_class):
            ax = fig.add_subplot(k, per_class, c * per_class + j + 1)
            if j < len(chosen):
                ax.plot(t, ds.x[int(chosen[j]), 0].cpu().numpy(), lw=0.5)
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
            if c == k - 1:
                ax.set_xlabel("time (s)" if ds.sampling_rate else "sample", fontsize=7)
    fig.suptitle(f"{ds.name}: {per_class} examples per class", fontsize=9)
    save_png(fig, path, dpi=100)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.per_class <= 50:
        raise ConfigError(f"--per-class must be in [1, 50], got {args.per_class}")
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise ConfigError(f"--plot {args.plot}: the folder {Path(args.plot).parent} does not exist")
    ds = load_data_spec(args.spec, parse_key_values(args.data_arg, "--data-arg"))
    info = ds.describe()
    print(json.dumps(info, indent=2) if args.json else describe_text(info))
    if args.plot:
        plot_examples(ds, args.plot, per_class=args.per_class)
        if not args.json:
            print(f"wrote {args.plot}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data",
        help="describe a dataset: classes, counts, lengths, sampling rate; plot examples",
        description="Load a dataset as training would (same spec and loader arguments) and describe it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("spec", metavar="SPEC", help="simulator, cwru, ucr:NAME, or a path (.npz file, folder)")
    p.add_argument("--data-arg", action="append", metavar="KEY=VALUE", help="loader argument, e.g. window=1024; repeatable")
    p.add_argument("--plot", metavar="PNG", help="write a PNG with a few examples per class")
    p.add_argument("--per-class", type=int, default=3, metavar="N", help="examples per class in --plot (default 3)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run)
