"""Where compiling a study's cohort pays on the CPU: compile time, step time eager and compiled,
and the break-even number of steps, through the engine's own Trainer, in one process.

For each case (a network, a cohort of S runs, a batch and a window length, on the simulator),
two Trainers train the same stacked runs, one with ``compile: false`` and one with ``compile:
true``. The compiled one's first epoch (compiling included, inductor's cache empty: a fresh
cache folder) is timed against the eager one's first epoch; then the two train in alternate
epochs, so a load that comes and goes falls on both, and the medians give the step times.
Break-even = (compiled first epoch - eager first epoch) / (eager step - compiled step): the
number of steps after which compiling has paid; ``CPU_COMPILE_MIN_STEPS`` in
deepshrink.train.compiling is set from it.

    python benchmarks/bench_compile_auto.py                      # the quick and recommend_ucr cohorts
    python benchmarks/bench_compile_auto.py --cases drsn_cw_paper6:9:32:1024 --epochs 6
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-cold-"))  # before torch: cold

import torch  # noqa: E402

from deepshrink.data import load_dataset  # noqa: E402
from deepshrink.models import create_model  # noqa: E402
from deepshrink.models.stacked import stack_models  # noqa: E402
from deepshrink.seeds import seed_everything  # noqa: E402
from deepshrink.train.config import TrainConfig  # noqa: E402
from deepshrink.train.engine import Trainer  # noqa: E402
from deepshrink.train.prepare import prepare_data  # noqa: E402

CASES = ("resnet_paper6:9:32:1024", "drsn_cw_paper6:9:32:1024", "resnet14_1d:4:64:500", "drsn_cw14_1d:4:64:500")
"""model:S:batch:length; the first two are a `quick` cohort, the last two one of recommend_ucr on FordA."""


def trainer(model: str, stack: int, batch: int, length: int, compiled: bool) -> Trainer:
    ds = load_dataset("simulator", recordings_per_condition=4, windows_per_recording=8, window=length)
    cfgs = [TrainConfig(model=model, data="simulator", noise="gaussian", snr=0.0, seed=i, epochs=1000, batch_size=batch,
                        test_fraction=0.25, val_fraction=0.0, device="cpu", progress="off", compile=compiled)
            for i in range(stack)]  # fmt: skip
    datas = [prepare_data(c, ds) for c in cfgs]
    nets = []
    for c, d in zip(cfgs, datas):
        seed_everything(c.seed)
        nets.append(create_model(model, in_channels=d.in_channels, num_classes=len(d.label_names)))
    return Trainer(cfgs[0], stack_models(nets), [d.train for d in datas], None, seeds=[c.seed for c in cfgs],
                   log=lambda line: print(line) if line.startswith("warning") else None)


def epoch_seconds(t: Trainer) -> float:
    start = time.perf_counter()
    t._train_epoch()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), help="model:S:batch:length")
    p.add_argument("--epochs", type=int, default=5, help="timed epochs of each side after the first (default 5)")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.machine()}, torch {torch.__version__}, 1 thread, inductor cache {os.environ['TORCHINDUCTOR_CACHE_DIR']}")
    print("| model | S | batch | length | steps/epoch | eager ms/step | compiled ms/step | × eager "
          "| compiling (s) | break-even steps |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        model, stack, batch, length = case.split(":")
        stack, batch, length = int(stack), int(batch), int(length)
        eager, compiled = (trainer(model, stack, batch, length, c) for c in (False, True))
        steps = eager.steps_per_epoch
        first_eager, first_compiled = epoch_seconds(eager), epoch_seconds(compiled)
        times: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(args.epochs):
            times["eager"].append(epoch_seconds(eager) / steps)
            times["compiled"].append(epoch_seconds(compiled) / steps)
        e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
        overhead = first_compiled - first_eager
        even = overhead / (e - c) if e > c else float("inf")
        assert compiled.forward_model.is_compiled, "the compiled side fell back to eager"
        print(f"| {model} | {stack} | {batch} | {length} | {steps} | {e * 1e3:.1f} | {c * 1e3:.1f} | {e / c:.2f} "
              f"| {overhead:.0f} | {even:,.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
