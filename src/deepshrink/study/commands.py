"""What ``deepshrink study``, ``demo`` and ``thresholds`` do, as functions the CLI calls.

The command-line modules parse flags into the arguments of these functions and print what
they return; the rules of the commands live here, so they can be called and tested without
argparse:

* :func:`open_study`, :func:`with_overrides`, :func:`resolve_study`: the study a command runs
  (a preset, a YAML file or a study folder, with keys changed) and its folder;
* :func:`plan_shard` (``--dry-run``), :func:`report_study` (``--report``),
  :func:`launch_study` (in this process, one shard, or in worker processes);
* :func:`run_demo`: the demo study, its table, one DRSN-CW's thresholds and what to run next;
* :func:`format_threshold_summary`: the text table of a threshold analysis.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepshrink.errors import ConfigError
from deepshrink.study.parallel import run_study_parallel
from deepshrink.study.presets import PRESETS, get_preset
from deepshrink.study.report import format_console_table, write_study_report
from deepshrink.study.results import read_results
from deepshrink.study.spec import GRID_KEYS, RunSpec, StudySpec, expand_runs, load_study, study_from_dict
from deepshrink.study.plan import default_stack, plan_cohorts, shard_cohorts
from deepshrink.study.runner import StudyProgress, run_study, shard_device
from deepshrink.study.thresholds import ThresholdAnalysis, analyze_thresholds, write_threshold_analysis
from deepshrink.models import model_family
from deepshrink.system import available_cpus

__all__ = [
    "open_study", "with_overrides", "resolve_study", "ShardPlan", "plan_shard", "StudyReport", "report_study",
    "launch_study", "DemoResult", "demo_study", "run_demo", "format_threshold_summary",
]  # fmt: skip

Log = Callable[[str], None]


# ---------------------------------------------------------------------- which study
def open_study(source: str | os.PathLike) -> tuple[StudySpec, Path | None]:
    """A study from a preset, a YAML file or a study folder (its ``study.yaml``), and that folder (else None).

    A folder named like a preset is the folder only when it holds a ``study.yaml``.

    Raises:
        ConfigError: a folder without ``study.yaml``; what :func:`~deepshrink.study.spec.load_study` refuses.
    """
    path = Path(source)
    if path.is_dir() and ((path / "study.yaml").is_file() or str(source) not in PRESETS):
        if not (path / "study.yaml").is_file():
            presets = ", ".join(sorted(PRESETS))
            raise ConfigError(f"{path}: not a study folder (no study.yaml); give a preset ({presets}) or a YAML file")
        return load_study(path / "study.yaml"), path
    return load_study(source), None


def with_overrides(
    spec: StudySpec, *, train: Mapping[str, Any] | None = None, source: str = "overrides", **changes: Any
) -> StudySpec:
    """A checked copy of ``spec`` with study keys replaced and training settings added.

    Keys of ``changes`` replace the study's, with the rules a command line expects: a new
    ``data`` starts from empty ``data_args``; ``data_args`` add to the study's (after that
    reset); ``folds=0`` drops ``run_folds`` unless they are given too; a grid key (``--seeds``,
    ``--models``, ...) replaces it in every grid of the study too. ``train`` keys go on top of
    the study's ``train`` mapping.

    Raises:
        ConfigError: an unknown key or a bad value, naming ``source``.
    """
    values = spec.to_dict()
    changes = dict(changes)
    if "data" in changes:
        values["data_args"] = {}
    if "data_args" in changes:
        changes["data_args"] = {**values["data_args"], **changes["data_args"]}
    if "folds" in changes and not changes["folds"] and "run_folds" not in changes:
        changes["run_folds"] = None
    values.update(changes)
    for grid in values.get("grids") or []:
        for key in set(changes) & set(GRID_KEYS):
            grid.pop(key, None)  # the grid takes the study's new value
    values["train"] = {**(values.get("train") or {}), **(train or {})}
    if values.get("run_folds") is None:
        values.pop("run_folds", None)
    return study_from_dict(values, source=source)


def resolve_study(
    source: str | os.PathLike,
    *,
    output: str | os.PathLike | None = None,
    train: Mapping[str, Any] | None = None,
    overrides_source: str = "overrides",
    **changes: Any,
) -> tuple[StudySpec, Path]:
    """The study a command runs (``source`` with :func:`with_overrides`) and its folder.

    The folder is ``output``, else the study folder ``source`` names, else ``studies/<name>``.
    Errors name the folder's ``study.yaml``, or ``overrides_source`` for a preset or a file.
    """
    spec, folder = open_study(source)
    where = overrides_source if folder is None else str(folder / "study.yaml")
    spec = with_overrides(spec, train=train, source=where, **changes)
    out = Path(output) if output else (folder if folder is not None else Path("studies") / spec.name)
    return spec, out


# ---------------------------------------------------------------------- plan, report, run
@dataclass(frozen=True)
class ShardPlan:
    """The runs one shard of a study takes, in the cohorts of ``stack`` runs trained together."""

    study: str
    total: int
    shard: tuple[int, int]
    stack: int
    cohorts: list[list[RunSpec]]

    @property
    def runs(self) -> list[RunSpec]:
        """The shard's runs, cohort by cohort."""
        return [r for c in self.cohorts for r in c]

    def describe(self) -> str:
        """The listing of ``deepshrink study --dry-run``: a line of totals, then one run id a line."""
        stacked = self.stack > 1
        grouping = f" in {len(self.cohorts)} cohort(s) of up to {self.stack} stacked runs" if stacked else ""
        lines = [f"study {self.study}: {self.total} runs; shard {self.shard[0]}/{self.shard[1]} takes "
                 f"{len(self.runs)}{grouping}:"]  # fmt: skip
        for k, cohort in enumerate(self.cohorts):
            lines += [f"  {r.run_id}" + (f"   (cohort {k})" if stacked else "") for r in cohort]
        return "\n".join(lines)


