"""How a study's runs are grouped and shared out: cohorts of runs trained as one stacked network
(:func:`plan_cohorts`, :func:`default_stack`), each cohort's checkpoint folder, and each shard's
share of the cohorts (:func:`shard_cohorts`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import torch

from deepshrink.errors import ConfigError, DeepshrinkError
from deepshrink.models import create_model
from deepshrink.models.footprint import largest_feature_map
from deepshrink.study.rocket import is_rocket
from deepshrink.study.spec import RunSpec, StudySpec

__all__ = ["plan_cohorts", "default_stack", "step_map_bytes", "cohort_dir", "shard_cohorts", "shard_plan", "note_orphans",
           "CPU_STEP_MAP_BYTES"]  # fmt: skip

CPU_STEP_MAP_BYTES = 4 * 2**20
"""On a CPU, the largest feature map of a cohort's step (runs x batch x a network's largest map per
sample, float32) that keeps it fast: samples/s peak at 4-8 MiB and fall 10-18 % at 16 MiB
(benchmarks/RESULTS.md, "How many runs to stack on the CPU")."""


def _stackable(spec: StudySpec) -> bool:
    """Runs can share one stacked network exactly unless the model draws random numbers (dropout)."""
    return float((spec.train.get("model_args") or {}).get("drop_rate", 0.0) or 0.0) == 0.0


def plan_cohorts(spec: StudySpec, runs: Sequence[RunSpec], stack: int) -> list[list[RunSpec]]:
    """Group ``runs`` into cohorts of up to ``stack`` runs of one model and one value of each
    study axis (the rest of the training settings all runs share), in run order, as few and as
    even as possible; cohorts are ordered by their first run, so ``stack=1`` gives the runs one
    by one, in order. A study with dropout is never stacked. Only runs that train are planned
    (``clean``-protocol cells at a noise level test their clean run's model). MiniRocket runs
    (every cell of it: it fits on the clean data instead of loading a model) are a cohort per
    fit: a clean run with all its cells, so that one worker fits once and tests them all."""
    if stack < 1:
        raise ConfigError(f"--stack must be >= 1, got {stack}")
    runs = [r for r in runs if r.trains or is_rocket(r.model)]
    position = {r.run_id: k for k, r in enumerate(runs)}
    by_fit: dict[str, list[RunSpec]] = {}
    for r in runs:
        if is_rocket(r.model):
            by_fit.setdefault(r.run_id if r.trains else r.clean_run.run_id, []).append(r)
    cohorts = list(by_fit.values())
    if stack == 1 or not _stackable(spec):
        return sorted(cohorts + [[r] for r in runs if not is_rocket(r.model)], key=lambda c: position[c[0].run_id])
    by_model: dict[tuple[str, str, str, str], list[RunSpec]] = {}
    for r in runs:
        if not is_rocket(r.model):
            by_model.setdefault((r.model, r.protocol, r.normalize, r.split), []).append(r)
    for rs in by_model.values():  # ceil(n / stack) cohorts of near-equal size (18 runs at 16: 9 + 9, not 16 + 2)
        k = -(-len(rs) // stack)
        bounds = [round(j * len(rs) / k) for j in range(k + 1)]
        cohorts += [rs[a:b] for a, b in zip(bounds, bounds[1:])]
    return sorted(cohorts, key=lambda c: position[c[0].run_id])


def _free_memory(device: str) -> int | None:
    try:
        if device.startswith("cuda"):

            free, _ = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, RuntimeError, AttributeError):
        return None


def default_stack(device: str, dataset: Any | None = None, runs: int | None = None, *, share: int = 1,
                  map_bytes: int = 0) -> int:  # fmt: skip
    """The cohort size when ``--stack`` is not given: up to 16 runs on a CPU (where stacking
    gains most samples/s: benchmarks/RESULTS.md, "Study runner") and 64 on a GPU (one small run is bound by kernel
    launches), as many as a quarter of the free memory holds (each run keeps about three
    copies of the data: clean split, noisy, and the cohort's on the device); ``share``
    processes splitting the memory. On a CPU, also no more runs than keep the step's largest
    feature map within :data:`CPU_STEP_MAP_BYTES`, given one run's ``map_bytes``
    (:func:`step_map_bytes`)."""
    cpu = not str(device).startswith("cuda")
    cap = 16 if cpu else 64
    if cpu and map_bytes > 0:
        cap = min(cap, max(1, CPU_STEP_MAP_BYTES // map_bytes))
    if dataset is not None and hasattr(dataset, "x"):
        free = _free_memory(str(device))
        per_run = 3 * int(dataset.x.numel()) * 4
        if free and per_run:
            cap = min(cap, max(1, free // 4 // max(1, share) // per_run))
    if runs is not None:
        cap = min(cap, max(1, runs))
    return int(cap)


def step_map_bytes(models: Sequence[str], cfg: Any, dataset: Any) -> int:
    """Bytes of the largest feature map of one run's training step: ``cfg.batch_size`` x the largest
    map per sample of any of the study's networks (float32) on ``dataset``'s observations; 0 when
    no network can be built for them (the runs then say why)."""
    if not hasattr(dataset, "x"):
        return 0
    shape = tuple(dataset.x.shape[1:])
    largest = 0
    for name in models:
        if is_rocket(name):
            continue
        try:
            model = create_model(name, in_channels=shape[0], num_classes=2, input_length=shape[-1], **cfg.model_args)
            largest = max(largest, largest_feature_map(model, shape))
        except (DeepshrinkError, RuntimeError):
            continue
    return 4 * int(cfg.batch_size) * largest


def cohort_dir(out: Path, group: Sequence[RunSpec]) -> Path:
    ids = "\n".join(r.run_id for r in group)
    return out / "cohorts" / f"{group[0].model}-{hashlib.sha256(ids.encode()).hexdigest()[:12]}"


def shard_cohorts(cohorts: Sequence[Sequence[RunSpec]], shard: tuple[int, int],
                  done: Collection[str] = ()) -> list[list[RunSpec]]:  # fmt: skip
    """The cohorts of shard ``(i, n)``: largest first, each to the shard with the fewest runs left
    so far (ties: the lower shard), in plan order. Runs in ``done`` do not count, so a resumed
    study is shared out by the work left, not by its size (with equal cohorts and nothing done:
    cohorts ``i, i + n, ...``). Every shard must be given the same ``done`` to agree."""
    i, n = shard
    done = frozenset(done)  # a list from a parent process: one membership test per run
    left = [sum(r.run_id not in done for r in c) for c in cohorts]
    load, owner = [0] * n, [0] * len(cohorts)
    for k in sorted(range(len(cohorts)), key=lambda k: -left[k]):
        owner[k] = min(range(n), key=lambda j: load[j])
        load[owner[k]] += left[k]
    return [list(c) for c, o in zip(cohorts, owner) if o == i]


def shard_plan(runs: list[RunSpec], cohorts: list[list[RunSpec]], shard: tuple[int, int],
                done: Collection[str]) -> tuple[list[list[RunSpec]], list[RunSpec], list[RunSpec]]:  # fmt: skip
    """This shard's cohorts, its runs (trained, then tested), and the clean-protocol cells it tests
    (those whose clean run it trains)."""
    mine_cohorts = shard_cohorts(cohorts, shard, done)
    trained_here = {r.run_id for c in mine_cohorts for r in c}
    cells = [r for r in runs if not r.trains and not is_rocket(r.model) and r.clean_run.run_id in trained_here]
    mine = [r for c in mine_cohorts for r in c] + cells
    return mine_cohorts, mine, cells


def note_orphans(out: Path, cohorts: list[list[RunSpec]], done: set[str], say: Callable[[str], None]) -> None:
    """Say so when unfinished cohort checkpoints belong to none of this plan's cohorts (another --stack)."""
    planned = {cohort_dir(out, c).name for c in cohorts}
    planned |= {cohort_dir(out, left).name for c in cohorts if (left := [r for r in c if r.run_id not in done])}
    root = out / "cohorts"
    orphans = sorted(p.parent.name for p in root.glob("*/last.ckpt") if p.parent.name not in planned) if root.is_dir() else []
    if orphans:
        say(f"note: {len(orphans)} unfinished cohort checkpoint(s) in {root} do not match this --stack "
            f"(e.g. {orphans[0]}); rerun with the --stack they were started with to resume them")  # fmt: skip
