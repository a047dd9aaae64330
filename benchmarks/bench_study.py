"""Samples/s of the study runner's training loop: a cohort of runs stacked vs the same runs one at a time.

Both sides are the engine's own loop (:class:`deepshrink.train.Trainer`), in one process, on
the same S runs of a study (each with its own seed, split and noise): once as one stacked
network (a cohort, as ``deepshrink study --stack S`` trains them) and once one run after
the other (``--stack 1``). Data preparation is outside the timing (it is the same for both).
The ratio, not the absolute rate, is what to compare across machines.

    python benchmarks/bench_study.py                                  # CPU: 16 drsn_cw_paper runs, eager
    python benchmarks/bench_study.py --runs 8 --model drsn_cw_paper6 --epochs 1
    python benchmarks/bench_study.py --device cuda --runs 64 --batch-size 128 --modes eager compile reduce-overhead

On a shared CPU use ``--timer process`` (CPU time of this single-threaded process): wall time
then mostly measures the other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import torch

from deepshrink.data import load_dataset
from deepshrink.models import create_model
from deepshrink.models.stacked import stack_models
from deepshrink.train.config import TrainConfig, resolve
from deepshrink.train.distributed import DistContext
from deepshrink.seeds import seed_everything
from deepshrink.train.engine import Trainer
from deepshrink.train.prepare import prepare_data

NOISES = ("gaussian", "laplacian", "pink")


def _clock(kind: str, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.process_time() if kind == "process" else time.perf_counter()


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    ds = load_dataset("simulator", **json.loads(args.data_args))
    cfgs = [resolve(TrainConfig(model=args.model, data="simulator", noise=NOISES[i % 3], snr=float(-5 + 5 * (i % 2)),
                                seed=i, epochs=args.epochs, batch_size=args.batch_size, test_fraction=0.25,
                                val_fraction=0.0, device=args.device, progress="off", amp=args.amp))
            for i in range(args.runs)]  # fmt: skip
    datas = [prepare_data(c, ds) for c in cfgs]
    steps = min(len(d.train) for d in datas) // args.batch_size
    # equal steps per epoch (a cohort needs them): trim every training set to the same size
    for d in datas:
        d.train = d.train.subset(range(steps * args.batch_size))
    ctx = DistContext(device=device)

    def models():
        out = []
        for c, d in zip(cfgs, datas):
            seed_everything(c.seed)
            out.append(create_model(c.model, in_channels=d.in_channels, num_classes=len(d.label_names)))
        return out

    results = []
    for mode in args.modes:
        compiled = mode != "eager"
        compile_mode = "reduce-overhead" if mode == "reduce-overhead" else None
        row: dict[str, Any] = {"mode": mode}
        for side in ("stacked", "one_at_a_time"):
            if side == "stacked":
                trainers = [Trainer(cfgs[0].replace(compile=compiled), stack_models(models()), [d.train for d in datas],
                                    None, seeds=[c.seed for c in cfgs], ctx=ctx, compile_mode=compile_mode)]  # fmt: skip
            else:  # compiled, each run is its own compilation: time the first few and take the rate
                k = args.runs if not compiled else min(args.runs, args.single_runs)
                trainers = [Trainer(c.replace(compile=compiled), m, d.train, None, ctx=ctx, compile_mode=compile_mode)
                            for c, m, d in list(zip(cfgs, models(), datas))[:k]]  # fmt: skip
            warm = 1 if args.warmup and (compiled or device.type == "cuda") else 0
            for t in trainers:  # compilation / CUDA graph capture outside the timing
                t.cfg = t.cfg.replace(epochs=args.epochs + warm)
                if warm:
                    t._train_epoch()
            start = _clock(args.timer, device)
            for t in trainers:
                while t.epoch < args.epochs + warm:
                    t._train_epoch()
            seconds = _clock(args.timer, device) - start
            samples = sum(t.stack for t in trainers) * steps * args.batch_size * args.epochs
            row[side] = {"seconds": round(seconds, 3), "samples_per_s": round(samples / seconds, 1)}
        row["speedup"] = round(row["stacked"]["samples_per_s"] / row["one_at_a_time"]["samples_per_s"], 2)
        results.append(row)
        print(f"{mode:>16}: stacked {row['stacked']['samples_per_s']:9.1f} samples/s, one at a time "
              f"{row['one_at_a_time']['samples_per_s']:9.1f} samples/s: {row['speedup']:.2f}x", flush=True)  # fmt: skip
    return {
        "runs": args.runs, "model": args.model, "batch_size": args.batch_size, "steps_per_epoch": steps,
        "epochs": args.epochs, "device": str(device), "threads": args.threads, "timer": args.timer,
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "results": results,
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=16, help="runs in the cohort (default 16)")
    p.add_argument("--model", default="drsn_cw_paper")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--data-args", default='{"recordings_per_condition": 4, "windows_per_recording": 8, "window": 1024}',
                   help="simulator arguments as JSON (default: the quick preset's data)")  # fmt: skip
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"])
    p.add_argument("--modes", nargs="+", default=["eager"], choices=["eager", "compile", "reduce-overhead"])
    p.add_argument("--single-runs", type=int, default=4,
                   help="compiled modes: runs timed one at a time (each compiles anew; default 4)")
    p.add_argument("--timer", default="wall", choices=["wall", "process"])
    p.add_argument("--no-warmup", dest="warmup", action="store_false", help="time the first (compiling) epoch too")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    out = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
