"""Do our networks learn at least as well as a naive PyTorch port of the very same networks?

The naive port below is written the way a user ports the paper in an afternoon: plain
``nn.Conv1d`` / ``nn.BatchNorm1d`` / ``nn.Linear`` with PyTorch's default initialisation,
``sign(x) * max(|x| - tau, 0)`` with separate ops, the same widths, blocks and paper shortcut
as our ``*_paper`` / ``*_paper6`` presets. It shares no code with deepshrink's layers.

Every implementation is trained on the same data (the same split, noise and batches for a given
seed) by the same loop, deepshrink's :class:`~deepshrink.train.engine.Trainer`, so only the
network differs. ``naive_ulp`` is the port with every threshold one float32 ulp larger: the
control that says how far rounding alone moves a run. ``naive_plain`` also swaps the loop for a plain PyTorch one (AdamW on every
parameter + ``OneCycleLR``, or SGD + ``MultiStepLR``), to check our loop against it.

    python benchmarks/training_quality.py forda        # FordA + Gaussian -5 dB, AdamW, 5 seeds
    python benchmarks/training_quality.py forda_sgd    # the same with the paper's SGD recipe (lr 0.1)
    python benchmarks/training_quality.py simulator    # the demo's data at 0 dB, paper SGD, 3 seeds
    python benchmarks/training_quality.py forda simulator --jobs 2   # both recipes, one command
    python benchmarks/training_quality.py forda --impls naive ours --seeds 0 1 --jobs 2
    python benchmarks/training_quality.py digits --impls ours_he_normal ours   # 2-D: the two inits
    python benchmarks/training_quality.py forda --diagnose   # residual-branch scale at init

Each finished run is appended to ``<out>/<preset>/runs.jsonl`` (default ``benchmarks/quality``) (a rerun skips what is there), and
``table.md`` beside it gets mean +- std over seeds per implementation, and the paired difference of
each implementation to the first of ``--impls`` (``naive`` by default; same seed, same data) with its standard error and a 95 %
t-interval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

PRESETS: dict[str, dict[str, Any]] = {
    "forda": dict(
        data="ucr:FordA", data_args={}, split="predefined", noise="gaussian", snr=-5.0, val_fraction=0.0,
        recipe="adamw", lr=3e-3, weight_decay=0.05, warmup_epochs=3.0, epochs=30, batch_size=64,
        depth=4, seeds=[0, 1, 2, 3, 4],
    ),
    "forda_sgd": dict(  # the paper's recipe on FordA, where DRSN-CW once sat near chance for 5 epochs
        data="ucr:FordA", data_args={}, split="predefined", noise="gaussian", snr=-5.0, val_fraction=0.0,
        recipe="paper", epochs=30, batch_size=64, depth=4, seeds=[0, 1, 2, 3, 4],
    ),
    "simulator": dict(
        data="simulator", data_args={"recordings_per_condition": 4, "windows_per_recording": 8, "window": 1024},
        split="recording", test_fraction=0.25, noise="gaussian", snr=0.0, val_fraction=0.0,
        recipe="paper", epochs=60, batch_size=32, depth=2, seeds=[0, 1, 2],
    ),
    # 2-D: scikit-learn's 8x8 digits, Gaussian noise at 0 dB, CIFAR-style nets with one unit per
    # stage, trained through DRSNClassifier (the paper's recipe). No naive 2-D port: compare the inits.
    "digits": dict(recipe="paper", epochs=15, batch_size=64, snr=0.0, seeds=[0, 1, 2, 3, 4]),
}
FAMILIES = ("resnet", "drsn_cs", "drsn_cw")
IMPLS = ("naive", "naive_plain", "naive_ulp", "ours", "ours_he_normal")
GATES = {"resnet": None, "drsn_cs": "cs", "drsn_cw": "cw"}


# ---------------------------------------------------------------------- the naive port
class NaiveShrink(nn.Module):
    """tau = sigmoid(FC(ReLU(BN(FC(GAP|x|))))) * GAP|x| (CS: one tau shared by all channels)."""

    def __init__(self, channels: int, shared: bool, nudge: float = 0.0) -> None:
        super().__init__()
        self.shared, self.nudge = shared, nudge
        self.fc = nn.Sequential(
            nn.Linear(channels, channels), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Linear(channels, 1 if shared else channels), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        a = x.abs().mean(-1)  # (N, C)
        tau = self.fc(a) * (a.mean(1, keepdim=True) if self.shared else a)
        tau = tau.unsqueeze(-1) * (1 + self.nudge) if self.nudge else tau.unsqueeze(-1)
        return torch.sign(x) * torch.max(x.abs() - tau, torch.zeros_like(x))


class NaiveUnit(nn.Module):
    """BN-ReLU-Conv-BN-ReLU-Conv [-> shrink] + (subsampled, zero-padded) input."""

    def __init__(self, cin: int, cout: int, stride: int, gate: str | None, nudge: float = 0.0) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm1d(cin), nn.ReLU(), nn.Conv1d(cin, cout, 3, stride, 1),
            nn.BatchNorm1d(cout), nn.ReLU(), nn.Conv1d(cout, cout, 3, 1, 1),
        )  # fmt: skip
        self.shrink = None if gate is None else NaiveShrink(cout, shared=gate == "cs", nudge=nudge)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x: Tensor) -> Tensor:
        r = self.branch(x)
        if self.shrink is not None:
            r = self.shrink(r)
        s = x[..., :: self.stride]
        if self.pad:
            s = nn.functional.pad(s, (0, 0, self.pad // 2, self.pad - self.pad // 2))
        return r + s


class NaiveNet(nn.Module):
    """Table II: Conv(4, k3, /2), three stages of ``depth`` units (4/8/16 channels, first /2), BN-ReLU-GAP-FC."""

    def __init__(self, in_channels: int, num_classes: int, gate: str | None, depth: int = 4, nudge: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(in_channels, 4, 3, 2, 1)]
        cin = 4
        for width in (4, 8, 16):
            for i in range(depth):
                layers.append(NaiveUnit(cin, width, 2 if i == 0 else 1, gate, nudge))
                cin = width
        layers += [nn.BatchNorm1d(cin), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).mean(-1))


# ---------------------------------------------------------------------- one run
def _config(preset: dict[str, Any], seed: int, epochs: int | None) -> Any:
    from deepshrink.train.config import TrainConfig, resolve

    keys = {k: v for k, v in preset.items() if k not in ("depth", "seeds")}
    if epochs is not None:
        keys["epochs"] = epochs
    return resolve(TrainConfig(**keys, seed=seed, device="cpu", progress="off", num_threads=1))


def build(impl: str, family: str, depth: int, in_channels: int, num_classes: int) -> nn.Module:
    import deepshrink

    if impl.startswith("naive"):
        # naive_ulp: every threshold one float32 ulp larger, a control for how far rounding alone
        # moves a run (our fused kernels round differently from the port's separate ops)
        return NaiveNet(in_channels, num_classes, GATES[family], depth, nudge=2.0**-23 if impl == "naive_ulp" else 0.0)
    name = f"{family}_paper" if depth == 4 else f"{family}_paper{3 * depth}"
    init = "he_normal" if impl == "ours_he_normal" else "torch"
    return deepshrink.create_model(name, in_channels=in_channels, num_classes=num_classes, init=init)


def _plain_optimizer(cfg: Any, model: nn.Module) -> torch.optim.Optimizer:
    """The recipe's optimiser as a naive port writes it: every parameter decays."""
    if cfg.recipe == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _plain_loop(cfg: Any, model: nn.Module, train: Any) -> None:
    """The loop a naive port comes with: every parameter decays, torch's own schedulers."""
    from deepshrink.train.distributed import epoch_permutation  # same batches as the Trainer

    steps = len(train) // cfg.batch_size
    opt = _plain_optimizer(cfg, model)
    if cfg.recipe == "adamw":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps)
    else:
        miles = [int(round(m * cfg.epochs)) * steps for m in cfg.milestones]
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, miles, gamma=cfg.lr_decay)
    model.train()
    for epoch in range(cfg.epochs):
        if hasattr(train, "set_epoch"):
            train.set_epoch(epoch)
        perm = epoch_permutation(len(train), cfg.seed, epoch)
        for step in range(steps):
            idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            loss = nn.functional.cross_entropy(model(train.x[idx]), train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()


@torch.no_grad()
def _accuracy(model: nn.Module, ds: Any) -> float:
    from deepshrink.predict.batch import predict_logits

    return float((predict_logits(model, ds.x).argmax(1) == ds.y).float().mean())


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (impl, family, seed) and return its accuracies."""
    torch.set_num_threads(1)
    from deepshrink.seeds import seed_everything
    from deepshrink.train.engine import Trainer
    from deepshrink.train.prepare import prepare_data

    if job["preset"] == "digits":
        return _run_digits(job)
    preset = PRESETS[job["preset"]]
    cfg = _config(preset, job["seed"], job.get("epochs"))
    data = prepare_data(cfg)
    seed_everything(cfg.seed)
    model = build(job["impl"], job["family"], preset["depth"], data.in_channels, len(data.label_names))
    started = time.process_time()
    if job["impl"] == "naive_plain":
        _plain_loop(cfg, model, data.train)
        history = [{"train_acc": float("nan")}]  # the plain loop keeps no running accuracy
    else:
        trainer = Trainer(cfg, model, data.train, None)
        history = trainer.fit()
    return {
        **job,
        "test_acc": _accuracy(model, data.test),
        "train_acc_last_epoch": history[-1]["train_acc"],
        "train_acc_eval": _accuracy(model, data.train),
        "cpu_seconds": round(time.process_time() - started, 1),
    }


def _run_digits(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from deepshrink.noise import add_noise
    from deepshrink.sklearn import DRSNClassifier

    if job["impl"] not in ("ours", "ours_he_normal"):
        raise SystemExit("digits: only --impls ours ours_he_normal (there is no naive 2-D port)")
    preset = PRESETS["digits"]
    digits = load_digits()
    x = torch.from_numpy((digits.images / 16.0).astype(np.float32)[:, None])  # (1797, 1, 8, 8)
    x = add_noise(x, preset["snr"], "gaussian", generator=1000 + job["seed"]).numpy()
    tr, te = train_test_split(np.arange(len(x)), test_size=0.2, stratify=digits.target, random_state=job["seed"])
    init = "he_normal" if job["impl"] == "ours_he_normal" else "torch"
    clf = DRSNClassifier(
        f"{job['family']}20_2d", model_args={"depths": (1, 1, 1), "init": init}, epochs=job.get("epochs") or preset["epochs"],
        batch_size=preset["batch_size"], random_state=job["seed"], device="cpu", num_threads=1,
    )  # fmt: skip
    started = time.process_time()
    clf.fit(x[tr], digits.target[tr])
    return {
        **job, "test_acc": float(clf.score(x[te], digits.target[te])), "train_acc_last_epoch": float("nan"),
        "train_acc_eval": float(clf.score(x[tr], digits.target[tr])), "cpu_seconds": round(time.process_time() - started, 1),
    }  # fmt: skip


# ---------------------------------------------------------------------- diagnosis
@torch.no_grad()
def diagnose(preset_name: str, seeds: list[int]) -> str:
    """Per unit: RMS of the residual branch over RMS of the shortcut it is added to, at init."""
    from deepshrink.seeds import seed_everything
    from deepshrink.train.prepare import prepare_data

    preset = PRESETS[preset_name]
    cfg = _config(preset, 0, 1)
    data = prepare_data(cfg)
    x = data.train.x[:256]
    lines = [
        "| impl | family | branch/shortcut RMS, unit 1 ... last | logit std | conv weight RMS | "
        "relative step of conv weights, first 20 steps |",
        "|---|---|---|---|---|---|",
    ]
    for impl in ("naive", "ours", "ours_he_normal"):
        for family in FAMILIES:
            ratios: list[list[float]] = []
            stds, rms, steps = [], [], []
            for seed in seeds:
                seed_everything(seed)
                model = build(impl, family, preset["depth"], data.in_channels, len(data.label_names)).train()
                units = [m for m in model.modules() if type(m).__name__ in ("NaiveUnit", "BasicBlock")]
                found: list[float] = []

                def hook(mod: nn.Module, inp: tuple[Tensor], out: Tensor) -> None:
                    shortcut = inp[0][..., :: -(-inp[0].shape[-1] // out.shape[-1])]
                    pad = out.shape[1] - shortcut.shape[1]  # the paper's shortcut: zero channels, half each side
                    branch = out - nn.functional.pad(shortcut, (0, 0, pad // 2, pad - pad // 2))
                    found.append(float(branch.pow(2).mean().sqrt() / shortcut.pow(2).mean().sqrt().clamp_min(1e-12)))

                handles = [u.register_forward_hook(hook) for u in units]
                logits = model(x)
                for h in handles:
                    h.remove()
                ratios.append(found)
                stds.append(float(logits.std()))
                convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv1d)]
                rms.append(statistics.fmean(float(w.pow(2).mean().sqrt()) for w in convs))
                steps.append(_relative_step(model, convs, data.train, cfg))
            mean = [statistics.fmean(r[i] for r in ratios) for i in range(len(ratios[0]))]
            lines.append(
                f"| {impl} | {family} | {' '.join(f'{v:.2f}' for v in mean)} | {statistics.fmean(stds):.3f} | "
                f"{statistics.fmean(rms):.3f} | {statistics.fmean(steps):.2e} |"
            )
    return "\n".join(lines)


@torch.enable_grad()
def _relative_step(model: nn.Module, weights: list[Tensor], train: Any, cfg: Any) -> float:
    """Median over conv weights of ||w_20 - w_0|| / ||w_0|| after 20 steps of the recipe's optimiser."""
    start = [w.detach().clone() for w in weights]
    opt = _plain_optimizer(cfg, model)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = torch.randint(len(train), (cfg.batch_size,), generator=g)
        loss = nn.functional.cross_entropy(model(train.x[idx]), train.y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return statistics.median(float((w.detach() - w0).norm() / w0.norm()) for w, w0 in zip(weights, start))


# ---------------------------------------------------------------------- table
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def table(rows: list[dict[str, Any]], impls: list[str], families: list[str]) -> str:
    out = [
        f"| family | impl | test acc % (mean ± std) | train acc % | min seed | paired diff to {impls[0]} (± SE) | 95 % CI | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for family in families:
        base = {r["seed"]: r["test_acc"] for r in rows if r["family"] == family and r["impl"] == impls[0]}
        for impl in impls:
            sel = sorted((r for r in rows if r["family"] == family and r["impl"] == impl), key=lambda r: r["seed"])
            if not sel:
                continue
            acc = [100 * r["test_acc"] for r in sel]
            tr = [100 * r["train_acc_eval"] for r in sel]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            diff_txt, ci_txt = "", ""
            diffs = [100 * (r["test_acc"] - base[r["seed"]]) for r in sel if r["seed"] in base]
            if impl != impls[0] and len(diffs) > 1:
                m, se = statistics.fmean(diffs), statistics.stdev(diffs) / math.sqrt(len(diffs))
                t = _T975.get(len(diffs) - 1, 1.96)
                diff_txt, ci_txt = f"{m:+.1f} ± {se:.1f}", f"[{m - t * se:+.1f}, {m + t * se:+.1f}]"
            out.append(
                f"| {family} | {impl} | {statistics.fmean(acc):.1f} ± {sd:.1f} | {statistics.fmean(tr):.1f} | "
                f"{min(acc):.1f} | {diff_txt} | {ci_txt} | {len(acc)} |"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("presets", nargs="+", choices=sorted(PRESETS), help="one or more (each gets its own table)")
    p.add_argument("--impls", nargs="+", choices=IMPLS, default=["naive", "ours", "ours_he_normal"])
    p.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the preset's")
    p.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    p.add_argument("--jobs", type=int, default=1, help="processes, one thread each")
    p.add_argument("--out", default=None, help="parent of the <preset> folders; default: benchmarks/quality")
    p.add_argument("--diagnose", action="store_true", help="print the residual-branch scale at init and exit")
    args = p.parse_args(argv)
    for name in args.presets:
        if args.diagnose:
            print(diagnose(name, args.seeds or PRESETS[name]["seeds"]))
        else:
            compare(name, args, " ".join(sys.argv[1:] if argv is None else argv))
    return 0


def compare(name: str, args: argparse.Namespace, cmd: str) -> None:
    """Train what is missing of preset ``name``, then write and print its table."""
    preset = PRESETS[name]
    seeds = args.seeds or preset["seeds"]
    out = Path(args.out or Path(__file__).parent / "quality") / name
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    key = lambda j: (j["preset"], j["impl"], j["family"], j["seed"], j.get("epochs"))  # noqa: E731
    have = {key(r) for r in done}
    jobs = [
        {"preset": name, "impl": impl, "family": fam, "seed": s, "epochs": args.epochs}
        for s in seeds for fam in args.families for impl in args.impls
    ]  # fmt: skip
    todo = [j for j in jobs if key(j) not in have]
    print(f"{len(jobs)} runs, {len(jobs) - len(todo)} already done, {args.jobs} process(es)", flush=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.jobs > 1 and todo:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1) as pool:
            results = pool.imap_unordered(run_one, todo)
            for r in results:
                _record(log, r, done)
    else:
        for j in todo:
            _record(log, run_one(j), done)
    wanted = {key(j) for j in jobs}
    rows = [r for r in done if key(r) in wanted]
    text = table(rows, args.impls, args.families)
    (out / "table.md").write_text(f"`python benchmarks/training_quality.py {cmd}`\n\n{text}\n")
    print(f"{name}:\n{text}")


def _record(log: Path, row: dict[str, Any], done: list[dict[str, Any]]) -> None:
    done.append(row)
    with log.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(
        f"{row['impl']:>15} {row['family']:>8} seed {row['seed']}: test {100 * row['test_acc']:.1f} %, "
        f"train {100 * row['train_acc_eval']:.1f} % ({row['cpu_seconds']} s)",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