def plan_shard(
    spec: StudySpec, shard: tuple[int, int] = (0, 1), *, stack: int | None = None, device: str = "auto"
) -> ShardPlan:
    """The cohorts :func:`~deepshrink.study.runner.run_study` would train in ``shard``, without training.

    ``stack`` None: the device's default (:func:`~deepshrink.study.runner.default_stack`,
    without looking at the data).
    """
    runs = expand_runs(spec)
    if stack is None:
        stack = default_stack(shard_device(device), None, len(runs))
    cohorts = shard_cohorts(plan_cohorts(spec, runs, max(1, stack)), shard)
    return ShardPlan(spec.name, len(runs), shard, stack, cohorts)


@dataclass(frozen=True)
class StudyReport:
    """A report written from what is finished: its console table, where it went, and the runs still to do."""

    table: str
    path: Path
    unfinished: int

    def describe(self) -> str:
        """The table, then ``wrote PATH`` and how many runs are not finished yet."""
        left = f" ({self.unfinished} run(s) of the study not finished yet)" if self.unfinished else ""
        return f"{self.table}\nwrote {self.path}{left}"


def report_study(spec: StudySpec, output: str | os.PathLike) -> StudyReport:
    """(Re)write ``report.md`` and the figures of ``output`` from its ``results.csv``, finished or not.

    ``spec`` counts only when the folder has no ``study.yaml`` of its own: the folder's study is
    the one its results belong to (``study --report -o DIR`` names no study).
    """
    out = Path(output)
    rows = read_results(out / "results.csv")
    own = (out / "study.yaml").is_file()
    spec = load_study(out / "study.yaml") if own else spec
    path = write_study_report(out, spec=None if own else spec)
    left = len({r.run_id for r in expand_runs(spec)} - {r["run_id"] for r in rows})
    return StudyReport(format_console_table(rows, spec), path, left)


