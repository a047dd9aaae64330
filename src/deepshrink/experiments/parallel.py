"""Run a study in several local processes (``deepshrink benchmark --jobs N``).

On a CPU, N single-threaded processes each training its own run are usually faster than one
process with N threads: the paper's networks are narrow (4-16 channels), so one run cannot keep
several cores busy. Each worker is shard ``i`` of ``N`` of :func:`~deepshrink.experiments.study.run_study`;
they share ``results.csv`` (appends under a file lock) and the parent writes the report.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepshrink.errors import DeepshrinkError

__all__ = ["run_study_parallel"]


def _worker(spec_dict: dict[str, Any], out_dir: str, shard: tuple[int, int], options: dict[str, Any]) -> None:
    from deepshrink.experiments.study import run_study, study_from_dict

    try:
        if options.get("device") == "auto":
            import torch

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
    log: Callable[[str], None] | None = print,
) -> Any:
    """Run ``spec`` with ``jobs`` worker processes of ``threads_per_job`` threads each.

    Returns:
        The :class:`~deepshrink.experiments.study.StudyProgress` of the whole study (after the workers).

    Raises:
        DeepshrinkError: a worker failed (its message went to stderr).
    """
    from deepshrink.experiments.study import StudyProgress, _prepare_folder, expand_runs, read_results

    say = log or (lambda message: None)
    out = Path(out_dir)
    if force and out.exists():
        for name in ("results.csv", "study.yaml", "report.md", "summary.csv"):
            (out / name).unlink(missing_ok=True)
    _prepare_folder(spec, out, force=force)
    runs = expand_runs(spec)
    ids = {r.run_id for r in runs}
    done_before = {r["run_id"] for r in read_results(out / "results.csv")} & ids
    jobs = max(1, min(jobs, len(runs) - len(done_before) or 1))
    say(f"study {spec.name}: {len(runs)} runs, {len(done_before)} already done; {jobs} worker process(es) x "
        f"{threads_per_job} thread(s) -> {out}")  # fmt: skip
    options = {"device": device, "num_threads": threads_per_job, "save_runs": save_runs,
               "max_runs": None if max_runs is None else -(-max_runs // jobs)}  # fmt: skip
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(spec.to_dict(), str(out), (i, jobs), options), daemon=False)
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
        from deepshrink.experiments.report import write_study_report

        report_path = write_study_report(out)
        say(f"study complete: wrote {report_path}")
    if failed:
        raise DeepshrinkError(
            f"worker(s) {', '.join(map(str, failed))} of {jobs} failed (see above); "
            f"{len(ids) - len(finished)} run(s) left, rerun the same command to resume"
        )
    ran = sorted(finished - done_before)
    return StudyProgress(out, len(runs), len(done_before), ran, len(ids - finished), report_path)
