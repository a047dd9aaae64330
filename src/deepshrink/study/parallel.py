"""Run a study in several local processes (``deepshrink study --jobs N``).

On a CPU, N single-threaded processes each training its own run are usually faster than one
process with N threads: the paper's networks are narrow (4-16 channels), so one run cannot keep
several cores busy. Each worker is shard ``i`` of ``N`` of :func:`~deepshrink.study.runner.run_study`;
they share ``results.csv`` (appends under a file lock) and the parent writes the report.

Cores are never oversubscribed by default: ``jobs x threads_per_job`` is cut to the cores this
process may use (two processes of 2 threads on 2 cores make each step many times slower);
``oversubscribe=True`` keeps the request, with a warning.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from deepshrink.errors import DeepshrinkError
from deepshrink.study.report import write_study_report
from deepshrink.study.results import read_results
from deepshrink.study.spec import expand_runs, run_config, study_from_dict
from deepshrink.study.plan import default_stack, step_map_bytes
from deepshrink.study.runner import DataCache, prepare_folder, run_study, shard_device, StudyProgress
from deepshrink.folders import owned
from deepshrink.system import available_cpus

__all__ = ["run_study_parallel", "fit_jobs"]


def fit_jobs(jobs: int, threads_per_job: int, *, oversubscribe: bool = False,
             log: Callable[[str], None] | None = None) -> int:  # fmt: skip
    """``jobs`` cut so that ``jobs x threads_per_job`` fits the cores (a note when cut, a warning when forced)."""
    say = log or (lambda message: None)
    cpus = available_cpus()
    if jobs * threads_per_job <= cpus:
        return jobs
    if oversubscribe:
        say(f"warning: {jobs} worker(s) x {threads_per_job} thread(s) on {cpus} core(s) oversubscribes the "
            "machine; each step can get many times slower")  # fmt: skip
        return jobs
    fitted = max(1, cpus // threads_per_job)
    say(f"note: {jobs} worker(s) x {threads_per_job} thread(s) do not fit {cpus} core(s): running {fitted} "
        "(--oversubscribe to force)")  # fmt: skip
    return fitted


def _exit_with(parent: int, every: float = 1.0) -> None:
    """End this worker when the process that started it is gone (killed, say): an orphan would keep
    training into the study folder beside whatever runs there next. A daemon thread; the cohort's
    checkpoint lets a later run of the study resume the work."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker(spec_dict: dict[str, Any], out_dir: str, shard: tuple[int, int], options: dict[str, Any],
            parent: int | None = None) -> None:  # fmt: skip
    if parent is not None:
        _exit_with(parent)
    try:
        if options.get("device") == "auto":

            if torch.cuda.is_available():  # spread the workers over the GPUs
                options = {**options, "device": f"cuda:{shard[0] % torch.cuda.device_count()}"}
        spec = study_from_dict(spec_dict, source="study")
        run_study(spec, out_dir, shard=shard, report=False, log=lambda m: print(m, flush=True), **options)
    except DeepshrinkError as err:
        print(f"error: [shard {shard[0]}/{shard[1]}] {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def run_study_parallel(
    spec: Any,
    out_dir: str | os.PathLike,
    *,
    jobs: int,
    threads_per_job: int = 1,
    device: str = "auto",
    save_runs: bool = True,
    force: bool = False,
    max_runs: int | None = None,
    report: bool = True,
    stack: int | None = None,
    oversubscribe: bool = False,
    log: Callable[[str], None] | None = print,
) -> Any:
    """Run ``spec`` with ``jobs`` worker processes of ``threads_per_job`` threads each.

    ``jobs`` is cut to the cores (see :func:`fit_jobs`) unless ``oversubscribe``; ``stack`` is
    the cohort size of :func:`~deepshrink.study.runner.run_study` (the workers share out
    cohorts; None: chosen once here for the device and memory, divided among the workers).

    Returns:
        The :class:`~deepshrink.study.runner.StudyProgress` of the whole study (after the workers).

    Raises:
        DeepshrinkError: a worker failed (its message went to stderr).
    """

    with owned(out_dir, "study"):  # the workers hold their shards; this process the whole study
        return _run_parallel(spec, out_dir, jobs=jobs, threads_per_job=threads_per_job, device=device,
                             save_runs=save_runs, force=force, max_runs=max_runs, report=report, stack=stack,
                             oversubscribe=oversubscribe, log=log)  # fmt: skip


def _run_parallel(spec: Any, out_dir: str | os.PathLike, *, jobs: int, threads_per_job: int, device: str,
                  save_runs: bool, force: bool, max_runs: int | None, report: bool, stack: int | None,
                  oversubscribe: bool, log: Callable[[str], None] | None) -> Any:  # fmt: skip
    say = log or (lambda message: None)
    out = Path(out_dir)
    if force and out.exists():
        for name in ("results.csv", "study.yaml", "report.md", "summary.csv"):
            (out / name).unlink(missing_ok=True)
    prepare_folder(spec, out, force=force)
    runs = expand_runs(spec)
    ids = {r.run_id for r in runs}
    done_before = {r["run_id"] for r in read_results(out / "results.csv")} & ids
    jobs = fit_jobs(max(1, min(jobs, len(runs) - len(done_before) or 1)), threads_per_job, oversubscribe=oversubscribe, log=say)
    if stack is None:

        first = run_config(spec, runs[0])
        dataset = DataCache(out / "data").get(spec, first)
        per_job = -(-(len(runs) - len(done_before)) // jobs)
        stack = default_stack(shard_device(device), dataset, per_job, share=jobs,
                              map_bytes=step_map_bytes(spec.models, first, dataset))  # fmt: skip
    say(f"study {spec.name}: {len(runs)} runs, {len(done_before)} already done; {jobs} worker process(es) x "
        f"{threads_per_job} thread(s) -> {out}")  # fmt: skip
    # plan_done: the workers share out the work left (not the study's size), and all agree on it
    options = {"device": device, "num_threads": threads_per_job, "save_runs": save_runs, "stack": stack,
               "max_runs": None if max_runs is None else -(-max_runs // jobs),
               "plan_done": sorted(done_before)}  # fmt: skip
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(spec.to_dict(), str(out), (i, jobs), options, os.getpid()), daemon=False)
             for i in range(jobs)]  # fmt: skip
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()
        raise
    failed = [i for i, p in enumerate(procs) if p.exitcode != 0]
    finished = {r["run_id"] for r in read_results(out / "results.csv")} & ids
    report_path = None
    if report and len(finished) == len(ids):

        report_path = write_study_report(out)
        say(f"study complete: wrote {report_path}")
    if failed:
        raise DeepshrinkError(
            f"worker(s) {', '.join(map(str, failed))} of {jobs} failed (see above); "
            f"{len(ids) - len(finished)} run(s) left, rerun the same command to resume"
        )
    ran = sorted(finished - done_before)
    return StudyProgress(out, len(runs), len(done_before), ran, len(ids - finished), report_path)
