"""The noise-robustness study of the paper, its report and figures, and the thresholds analysis.

Public API::

    from deepshrink.experiments import load_study, run_study, write_study_report, analyze_thresholds

    spec = load_study("quick")                     # a preset, or a YAML study file
    run_study(spec, "studies/quick")               # resumable; --shard i/n splits it across processes
    write_study_report("studies/quick")            # report.md, summary.csv, figures/*.png
    analysis = analyze_thresholds("studies/quick/runs/drsn_cw_paper-gaussian-m5dB-seed0")

Modules, each importing only those before it: :mod:`.presets`, :mod:`.spec` (the study, its
axes and runs), :mod:`.results` (``results.csv``), :mod:`.rocket` (MiniRocket as a study model),
:mod:`.stats` (means, intervals, paired differences), :mod:`.ranking` (ranks, Friedman,
Wilcoxon-Holm cliques over many models and cells), :mod:`.plots` (figures), :mod:`.report`
(tables, and the panel of several datasets), :mod:`.study` (running, cohorts, sharding),
:mod:`.parallel` (local worker processes), :mod:`.thresholds` (learned thresholds vs SNR).
"""

from __future__ import annotations

from deepshrink._lazy import lazy_exports

_EXPORTS = {
    "StudySpec": "deepshrink.experiments.spec",
    "RunSpec": "deepshrink.experiments.spec",
    "RESULT_COLUMNS": "deepshrink.experiments.results",
    "load_study": "deepshrink.experiments.spec",
    "study_from_dict": "deepshrink.experiments.spec",
    "study_to_yaml": "deepshrink.experiments.spec",
    "expand_runs": "deepshrink.experiments.spec",
    "parse_shard": "deepshrink.experiments.spec",
    "run_study": "deepshrink.experiments.study",
    "run_one": "deepshrink.experiments.study",
    "read_results": "deepshrink.experiments.results",
    "run_study_parallel": "deepshrink.experiments.parallel",
    "PRESETS": "deepshrink.experiments.presets",
    "list_presets": "deepshrink.experiments.presets",
    "write_study_report": "deepshrink.experiments.report",
    "write_panel_report": "deepshrink.experiments.report",
    "rank_models": "deepshrink.experiments.ranking",
    "plot_critical_difference": "deepshrink.experiments.plots",
    "run_rocket": "deepshrink.experiments.rocket",
    "format_console_table": "deepshrink.experiments.report",
    "plot_accuracy_vs_snr": "deepshrink.experiments.plots",
    "analyze_thresholds": "deepshrink.experiments.thresholds",
    "write_threshold_analysis": "deepshrink.experiments.thresholds",
    "ThresholdAnalysis": "deepshrink.experiments.thresholds",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