def launch_study(
    spec: StudySpec,
    output: str | os.PathLike,
    *,
    jobs: int = 1,
    threads: int | None = None,
    shard: tuple[int, int] = (0, 1),
    device: str = "auto",
    save_runs: bool = True,
    force: bool = False,
    max_runs: int | None = None,
    stack: int | None = None,
    oversubscribe: bool = False,
    log: Log | None = print,
) -> StudyProgress:
    """Run a study (or one ``shard`` of it) in this process, or with ``jobs`` > 1 in worker processes.

    ``threads``: torch threads of this process, or of each worker (default 1 there). The other
    arguments are :func:`~deepshrink.study.runner.run_study`'s.

    Raises:
        ConfigError: ``jobs`` > 1 with a shard (the workers are the shards).
    """
    if jobs > 1:
        if shard[1] > 1:
            raise ConfigError(f"jobs={jobs} and shard {shard[0]}/{shard[1]} do not combine: the workers are the shards")
        return run_study_parallel(spec, output, jobs=jobs, threads_per_job=threads or 1, device=device,
                                  save_runs=save_runs, force=force, max_runs=max_runs, stack=stack,
                                  oversubscribe=oversubscribe, log=log)  # fmt: skip
    return run_study(spec, output, shard=shard, device=device, num_threads=threads, save_runs=save_runs,
                     force=force, max_runs=max_runs, stack=stack, log=log)  # fmt: skip


