"""Running a study: its runs trained one by one or as stacked cohorts, resumable and shardable.

What a study is: :mod:`deepshrink.study.spec`. The study folder::

    OUT/
      study.yaml        the study as run (a later call on OUT must describe the same setup)
      results.csv       one row per finished run, appended as each run finishes (keyed by run_id)
      runs/<run_id>/    each run's folder (config.yaml, model.safetensors, last.ckpt, test report)
      report.md, summary.csv, figures/*.png      written when every run of the study is done

Cohorts: runs of one model share every training setting, so the runner trains up to ``stack``
of them together as one stacked network (:mod:`deepshrink.models.stacked`, ``--stack S``;
``--stack 1`` trains them one by one). Each run keeps its own split, noise, initialisation,
shuffle and seed, and ends with the weights it would have trained alone; it still gets its own
row and an ordinary run folder. A cohort's checkpoint lives in ``OUT/cohorts/<id>/last.ckpt``
until all its runs are written.

Resuming: a run whose ``run_id`` is in ``results.csv`` is skipped; an unfinished run with a
``last.ckpt`` continues from it, an unfinished cohort from its checkpoint (mid-epoch too). Sharding: process ``i`` of ``n`` (``--shard i/n``, or
``RANK`` / ``WORLD_SIZE`` under torchrun) takes its share of the study's cohort list (runs, with
``--stack 1``), balanced by size (:func:`shard_cohorts`; the workers of ``--jobs`` by the runs
left); all processes append to the one ``results.csv`` (under a file lock), and whichever
finds the study complete writes the report (or run ``deepshrink study OUT --report``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from deepshrink.data import load_npz, save_npz
from deepshrink.errors import ConfigError
from deepshrink.study.plan import cohort_dir, default_stack, note_orphans, plan_cohorts, shard_plan, step_map_bytes
from deepshrink.study.progress import StudyMeter
from deepshrink.study.report import write_study_report
from deepshrink.study.results import append_result, read_results, result_row
from deepshrink.study.rocket import is_rocket, require_aeon, run_rocket
from deepshrink.study.spec import (
    SETUP_KEYS,
    RunSpec,
    StudySpec,
    expand_runs,
    fold_dataset,
    load_study,
    run_config,
    study_to_yaml,
)
from deepshrink.fileio import atomic_write, locked, named_os_error
from deepshrink.folders import owned
from deepshrink.system import available_cpus
from deepshrink.train.evaluation import evaluate_run
from deepshrink.train.prepare import clean_parts, load_data_spec
from deepshrink.train.run import train, train_cohort

__all__ = ["run_one", "run_cohort", "evaluate_clean_cell", "run_study", "StudyProgress"]

# ---------------------------------------------------------------------- running
@contextlib.contextmanager
def _single_process_env() -> Iterator[None]:
    """Hide torchrun's variables: each shard trains its runs alone (no process group)."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT")
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def shard_device(device: str = "auto") -> str:
    """``auto`` under torchrun on a CUDA machine: ``cuda:LOCAL_RANK`` (one GPU per shard)."""
    if device != "auto":
        return device

    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        return f"cuda:{local % torch.cuda.device_count()}"
    return "cpu"


