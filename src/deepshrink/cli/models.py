"""``deepshrink models``: list the registered models or describe one."""

from __future__ import annotations

import argparse

import torch

from deepshrink.errors import ConfigError, ShapeError
from deepshrink.models import ResidualNet, create_model, describe_model, list_models


def model_summary(name: str, in_channels: int = 1, num_classes: int = 8, length: int | None = None) -> str:
    """A readable summary of a model: its arguments, parameter count and per-stage output shapes."""
    model = create_model(name, in_channels=in_channels, num_classes=num_classes, input_length=length).eval()
    dims = model.spatial_dims
    length = model.config.get("input_length", 2048 if dims == 1 else 32) if length is None else length
    limit = {1: 1 << 18, 2: 1024, 3: 128}[dims]
    if not 1 <= length <= limit:
        raise ConfigError(f"--length must be in [1, {limit}] for a {dims}-D model, got {length}")
    x = torch.zeros((1, in_channels) + (length,) * dims)
    lines = [f"{name}: {model.num_parameters():,} parameters"]
    lines += [f"  {k} = {v}" for k, v in model.config.items()]
    try:
        shapes = _layer_shapes(model, x)
    except (RuntimeError, ShapeError) as err:
        raise ConfigError(f"--length {length} does not fit {name}: {str(err).strip().splitlines()[-1]}") from None
    lines.append(f"  input {tuple(x.shape[1:])}")
    for layer, shape in shapes:
        lines.append(f"  {layer} -> {shape}")
    pool = "global average pool -> " if isinstance(model, ResidualNet) or "input_length" not in model.config else ""
    lines.append(f"  head: {pool}FC({model.num_features} -> {num_classes})")
    return "\n".join(lines)


def _layer_shapes(model: torch.nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(what, output shape) of each part of the feature extractor: ResidualNet's stem and
    stages, or each top-level layer of another architecture, in the order they run."""
    if isinstance(model, ResidualNet):
        parts = [("stem", model.stem)] + [(f"stage {i + 1}: {len(s)} units", s) for i, s in enumerate(model.stages)]
    else:
        parts = [(f"{name} {i + 1}: {type(m).__name__}", m) for name, group in model.named_children()
                 if isinstance(group, (torch.nn.Sequential, torch.nn.ModuleList)) for i, m in enumerate(group)]  # fmt: skip
    shapes: list[tuple[str, tuple[int, ...]]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out, what=what: shapes.append((what, tuple(out.shape[1:]))))
             for what, m in parts]  # fmt: skip
    try:
        with torch.no_grad():
            model.forward_features(x)
    finally:
        for h in hooks:
            h.remove()
    return shapes


def run(args: argparse.Namespace) -> int:
    if args.name:
        print(model_summary(args.name, args.in_channels, args.num_classes, args.length))
        return 0
    names = list_models(args.pattern)
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {describe_model(name)}")
    return 0


WHICH = """\
which to use (measured: docs/results.md, section 8):
  up to a few thousand series (UCR scale)   resnet14_1d or se_resnet14_1d (drsn_cw14_1d for shrinkage: not
                                            ahead of them), with --recipe adamw --noise-protocol fresh
  reproducing the paper                     *_paper, *_paper6, *_paper9 with the paper recipe
  larger sets, long signals                 *18_1d, *34_1d: not measured here yet (a GPU job)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help="list registered models, or describe one",
        description="List the registered models with a line on each (optionally filtered by a pattern such as 'drsn_cw*'), "
        "or print the summary of one with --summary NAME.",
        epilog=WHICH,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'drsn_*_paper'")
    p.add_argument("--summary", dest="name", metavar="NAME", help="describe this model: arguments, parameters, shapes")
    p.add_argument("--in-channels", type=int, default=1, help="input channels for --summary (default 1)")
    p.add_argument("--num-classes", type=int, default=8, help="classes for --summary (default 8)")
    p.add_argument("--length", type=int, default=None, help="input length (or image size) for --summary")
    p.set_defaults(func=run)
