"""Training throughput of every arena model, against the paper's ResNet in the same run.

The arena puts networks of very different cost in one study: the paper's 6-unit networks and
their shrinkage variants, WDCNN, the Fawaz et al. FCN / ResNet and InceptionTime at their
published size, and MiniRocket. This measures what one training step costs each of them
(forward, backward, SGD step on one thread, batch 32) at the lengths the presets use, in
interleaved rounds (every model once per round, the median over rounds), and MiniRocket's fit
and predict time on the same windows. The ratio to ``resnet_paper6`` is what carries across
machines; the absolute samples/s are this machine's.

    python benchmarks/bench_arena_models.py                         # lengths 1024 (simulator) and 500 (FordA)
    python benchmarks/bench_arena_models.py --lengths 96 --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch

import deepshrink
from deepshrink.study.presets import ARENA_MODELS

FIELD = ["fcn", "fawaz_resnet", "inception_time"]
REFERENCE = "resnet_paper6"


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer) -> float:
    start = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - start


def rocket_seconds(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError:
        return None
    clf = MiniRocketClassifier(random_state=0, n_jobs=1)
    clf.fit(x[:64], y[:64])  # numba compiles (or loads its cache) outside the timing
    start = time.perf_counter()
    clf.fit(x, y)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    clf.predict(x)
    return fit, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 500])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model and round")
    parser.add_argument("--rocket-windows", type=int, default=1024)
    parser.add_argument("--json", help="write the raw numbers here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    names = [m for m in ARENA_MODELS if m != "minirocket"] + FIELD
    out: dict = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                 "torch": torch.__version__, "batch_size": args.batch_size, "lengths": {}}  # fmt: skip
    for length in args.lengths:
        x = torch.randn(args.batch_size, 1, length)
        y = torch.randint(0, 8, (args.batch_size,))
        nets = {}
        for name in names:
            if name == "wdcnn" and length < 1009:
                continue
            model = deepshrink.create_model(name, num_classes=8, input_length=length).train()
            nets[name] = (model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
            step_seconds(model, x, y, nets[name][1])  # warm-up
        times: dict[str, list[float]] = {n: [] for n in nets}
        for _ in range(args.rounds):
            for name, (model, opt) in nets.items():
                times[name].append(statistics.median(step_seconds(model, x, y, opt) for _ in range(args.steps)))
        rows = {}
        ref = statistics.median(times[REFERENCE])
        for name, t in times.items():
            sec = statistics.median(t)
            rows[name] = {"step_ms": 1000 * sec, "samples_per_s": args.batch_size / sec, "x_resnet": sec / ref,
                          "parameters": nets[name][0].num_parameters()}  # fmt: skip
        rng = np.random.default_rng(0)
        xr = rng.standard_normal((args.rocket_windows, 1, length)).astype(np.float32)
        rocket = rocket_seconds(xr, rng.integers(0, 8, args.rocket_windows))
        if rocket is not None:
            rows["minirocket"] = {"fit_s_per_1000": 1000 * rocket[0] / args.rocket_windows,
                                  "predict_s_per_1000": 1000 * rocket[1] / args.rocket_windows}  # fmt: skip
        out["lengths"][str(length)] = rows
        print(f"\nlength {length}, batch {args.batch_size}, 1 thread (median of {args.rounds} rounds)")
        print("| model | parameters | step ms | samples/s | x ResNet (paper6) |\n|---|---:|---:|---:|---:|")
        for name, r in rows.items():
            if name == "minirocket":
                continue
            print(f"| {name} | {r['parameters']:,} | {r['step_ms']:.1f} | {r['samples_per_s']:.0f} | {r['x_resnet']:.2f} |")
        if "minirocket" in rows:
            r = rows["minirocket"]
            print(f"MiniRocket: fit {r['fit_s_per_1000']:.2f} s and predict {r['predict_s_per_1000']:.2f} s per 1,000 windows")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