# ---------------------------------------------------------------------- the demo
DEMO_THRESHOLD_SNRS = (-10, -5, 0, 5, 10)
"""Input SNRs (dB) at which the demo records one DRSN-CW's thresholds."""


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` made: the study, its rows, the threshold analysis (if any) and the figures."""

    spec: StudySpec
    output: Path
    rows: list[dict[str, Any]]
    thresholds: ThresholdAnalysis | None
    figures: list[Path]
    seconds: float


def demo_study(*, epochs: int | None = None, seeds: int | None = None) -> StudySpec:
    """The ``demo`` preset, with its epochs and number of seeds changed if given."""
    values = get_preset("demo")
    if epochs is not None:
        values["train"]["epochs"] = epochs
    if seeds is not None:
        values["seeds"] = list(range(seeds))
    return study_from_dict(values, source="demo")


def run_demo(
    output: str | os.PathLike,
    *,
    epochs: int | None = None,
    seeds: int | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    stack: int | None = None,
    device: str = "auto",
    force: bool = False,
    thresholds: bool = True,
    log: Log | None = print,
) -> DemoResult:
    """Run the demo study (:func:`demo_study`), then analyse the thresholds of its first DRSN-CW run.

    Logs what it will do, the runs, the mean ± std table, the threshold summary, the files it
    wrote and the commands to run next. ``jobs`` None: one worker per model, up to the CPUs;
    ``threads`` applies with one job only (the workers take one thread each).
    """
    say = log or (lambda message: None)
    started = time.perf_counter()
    spec = demo_study(epochs=epochs, seeds=seeds)
    out = Path(output)
    jobs = jobs or max(1, min(len(spec.models), available_cpus()))
    runs = expand_runs(spec)
    da = spec.data_args
    say(
        f"deepshrink demo: {', '.join(spec.models)} on the drivetrain simulator\n"
        f"  data: 8 health states x 3 speeds x 3 loads x {da['recordings_per_condition']} recordings, "
        f"{da['windows_per_recording']} windows of {da['window']} points each; "
        f"{100 * spec.train.get('test_fraction', 0.2):.0f} % of the recordings held out for test\n"
        f"  noise: {', '.join(spec.noises)} at {', '.join(f'{s:g}' for s in spec.snrs)} dB, "
        "added once (the paper's protocol)\n"
        f"  {len(runs)} runs ({len(spec.seeds)} seeds), {spec.train['epochs']} epochs each, "
        f"{jobs} process(es) -> {out}/"
    )
    threads = None if jobs > 1 else threads  # the workers take one thread each
    launch_study(spec, out, jobs=jobs, threads=threads, device=device, force=force, stack=stack, log=log)
    rows = read_results(out / "results.csv")
    say("")
    say(format_console_table(rows, spec))

    analysis = None
    cw = [r for r in runs if model_family(r.model) == "drsn_cw"]
    if cw and thresholds:
        run_dir = out / "runs" / cw[0].run_id
        if (run_dir / "model.safetensors").is_file():
            analysis = analyze_thresholds(run_dir, snrs=list(DEMO_THRESHOLD_SNRS), max_signals=512)
            write_threshold_analysis(analysis, out / "figures", title=f"DRSN-CW thresholds ({cw[0].run_id})")
            write_study_report(out)  # again, so that report.md links the threshold figures too
            say("")
            say(format_threshold_summary(analysis))
    elapsed = time.perf_counter() - started
    figures = sorted((out / "figures").glob("*.png"))
    say("")
    say(f"done in {elapsed / 60:.1f} min. Files:")
    say(f"  {out / 'report.md'}        tables: overall (Table III style), per SNR, paired difference, time")
    say(f"  {out / 'results.csv'}      one row per run")
    for f in figures:
        say(f"  {f}")
    say(f"  {out / 'runs'}/<run>/      each trained model (config.json + model.safetensors) and its test report")
    say(
        "\nnext:\n"
        "  deepshrink study quick --jobs 2            "
        "# the CPU study of docs/results.md: 3 models x 3 noises x 2 SNRs x 3 seeds\n"
        "  deepshrink study paper --print-study       "
        "# the paper's full study (a GPU job; --shard i/n to split it)\n"
        f"  deepshrink thresholds {out / 'runs' / (cw[0].run_id if cw else 'RUN')} --snr=-10:10:2\n"
        f"  deepshrink evaluate {out / 'runs' / runs[-1].run_id} --noise pink --snr=-5:5:1\n"
        "  deepshrink train --model drsn_cw_paper --noise gaussian --snr=-5 --epochs 100   # one full run"
    )
    return DemoResult(spec, out, rows, analysis, figures, elapsed)


# ---------------------------------------------------------------------- thresholds
def format_threshold_summary(analysis: ThresholdAnalysis) -> str:
    """A short text table: per layer, tau, alpha and zero fraction at the lowest and highest SNR, and rho."""
    rows = [r for r in analysis.rows if r["class"] == "all"]
    snrs = sorted({r["snr_db"] for r in rows if r["snr_db"] is not None})
    lo, hi = snrs[0], snrs[-1]
    by = {(r["layer"], r["snr_db"]): r for r in rows}
    corr = {c["layer"]: c for c in analysis.correlations}
    acc_lo, acc_hi = (100 * by[(analysis.layers[0], snr)]["accuracy"] for snr in (lo, hi))
    lines = [f"{analysis.mode.upper()} thresholds, {analysis.noise} noise; accuracy {acc_lo:.1f} % at {lo:g} dB, "
             f"{acc_hi:.1f} % at {hi:g} dB",
             f"{'layer':<18} {'tau ' + format(lo, 'g') + ' dB':>12} {'tau ' + format(hi, 'g') + ' dB':>12} "
             f"{'alpha lo/hi':>13} {'zero lo/hi':>13} {'rho(SNR,tau)':>13} {'rho(SNR,alpha)':>15}"]  # fmt: skip
    for layer in analysis.layers:
        a, b = by[(layer, lo)], by[(layer, hi)]
        c = corr.get(layer, {})
        lines.append(
            f"{a['block']:<18} {a['tau_mean']:>12.4g} {b['tau_mean']:>12.4g} "
            f"{a['alpha_mean']:>6.3f}/{b['alpha_mean']:<6.3f} {a['zero_fraction']:>6.3f}/{b['zero_fraction']:<6.3f} "
            f"{c.get('rho_tau', float('nan')):>13.3f} {c.get('rho_alpha', float('nan')):>15.3f}"
        )
    return "\n".join(lines)
