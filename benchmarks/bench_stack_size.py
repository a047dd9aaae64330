"""How many runs to stack into one cohort on the CPU: samples/s of the same network at several S.

    python benchmarks/bench_stack_size.py                                       # the presets' cases
    python benchmarks/bench_stack_size.py --model resnet14_1d --batch-size 64 --length 500 --stacks 2 4 8 16

Each S is one stacked network of S runs (AdamW, ``--batch-size`` windows per run), trained in
interleaved rounds so a changing load falls on every S alike; the median samples/s per S. Beside
it the step's largest feature map (S x batch x the network's largest map per sample, float32),
the quantity :func:`deepshrink.study.plan.default_stack` keeps near
:data:`~deepshrink.study.plan.CPU_STEP_MAP_BYTES` on a CPU.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from deepshrink.models import create_model
from deepshrink.models.footprint import largest_feature_map
from deepshrink.models.stacked import stack_models, stacked_cross_entropy
from deepshrink.seeds import seed_everything
from deepshrink.study.plan import CPU_STEP_MAP_BYTES

CASES = [  # (model, batch, length, stacks): the demo/quick/arena networks and recommend_ucr's on FordA
    ("drsn_cw_paper6", 32, 1024, [4, 8, 16, 32]),
    ("drsn_cw_paper6", 128, 1024, [2, 4, 8, 16]),
    ("resnet14_1d", 64, 500, [2, 4, 8, 16]),
]


def measure(model_name: str, batch: int, length: int, stacks: list[int], rounds: int) -> None:
    per_sample = largest_feature_map(create_model(model_name, input_length=length), (1, length))
    steps = {}
    for s in stacks:
        seed_everything(0)
        model = stack_models([create_model(model_name, in_channels=1, num_classes=4) for _ in range(s)])
        opt = torch.optim.AdamW(model.parameters())
        x, y = torch.randn(batch, s, length), torch.randint(0, 4, (batch, s))

        def step(model=model, opt=opt, x=x, y=y) -> None:
            opt.zero_grad(set_to_none=True)
            stacked_cross_entropy(model(x), y).backward()
            opt.step()

        steps[s] = step
    rates: dict[int, list[float]] = {s: [] for s in stacks}
    for _ in range(rounds):
        for s, step in steps.items():
            step()
            n = max(1, 16 // s)
            start = time.perf_counter()
            for _ in range(n):
                step()
            rates[s].append(s * batch * n / (time.perf_counter() - start))
    best = max(statistics.median(r) for r in rates.values())
    for s, r in rates.items():
        mib = 4 * s * batch * per_sample / 2**20
        print(f"| {model_name} | {batch} | {length} | {s} | {mib:.1f} | {statistics.median(r):.0f} | "
              f"{statistics.median(r) / best:.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--stacks", nargs="+", type=int, default=[2, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [(args.model, args.batch_size, args.length, args.stacks)] if args.model else CASES
    print(f"# {platform.machine()}, torch {torch.__version__}, 1 thread; budget {CPU_STEP_MAP_BYTES / 2**20:g} MiB")
    print("| model | batch | length | S | largest map of a step (MiB) | samples/s (median) | of the best |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model_name, batch, length, stacks in cases:
        measure(model_name, batch, length, stacks, args.rounds)


if __name__ == "__main__":
    main()
