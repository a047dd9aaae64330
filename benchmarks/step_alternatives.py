"""Ways to run one stacked cohort step on the CPU, timed against each other in one process.

    python benchmarks/step_alternatives.py                                   # drsn_cw_paper6, S = 1 4 16, batch 32
    python benchmarks/step_alternatives.py --stacks 4 --batch-size 128 --variants eager compiled

Each variant trains the same stacked network (S runs, ``--batch-size`` windows of 1,024 points
per run (``--length``), the paper recipe's SGD step) in interleaved rounds of 5 steps, so a load that comes and
goes falls on every variant alike; the table gives the median and the best round. Variants:

- ``eager``: the library as it is;
- ``compiled``: ``torch.compile`` of the model's forward (compilation time printed, not timed);
- ``conv_channels_last``: every 1-D convolution run as a 2-D one on a channels-last copy of its
  input (oneDNN's fastest layout for 4-16 channels in isolation), the result copied back;
- ``conv_native``: oneDNN off, ATen's own convolution kernels.

These are the experiments behind the "what did not pay" list in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from deepshrink.models import create_model
from deepshrink.models.stacked import stack_models, stacked_cross_entropy
from deepshrink.seeds import seed_everything

VARIANTS = ("eager", "compiled", "conv_channels_last", "conv_native")


def _conv_channels_last(self: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    y = F.conv2d(x4, self.weight.unsqueeze(2), self.bias, (1, self.stride[0]), (0, self.padding[0]), 1, self.groups)
    return y.squeeze(2).contiguous()


@contextlib.contextmanager
def _variant(name: str) -> Iterator[None]:
    if name == "conv_channels_last":
        plain, nn.Conv1d.forward = nn.Conv1d.forward, _conv_channels_last  # type: ignore[method-assign]
        try:
            yield
        finally:
            nn.Conv1d.forward = plain  # type: ignore[method-assign]
    elif name == "conv_native":
        with torch.backends.mkldnn.flags(enabled=False):
            yield
    else:
        yield


def _stepper(model: nn.Module, forward: Callable, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        stacked_cross_entropy(forward(x), y).backward()
        opt.step()

    return step


def measure(model_name: str, stack: int, batch: int, variants: list[str], rounds: int,
            length: int = 1024) -> dict[str, list[float]]:
    """ms per step of each variant, one entry per round."""
    seed_everything(0)
    model = stack_models([create_model(model_name, in_channels=1, num_classes=8) for _ in range(stack)])
    x, y = torch.randn(batch, stack, length), torch.randint(0, 8, (batch, stack))
    steps = {}
    for name in variants:
        forward = model
        if name == "compiled":
            forward = torch.compile(model)
            start = time.perf_counter()
            _stepper(model, forward, x, y)()
            print(f"# S={stack}: compiling took {time.perf_counter() - start:.0f} s")
        steps[name] = _stepper(model, forward, x, y)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name in variants:
            with _variant(name):
                steps[name]()
                start = time.perf_counter()
                for _ in range(5):
                    steps[name]()
                times[name].append((time.perf_counter() - start) / 5 * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="drsn_cw_paper6")
    parser.add_argument("--stacks", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--length", type=int, default=1024, help="points per window (default 1024, the demo's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.machine()}, torch {torch.__version__}, 1 thread, {args.model}, batch {args.batch_size} per run, "
          f"{args.length}-point windows")
    print("| S | variant | median ms/step | best ms/step | samples/s (median) | × eager |")
    print("|---:|---|---:|---:|---:|---:|")
    for stack in args.stacks:
        times = measure(args.model, stack, args.batch_size, args.variants, args.rounds, args.length)
        base = statistics.median(times[args.variants[0]])
        for name, t in times.items():
            med = statistics.median(t)
            print(f"| {stack} | {name} | {med:.1f} | {min(t):.1f} | {stack * args.batch_size / med * 1e3:.0f} | {base / med:.2f} |")


if __name__ == "__main__":
    main()
