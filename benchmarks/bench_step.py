"""Training-step time and memory of DRSN-CW / DRSN-CS against ResNet, and a naive DRSN port.

Everything is measured in the same run, so the ratios (not the absolute times) are what to
compare across machines. The naive reference is written here the way public ports write it:
``sign(x) * max(|x| - tau, 0)`` with separate tensor ops, GAP of |x| by plain autograd and the
shortcut added afterwards. It shares the skeleton and the gate's weights with our DRSN-CW, so
the only difference is the shrinkage epilogue.

    python benchmarks/bench_step.py                       # CPU: paper preset, eager
    python benchmarks/bench_step.py --device cuda --modes eager compile --presets paper 18_1d
    python benchmarks/bench_step.py --json out.json

Memory: on CUDA the peak allocated memory of a training step; on CPU the bytes autograd keeps
for the backward pass (saved activations), counted exactly with saved-tensor hooks.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

import torch
from torch import Tensor, nn

import deepshrink
from deepshrink.layers.gates import GateMLP, Shrinkage

PRESETS = {"paper": ("_paper", 128), "18_1d": ("18_1d", 256)}


class NaiveShrinkage(nn.Module):
    """DRSN-CW shrinkage as the public ports write it (plain autograd, separate ops)."""

    def __init__(self, gate: GateMLP) -> None:
        super().__init__()
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        a = torch.mean(torch.abs(x), dim=-1)
        tau = (self.gate(a) * a).unsqueeze(-1)
        return torch.sign(x) * torch.max(torch.abs(x) - tau, torch.zeros_like(x))


def naive_drsn(name: str) -> nn.Module:
    """Our DRSN-CW with every Shrinkage swapped for :class:`NaiveShrinkage` (same weights)."""
    model = deepshrink.create_model(name)
    for unit in model.modules():
        if isinstance(getattr(unit, "gate", None), Shrinkage):
            unit.gate = NaiveShrinkage(unit.gate.gate)
    return model


def build(kind: str, suffix: str) -> nn.Module:
    if kind == "naive_drsn_cw":
        return naive_drsn(f"drsn_cw{suffix}")
    return deepshrink.create_model(f"{kind}{suffix}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def saved_bytes(model: nn.Module, x: Tensor, y: Tensor) -> int:
    """Bytes autograd keeps for backward in one forward pass (CPU memory proxy)."""
    total = 0
    seen: set[int] = set()
    params = {p.data_ptr() for p in model.parameters()}

    def pack(t: Tensor) -> Tensor:
        nonlocal total
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen and ptr not in params and ptr != x.data_ptr():
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nn.functional.cross_entropy(model(x), y)
    del loss
    return total


TIMERS = {"wall": time.perf_counter, "process": time.process_time}
_timer = time.perf_counter


def time_steps(model: nn.Module, x: Tensor, y: Tensor, iters: int, warmup: int, amp: bool) -> tuple[float, float, int]:
    """Median and spread (ms) of full training steps, and peak memory (bytes)."""
    device = x.device
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    times = []
    for _ in range(iters):
        t0 = _timer()
        step()
        _sync(device)
        times.append((_timer() - t0) * 1e3)
    peak = torch.cuda.max_memory_allocated() - base if device.type == "cuda" else 0
    spread = statistics.pstdev(times) if len(times) > 1 else 0.0
    return statistics.median(times), spread, peak


def bandwidth(device: torch.device, numel: int, iters: int) -> dict[str, float]:
    """Effective bandwidth of soft_threshold forward against a plain device copy (read + write)."""
    from deepshrink.functional import soft_threshold, soft_threshold_reference

    x = torch.randn(numel // 2048, 1, 2048, device=device)
    tau = torch.rand(x.shape[0], 1, 1, device=device) * 0.5
    out = torch.empty_like(x)
    fns = {
        "copy": lambda: out.copy_(x),
        "soft_threshold": lambda: soft_threshold(x, tau),
        "naive_soft_threshold": lambda: soft_threshold_reference(x, tau),
    }
    if device.type == "cuda":
        fns["soft_threshold_compiled"] = torch.compile(lambda: soft_threshold(x, tau))
    result = {}
    nbytes = 2 * x.numel() * x.element_size()
    with torch.no_grad():
        for name, fn in fns.items():
            for _ in range(3):
                fn()
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(iters):
                fn()
            _sync(device)
            result[name] = nbytes * iters / (time.perf_counter() - t0) / 1e9
    return result


def stacked_throughput(device: torch.device, stacks: list[int], mode: str, amp: bool, length: int, iters: int) -> list[dict]:
    """Samples/s of S paper-preset DRSN-CW runs trained at once, each with its own batch of 128."""
    from deepshrink.models.stacked import stack_models, stacked_cross_entropy

    rows = []
    for s in stacks:
        torch.manual_seed(0)
        model = stack_models([deepshrink.create_model("drsn_cw_paper") for _ in range(s)]).to(device).train()
        x = torch.randn(128, s, length, device=device)
        y = torch.randint(0, 8, (128, s), device=device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = stacked_cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=False)

        run = step
        if mode != "eager":
            run = torch.compile(step, mode=None if mode == "compile" else "reduce-overhead")
        for _ in range(3):
            run()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            run()
        _sync(device)
        ms = (time.perf_counter() - t0) / iters * 1e3
        rows.append(dict(stack=s, mode=mode, step_ms=ms, samples_per_s=128 * s / ms * 1e3))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--presets", nargs="+", default=["paper"], choices=list(PRESETS))
    parser.add_argument("--modes", nargs="+", default=["eager"], choices=["eager", "compile", "reduce-overhead"])
    parser.add_argument("--models", nargs="+", default=["resnet", "drsn_cw", "drsn_cs", "naive_drsn_cw"])
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=None, help="override the preset's batch size")
    parser.add_argument("--iters", type=int, default=None, help="timed steps (default 30 on GPU, 8 on CPU)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--timer", choices=list(TIMERS), default="wall",
        help="wall clock, or process CPU time (steadier on a shared CPU; with --threads 1 it is the compute time)",
    )  # fmt: skip
    parser.add_argument("--stacks", nargs="*", type=int, default=[], help="also measure S stacked paper DRSN-CW runs, e.g. 1 16 64")
    parser.add_argument("--skip-steps", action="store_true", help="only the stacked throughput and bandwidth")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global _timer
    _timer = TIMERS[args.timer]
    device = torch.device(args.device)
    iters = args.iters or (30 if device.type == "cuda" else 8)
    warmup = 5 if device.type == "cuda" else 2
    info: dict[str, Any] = {
        "torch": torch.__version__, "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(), "length": args.length, "amp": args.amp, "date": time.strftime("%Y-%m-%d"),
        "timer": args.timer,
    }  # fmt: skip
    rows = []
    for preset in [] if args.skip_steps else args.presets:
        suffix, batch = PRESETS[preset]
        batch = args.batch or batch
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, 1, args.length, generator=g).to(device)
        y = torch.randint(0, 8, (batch,), generator=g).to(device)
        for mode in args.modes:
            results = {}
            for kind in args.models:
                torch.manual_seed(0)
                model = build(kind, suffix).to(device).train()
                mem_proxy = saved_bytes(model, x, y)
                run = model
                if mode != "eager":
                    torch._dynamo.reset()
                    run = torch.compile(model, mode=None if mode == "compile" else "reduce-overhead")
                ms, sd, peak = time_steps(run, x, y, iters, warmup, args.amp)
                results[kind] = dict(ms=ms, sd=sd, peak_bytes=peak, saved_bytes=mem_proxy)
            base = results.get("resnet")
            for kind, r in results.items():
                row = dict(preset=preset, batch=batch, mode=mode, model=kind, **r)
                if base:
                    row["time_ratio"] = r["ms"] / base["ms"]
                    row["saved_ratio"] = r["saved_bytes"] / base["saved_bytes"]
                    row["peak_ratio"] = r["peak_bytes"] / base["peak_bytes"] if base["peak_bytes"] else None
                rows.append(row)
    bw = bandwidth(device, 2**26 if device.type == "cuda" else 2**22, 50 if device.type == "cuda" else 10)

    print(f"# {info['date']}  {info['device']}  torch {info['torch']}  threads {info['threads']}  amp {args.amp}  timer {args.timer}")
    print(f"{'preset':7} {'batch':>5} {'mode':15} {'model':14} {'step ms':>9} {'±':>6} {'×ResNet':>8} {'saved MB':>9} {'×ResNet':>8} {'peak MB':>8} {'×ResNet':>8}")
    for r in rows:
        peak = f"{r['peak_bytes'] / 2**20:8.1f}" if r["peak_bytes"] else f"{'-':>8}"
        peak_ratio = f"{r['peak_ratio']:8.2f}" if r.get("peak_ratio") else f"{'-':>8}"
        print(
            f"{r['preset']:7} {r['batch']:5d} {r['mode']:15} {r['model']:14} {r['ms']:9.2f} {r['sd']:6.2f} "
            f"{r.get('time_ratio', float('nan')):8.2f} {r['saved_bytes'] / 2**20:9.1f} {r.get('saved_ratio', float('nan')):8.2f} {peak} {peak_ratio}"
        )
    stacked = [r for mode in args.modes for r in stacked_throughput(device, args.stacks, mode, args.amp, args.length, iters)]
    for r in stacked:
        print(f"stacked paper DRSN-CW x{r['stack']:<4d} {r['mode']:15} step {r['step_ms']:8.2f} ms  {r['samples_per_s']:12,.0f} samples/s")
    print("soft-threshold forward bandwidth (GB/s, read+write): " + ", ".join(f"{k} {v:.1f}" for k, v in bw.items()))
    print(f"soft_threshold / copy: {bw['soft_threshold'] / bw['copy']:.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(info=info, steps=rows, stacked=stacked, bandwidth_gbps=bw), f, indent=2)


if __name__ == "__main__":
    main()
