"""The noise-robustness study of the paper, its report and figures, and the thresholds analysis.

Public API::

    from deepshrink.experiments import load_study, run_study, write_study_report, analyze_thresholds

    spec = load_study("quick")                     # a preset, or a YAML study file
    run_study(spec, "studies/quick")               # resumable; --shard i/n splits it across processes
    write_study_report("studies/quick")            # report.md, summary.csv, figures/*.png
    analysis = analyze_thresholds("studies/quick/runs/drsn_cw_paper-gaussian-m5dB-seed0")

Modules: :mod:`.study` (spec, runs, results.csv, sharding), :mod:`.presets`, :mod:`.report`
(tables), :mod:`.plots` (figures), :mod:`.thresholds` (learned thresholds vs SNR),
:mod:`.parallel` (local worker processes).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "StudySpec": "deepshrink.experiments.study",
    "RunSpec": "deepshrink.experiments.study",
    "RESULT_COLUMNS": "deepshrink.experiments.study",
    "load_study": "deepshrink.experiments.study",
    "study_from_dict": "deepshrink.experiments.study",
    "study_to_yaml": "deepshrink.experiments.study",
    "expand_runs": "deepshrink.experiments.study",
    "parse_shard": "deepshrink.experiments.study",
    "run_study": "deepshrink.experiments.study",
    "run_one": "deepshrink.experiments.study",
    "read_results": "deepshrink.experiments.study",
    "run_study_parallel": "deepshrink.experiments.parallel",
    "PRESETS": "deepshrink.experiments.presets",
    "list_presets": "deepshrink.experiments.presets",
    "write_study_report": "deepshrink.experiments.report",
    "format_console_table": "deepshrink.experiments.report",
    "plot_accuracy_vs_snr": "deepshrink.experiments.plots",
    "analyze_thresholds": "deepshrink.experiments.thresholds",
    "write_threshold_analysis": "deepshrink.experiments.thresholds",
    "ThresholdAnalysis": "deepshrink.experiments.thresholds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
