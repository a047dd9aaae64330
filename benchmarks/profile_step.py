"""Where a stacked cohort's training step spends its time on the CPU, against what the machine can do.

    python benchmarks/profile_step.py                          # paper6 and paper, cohorts of 1, 4, 16
    python benchmarks/profile_step.py --models drsn_cw_paper6 --stacks 4 --steps 5

For each model and cohort size S: one stacked network of S runs, batch 128 per run, 1,024-point
windows (the demo's); after warm-up steps, ``torch.profiler`` over ``--steps`` optimiser steps
gives the time per step and the top operators by self CPU time. Beside them, the step's work:
the FLOPs of the convolutions and linear layers (forward + backward, about 3x the forward's
multiply-adds x 2) and a lower bound of the bytes it must move (every activation written once
and read once in the forward, twice in the backward). The machine's own rates, measured in the
same process on one thread: a large copy (bytes/s) and a float32 matmul (FLOP/s). Their ratio
gives the roofline: the best time the step could take, and which bound holds.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from deepshrink.models import create_model
from deepshrink.models.stacked import stack_models
from deepshrink.seeds import seed_everything
from deepshrink.train.schedule import build_optimizer
from deepshrink.train.config import TrainConfig


def machine_rates(seconds: float = 0.5) -> tuple[float, float]:
    """(bytes/s of a 64 MiB copy, FLOP/s of a 1024^2 float32 matmul) on this thread."""
    src = torch.empty(16 * 2**20)
    dst = torch.empty_like(src)
    dst.copy_(src)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        dst.copy_(src)
        n += 1
    copy = 2 * src.numel() * 4 * n / (time.perf_counter() - start)  # read + write
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return copy, 2 * 1024**3 * n / (time.perf_counter() - start)


def step_work(model: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(FLOPs, bytes) of one training step: forward multiply-adds x 2 x 3, activations moved."""
    flops, bytes_moved = [0.0], [0.0]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if isinstance(output, torch.Tensor):
            bytes_moved[0] += output.numel() * output.element_size() * 3  # written, read forward, read backward
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            per_out = module.weight.shape[1] * module.weight[0, 0].numel()
            flops[0] += 2 * output.numel() * per_out * 3
        elif isinstance(module, nn.Linear):
            flops[0] += 2 * output.numel() * module.in_features * 3

    hooks = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return flops[0], bytes_moved[0]


def profile_one(name: str, stack: int, steps: int, batch: int, length: int) -> dict:
    seed_everything(0)
    models = [create_model(name, in_channels=1, num_classes=8) for _ in range(stack)]
    model = stack_models(models) if stack > 1 else models[0]
    cfg = TrainConfig(model=name, recipe="paper")
    optimizer = build_optimizer(cfg, model)
    x = torch.randn(batch, stack, length)
    y = torch.randint(0, 8, (batch, stack) if stack > 1 else (batch,))

    def step() -> None:
        logits = model(x)
        logits = logits.reshape(batch, stack, -1) if stack > 1 else logits
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        seconds = (time.perf_counter() - start) / steps
    flops, moved = step_work(model, x)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8)
    return {"model": name, "stack": stack, "seconds": seconds, "samples_per_s": batch * stack / seconds,
            "flops": flops, "bytes": moved, "table": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["drsn_cw_paper6", "drsn_cw_paper"])
    parser.add_argument("--stacks", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--no-table", action="store_true", help="only the summary lines")
    args = parser.parse_args()
    torch.set_num_threads(1)
    copy_rate, matmul_rate = machine_rates()
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread: "
          f"copy {copy_rate / 1e9:.2f} GB/s, matmul {matmul_rate / 1e9:.1f} GFLOP/s")
    print("| model | S | ms/step | samples/s | GFLOP/step | MB/step | roofline ms | bound | of roofline |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    tables = []
    for name in args.models:
        for stack in args.stacks:
            r = profile_one(name, stack, args.steps, args.batch_size, args.length)
            compute, memory = r["flops"] / matmul_rate, r["bytes"] / copy_rate
            best = max(compute, memory)
            print(f"| {name} | {stack} | {1e3 * r['seconds']:.1f} | {r['samples_per_s']:.0f} | {r['flops'] / 1e9:.2f} | "
                  f"{r['bytes'] / 1e6:.0f} | {1e3 * best:.1f} | {'compute' if compute > memory else 'memory'} | "
                  f"{100 * best / r['seconds']:.0f} % |")
            tables.append((name, stack, r["table"]))
    if not args.no_table:
        for name, stack, table in tables:
            print(f"\n## {name}, cohort of {stack}: top operators by self CPU time\n\n```\n{table}\n```")


if __name__ == "__main__":
    main()