class DataCache:
    """The clean dataset of a study, loaded once per process.

    With a folder, the dataset is also stored as ``folder/data-<hash>.npz`` the first time
    (under a lock, so parallel shards generate it once) and always read back from there: every
    run of the study, including runs resumed later with a changed simulator, sees the same
    signals, and each run's ``config.yaml`` points at that file, so ``deepshrink evaluate`` and
    ``deepshrink thresholds`` rebuild exactly the run's test set.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._key: str | None = None
        self._ds: Any = None
        self.path: Path | None = None

    def get(self, spec: StudySpec, cfg: Any) -> Any:
        key = json.dumps([spec.data, spec.data_args, cfg.split == "predefined"], sort_keys=True)
        if key == self._key:
            return self._ds
        if self.folder is None:
            self._ds, self.path = load_data_spec(spec.data, spec.data_args, cfg.split), None
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = (self.folder / f"data-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz").resolve()
            with locked(path):
                if not path.is_file():
                    ds = load_data_spec(spec.data, spec.data_args, cfg.split)
                    tmp = path.with_name(f".{path.stem}.tmp.npz")
                    try:
                        save_npz(ds, tmp)
                        os.replace(tmp, path)
                    except OSError as err:
                        tmp.unlink(missing_ok=True)
                        raise named_os_error(err, path) from None
            self._ds, self.path = load_npz(path), path
        self._key = key
        return self._ds


def run_one(
    spec: StudySpec,
    run: RunSpec,
    out_dir: str | os.PathLike,
    *,
    dataset: Any = None,
    data_file: str | os.PathLike | None = None,
    device: str = "auto",
    num_threads: int | None = None,
    save_runs: bool = True,
    on_epoch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train and test one run; returns its ``results.csv`` row (not written here).

    Args:
        spec: the study.
        run: the run.
        out_dir: the study folder (the run folder is ``out_dir/runs/<run_id>``).
        dataset: the study's clean dataset (loaded from ``spec.data`` when None).
        data_file: the ``.npz`` file ``dataset`` was read from; the run's config then names it
            as its data, so the run folder rebuilds its own test set.
        device, num_threads: runtime settings of the run.
        save_runs: write the run folder (weights, checkpoint, test report); False trains in memory.
        on_epoch: called with the epochs done after each epoch (the study's progress).
    """
    started = time.perf_counter()
    cfg = run_config(spec, run, device=device, num_threads=num_threads)
    if data_file is not None:
        cfg = cfg.replace(data=str(data_file), data_args={})
    ds = dataset if dataset is not None else load_data_spec(spec.data, spec.data_args, cfg.split)
    if run.fold is not None:
        ds = fold_dataset(ds, spec.folds, run.fold, run.seed)
    run_dir = Path(out_dir) / "runs" / run.run_id
    kwargs: dict[str, Any] = {"dataset": ds, "console": False, "write": save_runs, "on_epoch": on_epoch}
    if save_runs:
        if (run_dir / "last.ckpt").is_file():
            kwargs["resume"] = run_dir
        else:
            kwargs.update(output=run_dir, force=run_dir.exists())
    with _single_process_env():
        result = train(cfg, **kwargs)
    report = result.test_report or {}
    data_info = {}
    if result.run_dir is not None and (result.run_dir / "config.json").is_file():
        with contextlib.suppress(Exception):
            data_info = json.loads((result.run_dir / "config.json").read_text()).get("extra", {}).get("data", {})
    n_train = (data_info.get("observations") or {}).get("train")
    if n_train is None:  # no run folder: count the training part of the split

        n_train = len(clean_parts(cfg, ds)[0])
    return result_row(spec, run, history=result.history, report=report, model=result.model, n_train=n_train,
                      total_seconds=time.perf_counter() - started)  # fmt: skip




def run_cohort(
    spec: StudySpec,
    runs: Sequence[RunSpec],
    out_dir: str | os.PathLike,
    *,
    dataset: Any = None,
    data_file: str | os.PathLike | None = None,
    device: str = "auto",
    num_threads: int | None = None,
    save_runs: bool = True,
    done: set[str] | frozenset[str] = frozenset(),
    on_row: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Train runs of one model together as stacked networks; returns the new ``results.csv`` rows.

    Runs whose training sets give different numbers of steps per epoch go to separate cohorts; a
    cohort of one is an ordinary run (:func:`run_one`). With ``save_runs`` the cohort's
    checkpoint is ``out_dir/cohorts/<model>-<hash of its run ids>/last.ckpt`` (a killed study
    resumes from it, mid-epoch too), removed when every run of the cohort is written; each run
    gets its ordinary folder ``out_dir/runs/<run_id>``.

    Args:
        done: run ids already in ``results.csv`` (they train with their cohort but are not written again).
        on_row: called with each run's row as soon as its folder is written (e.g. :func:`append_result`).
        on_epoch: called with the epochs done after each epoch of a cohort (or of a run trained alone).
    """
    emit = on_row or (lambda row: None)
    cfgs, dsets = [], []
    for run in runs:
        cfg = run_config(spec, run, device=device, num_threads=num_threads)
        if data_file is not None:
            cfg = cfg.replace(data=str(data_file), data_args={})
        ds = dataset if dataset is not None else load_data_spec(spec.data, spec.data_args, cfg.split)
        if run.fold is not None:
            ds = fold_dataset(ds, spec.folds, run.fold, run.seed)
        cfgs.append(cfg)
        dsets.append(ds)
    groups: dict[int, list[int]] = {}
    for k, (cfg, ds) in enumerate(zip(cfgs, dsets)):
        groups.setdefault(len(clean_parts(cfg, ds)[0]) // cfg.batch_size, []).append(k)
    rows: list[dict[str, Any]] = []
    for members in groups.values():
        if len(members) == 1:
            run = runs[members[0]]
            if run.run_id not in done:
                rows.append(run_one(spec, run, out_dir, dataset=dataset, data_file=data_file, device=device,
                                    num_threads=num_threads, save_runs=save_runs, on_epoch=on_epoch))  # fmt: skip
                emit(rows[-1])
            continue
        out = Path(out_dir)
        folder = cohort_dir(out, [runs[k] for k in members]) if save_runs else None
        if folder is None or not (folder / "last.ckpt").is_file():  # nothing to resume: train only what is left
            members = [k for k in members if runs[k].run_id not in done]
            if not members:
                continue
            if len(members) == 1:
                rows.append(run_one(spec, runs[members[0]], out_dir, dataset=dataset, data_file=data_file,
                                    device=device, num_threads=num_threads, save_runs=save_runs,
                                    on_epoch=on_epoch))  # fmt: skip
                emit(rows[-1])
                continue
            folder = cohort_dir(out, [runs[k] for k in members]) if save_runs else None
        group = [runs[k] for k in members]
        ids = [r.run_id for r in group]
        started = time.perf_counter()
        run_dirs = [out / "runs" / i for i in ids] if save_runs else None

        def on_done(i: int, result: Any, group: list[RunSpec] = group, started: float = started) -> None:
            if result.run_dir is not None:
                (result.run_dir / "last.ckpt").unlink(missing_ok=True)  # a stale one of an earlier run alone
            row = result_row(spec, group[i], history=result.history, report=result.test_report, model=result.model,
                             n_train=result.n_train, total_seconds=(time.perf_counter() - started) / len(group),
                             status=result.status, stack=len(group))  # fmt: skip
            rows.append(row)
            emit(row)

        with _single_process_env():
            train_cohort([cfgs[k] for k in members], [dsets[k] for k in members], names=ids, run_dirs=run_dirs,
                         cohort_dir=folder, skip={i for i, r in enumerate(group) if r.run_id in done},
                         on_done=on_done, log=log, on_epoch=on_epoch)  # fmt: skip
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # only when no other cohort is under way
    return rows


def evaluate_clean_cell(spec: StudySpec, run: RunSpec, out_dir: str | os.PathLike, clean_row: dict[str, Any],
                        *, device: str = "auto") -> dict[str, Any]:  # fmt: skip
    """The row of a ``clean``-protocol cell: the model of its clean run tested at the cell's noise.

    The test windows are those of the clean run's split, and the test noise is drawn from the
    same seed as a ``fixed``-protocol run of that seed, kind and SNR would draw, so the two
    protocols are compared on identical test signals. The report files go to the clean run's
    folder as ``test_<noise>_<snr>_*``.
    """
    started = time.perf_counter()
    report = evaluate_run(Path(out_dir) / "runs" / run.clean_run.run_id, noise=run.noise, snr=float(run.snr_db),
                          device=device, prefix=f"test_{run.noise}_{run.level}")  # fmt: skip
    row = dict(clean_row)
    row.update(run_id=run.run_id, noise=run.noise, snr_db=run.snr_db, test_acc=report.get("accuracy"),
               test_macro_f1=report.get("macro_f1"), test_loss=report.get("loss"),
               n_test=report.get("num_observations"), seconds=0.0,
               total_seconds=round(time.perf_counter() - started, 3), finished=time.strftime("%Y-%m-%dT%H:%M:%S"))  # fmt: skip
    return row


@dataclass
class StudyProgress:
    """What :func:`run_study` did."""

    out_dir: Path
    total: int
    done_before: int
    ran: list[str]
    remaining: int
    report: Path | None


def prepare_folder(spec: StudySpec, out: Path, force: bool) -> None:
    """Create ``out`` with ``study.yaml``, or check that an existing one has the same setup."""
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "study.yaml"
    with locked(saved):
        if saved.is_file() and not force:
            try:
                old = load_study(saved)
            except ConfigError:
                old = None
            if old is not None and old.setup_hash() != spec.setup_hash():
                a, b = old.to_dict(), spec.to_dict()
                diff = [k for k in SETUP_KEYS if a[k] != b[k]]
                raise ConfigError(
                    f"{out}: holds a study with another setup ({', '.join(diff)} differ); "
                    "use another --output, or --force to start over in this folder"
                )
            if old is not None:  # the folder's study: the grids run here before, and this one
                spec = old.with_grids_of(spec)
        atomic_write(saved, study_to_yaml(spec).encode())


def _set_threads(num_threads: int | None, device: str, say: Callable[[str], None]) -> int | None:
    """This process's torch CPU threads (returned: the runs get the same); torchrun shards on a CPU
    share the cores unless told otherwise, and an oversubscribed machine gets a warning."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    if num_threads is None and local > 1 and shard_device(device) == "cpu":  # torchrun shards share the cores
        num_threads = max(1, available_cpus() // local)
    if num_threads is not None:
        if num_threads * local > available_cpus():
            say(f"warning: {local} process(es) x {num_threads} thread(s) on {available_cpus()} core(s) "
                "oversubscribe the machine; each step can get many times slower")  # fmt: skip
        torch.set_num_threads(num_threads)
    return num_threads


def _work(spec: StudySpec, cohort: Sequence[RunSpec]) -> int:
    """The progress units of a cohort: its training epochs (a model without epochs: 1 per run)."""
    return len(cohort) if is_rocket(cohort[0].model) else int(run_config(spec, cohort[0]).epochs)


def _meter(spec: StudySpec, cohorts: list[list[RunSpec]], todo: list[RunSpec], tag: str, shard: tuple[int, int],
           log: Callable[[str], None] | None) -> StudyMeter:  # fmt: skip
    """This shard's progress: a bar on a terminal (none when silent or with nothing to train)."""
    total = sum(_work(spec, c) for c in cohorts) if todo else 0
    return StudyMeter(total, tag=tag, position=shard[0], say=log or (lambda message: None),
                      live=None if log is not None else False)  # fmt: skip


def _test_clean_cells(spec: StudySpec, cells: list[RunSpec], out: Path, done: set[str], device: str,
                      record: Callable[[dict[str, Any]], None]) -> None:  # fmt: skip
    """Record each clean-protocol cell not yet done: its clean run's saved model tested at the cell's
    noise (a diverged clean run: its row, without test numbers)."""
    clean_rows = {r["run_id"]: r for r in read_results(out / "results.csv")}
    for cell in cells:
        base = clean_rows.get(cell.clean_run.run_id)
        if cell.run_id in done or base is None:
            continue
        if base.get("status") == "diverged":
            record({**base, "run_id": cell.run_id, "noise": cell.noise, "snr_db": cell.snr_db, "seconds": 0.0})
        else:
            record(evaluate_clean_cell(spec, cell, out, base, device=device))


def _recorder(results_path: Path, ran: list[str], todo: int, tag: str,
              say: Callable[[str], None]) -> Callable[[dict[str, Any]], None]:  # fmt: skip
    """Append a finished run's row to ``results.csv`` (its id to ``ran``) and say how it did."""

    def record(row: dict[str, Any]) -> None:
        append_result(results_path, row)
        ran.append(row["run_id"])
        if row.get("status") == "diverged":
            say(f"{tag}[{len(ran)}/{todo}] {row['run_id']}: diverged (see its train.log); recorded without test numbers")
            return
        say(f"{tag}[{len(ran)}/{todo}] {row['run_id']}: test acc {row['test_acc']:.4f}, "
            f"train acc {row['train_acc']:.4f}, {row['seconds']:.0f} s")  # fmt: skip

    return record


def _train_planned(spec: StudySpec, cohort: list[RunSpec], out: Path, cache: DataCache, done: set[str],
                   record: Callable[[dict[str, Any]], None], meter: StudyMeter, tag: str, *, device: str,
                   num_threads: int | None, save_runs: bool) -> None:  # fmt: skip
    """Train (or fit) one planned cohort, recording each run: MiniRocket's fit and its cells, a run
    alone, or a stacked cohort."""
    ds = cache.get(spec, run_config(spec, cohort[0]))
    if is_rocket(cohort[0].model):
        for run in [r for r in cohort if r.run_id not in done]:  # one fit, then its cells (rocket._FITTED)
            record(run_rocket(spec, run, dataset=ds, num_threads=num_threads))
    elif len(cohort) == 1:
        record(run_one(spec, cohort[0], out, dataset=ds, data_file=cache.path, device=device,
                       num_threads=num_threads, save_runs=save_runs, on_epoch=meter.epoch))  # fmt: skip
    else:
        run_cohort(spec, cohort, out, dataset=ds, data_file=cache.path, device=device, num_threads=num_threads,
                   save_runs=save_runs, done=done, on_row=record, log=lambda m: meter.say(tag + m),
                   on_epoch=meter.epoch)  # fmt: skip


def run_study(
    spec: StudySpec,
    out_dir: str | os.PathLike,
    *,
    shard: tuple[int, int] = (0, 1),
    device: str = "auto",
    num_threads: int | None = None,
    save_runs: bool = True,
    force: bool = False,
    max_runs: int | None = None,
    report: bool = True,
    cache_data: bool = True,
    stack: int | None = None,
    plan_done: Collection[str] = (),
    log: Callable[[str], None] | None = print,
) -> StudyProgress:
    """Run this process's share of a study, appending to ``results.csv``; report when complete.

    Args:
        spec: the study.
        out_dir: the study folder (created; an existing one must hold the same setup).
        shard: ``(i, n)``: this process's share of the cohorts (:func:`shard_cohorts`; see :func:`parse_shard`).
        device: ``auto`` (under torchrun: ``cuda:LOCAL_RANK`` when CUDA is there), ``cpu``, ``cuda:N``.
        num_threads: torch CPU threads for this process (None: torch's default; under torchrun
            on a CPU, the cores divided by ``LOCAL_WORLD_SIZE``, so the shards never oversubscribe).
        save_runs: keep each run's folder (weights, checkpoint, report).
        force: start over in ``out_dir`` (existing results are deleted).
        max_runs: stop after this many runs (for a time-boxed session; the rest resume later).
        report: write ``report.md`` and the figures once every run of the study is in ``results.csv``.
        cache_data: store the clean dataset once in ``out_dir/data/`` and train every run on
            that file (see :class:`DataCache`); False loads ``spec.data`` in memory only.
        stack: train up to this many runs of a model together as one stacked network (see
            :func:`run_cohort`); 1 trains them one by one; None picks it from the device and
            memory (:func:`default_stack`). Shards split the study by cohort.
        plan_done: the finished runs by which the shards share out the cohorts
            (:func:`shard_cohorts`). Every shard must get the same: the default ``()`` (shards
            started on their own) shares by cohort size; a parent that read ``results.csv`` once
            for its workers passes what it found, so a resumed study is shared by the work left.
        log: called with one line per event (None: silent).

    Returns:
        :class:`StudyProgress`.

    Raises:
        FolderInUse: another process runs this study (or this shard of it) in ``out_dir``.
    """
    role = "study" if shard[1] == 1 else f"shard-{shard[0]}-of-{shard[1]}"
    with owned(out_dir, role):  # one writer per folder (per shard): two would run and record runs twice
        return _run_study(spec, out_dir, shard=shard, device=device, num_threads=num_threads, save_runs=save_runs,
                          force=force, max_runs=max_runs, report=report, cache_data=cache_data, stack=stack,
                          plan_done=plan_done, log=log)  # fmt: skip


def _run_study(
    spec: StudySpec,
    out_dir: str | os.PathLike,
    *,
    shard: tuple[int, int],
    device: str,
    num_threads: int | None,
    save_runs: bool,
    force: bool,
    max_runs: int | None,
    report: bool,
    cache_data: bool,
    stack: int | None,
    plan_done: Collection[str],
    log: Callable[[str], None] | None,
) -> StudyProgress:
    say = log or (lambda message: None)
    out = Path(out_dir)
    if force and out.exists():
        for name in ("results.csv", "study.yaml", "report.md", "summary.csv"):
            (out / name).unlink(missing_ok=True)
    runs = expand_runs(spec)
    if not save_runs and not all(r.trains for r in runs):
        raise ConfigError("noise_protocol 'clean' tests each clean run's saved model: it needs the run folders "
                          "(drop --no-save-runs)")  # fmt: skip
    if any(is_rocket(r.model) for r in runs):
        require_aeon()  # before anything is written: one line saying how to install it
    prepare_folder(spec, out, force)
    results_path = out / "results.csv"

    num_threads = _set_threads(num_threads, device, say)
    device = shard_device(device)
    cache = DataCache(out / "data" if cache_data else None)
    if stack is None:  # shards must agree on the cohorts: there, the device's cap only (not its free memory)
        first = run_config(spec, runs[0])
        data = cache.get(spec, first) if shard[1] == 1 else None
        stack = default_stack(device, data, len(runs), map_bytes=step_map_bytes(spec.models, first, data))
    cohorts = plan_cohorts(spec, runs, stack)
    done = {r["run_id"] for r in read_results(results_path)}
    mine_cohorts, mine, cells = shard_plan(runs, cohorts, shard, plan_done)
    todo = [r for r in mine if r.run_id not in done]
    todo_cohorts = [c for c in mine_cohorts if any(r.run_id not in done for r in c)]
    tag = f"[shard {shard[0]}/{shard[1]}] " if shard[1] > 1 else ""
    grouping = f" in {len(todo_cohorts)} cohort(s) of up to {stack} stacked runs" if stack > 1 and todo else ""
    say(f"{tag}study {spec.name}: {len(runs)} runs in all, {len(mine)} in this shard, "
        f"{len(mine) - len(todo)} already done, {len(todo)} to run{grouping} -> {out}")  # fmt: skip
    if shard[1] == 1:  # shards each plan a part only
        note_orphans(out, cohorts, done, say)
    ran: list[str] = []
    meter = _meter(spec, todo_cohorts, todo, tag, shard, log)
    say = meter.say
    record = _recorder(results_path, ran, len(todo), tag, say)

    try:
        for k, cohort in enumerate(todo_cohorts):
            if max_runs is not None and len(ran) >= max_runs:
                break
            left = [r for r in cohort if r.run_id not in done]
            budget = None if max_runs is None else max_runs - len(ran)
            if budget is not None and len(left) > budget and not (cohort_dir(out, cohort) / "last.ckpt").is_file():
                cohort = left[:budget]  # --max-runs: a smaller cohort now, the rest later (an unfinished cohort is finished whole)
            meter.start(f"cohort {k + 1}/{len(todo_cohorts)}: {cohort[0].model} x {len(left)}")
            _train_planned(spec, cohort, out, cache, done, record, meter, tag, device=device, num_threads=num_threads,
                           save_runs=save_runs)  # fmt: skip
            meter.finish(_work(spec, cohort))
            trained = {r.run_id for r in cohort}  # test its clean runs' models now: a stopped study keeps those cells
            now = [c for c in cells if c.clean_run.run_id in trained]
            if now:
                _test_clean_cells(spec, now, out, done | set(ran), device, record)
        if cells and (max_runs is None or len(ran) < max_runs):
            _test_clean_cells(spec, cells, out, done | set(ran), device, record)
    finally:
        meter.close()
    all_ids = {r.run_id for r in runs}
    finished = {r["run_id"] for r in read_results(results_path)} & all_ids
    report_path = None
    if report and len(finished) == len(all_ids):
        report_path = write_study_report(out)
        say(f"{tag}study complete: wrote {report_path}")
    return StudyProgress(out, len(runs), len(done & all_ids), ran, len(all_ids - finished), report_path)

