"""The study: models x noise kinds x SNRs x seeds or folds (``deepshrink study``), its report and figures,
and the thresholds analysis.

Public API::

    from deepshrink.study import load_study, run_study, write_study_report, analyze_thresholds

    spec = load_study("quick")                     # a preset, or a YAML study file
    run_study(spec, "studies/quick")               # resumable; --shard i/n splits it across processes
    write_study_report("studies/quick")            # report.md, summary.csv, figures/*.png
    analysis = analyze_thresholds("studies/quick/runs/drsn_cw_paper-gaussian-m5dB-seed0")

Modules, each importing only those before it: :mod:`.presets`, :mod:`.spec` (the study, its
axes and runs), :mod:`.results` (``results.csv``), :mod:`.rocket` (MiniRocket as a study model),
:mod:`.stats` (means, intervals, paired differences), :mod:`.ranking` (ranks, Friedman,
Wilcoxon-Holm cliques over many models and cells), :mod:`.plots` (figures), :mod:`.sections` (text pieces),
:mod:`.report` (tables), :mod:`.panel` (several datasets), :mod:`.plan` (cohorts, shards), :mod:`.runner` (running),
:mod:`.parallel` (local worker processes), :mod:`.thresholds` (learned thresholds vs SNR).
"""

from __future__ import annotations

from deepshrink._lazy import lazy_exports

_EXPORTS = {
    "StudySpec": "deepshrink.study.spec",
    "RunSpec": "deepshrink.study.spec",
    "RESULT_COLUMNS": "deepshrink.study.results",
    "load_study": "deepshrink.study.spec",
    "study_from_dict": "deepshrink.study.spec",
    "study_to_yaml": "deepshrink.study.spec",
    "expand_runs": "deepshrink.study.spec",
    "parse_shard": "deepshrink.study.spec",
    "run_study": "deepshrink.study.runner",
    "run_one": "deepshrink.study.runner",
    "read_results": "deepshrink.study.results",
    "run_study_parallel": "deepshrink.study.parallel",
    "PRESETS": "deepshrink.study.presets",
    "list_presets": "deepshrink.study.presets",
    "write_study_report": "deepshrink.study.report",
    "write_panel_report": "deepshrink.study.panel",
    "rank_models": "deepshrink.study.ranking",
    "plot_critical_difference": "deepshrink.study.plots",
    "run_rocket": "deepshrink.study.rocket",
    "format_console_table": "deepshrink.study.report",
    "plot_accuracy_vs_snr": "deepshrink.study.plots",
    "analyze_thresholds": "deepshrink.study.thresholds",
    "write_threshold_analysis": "deepshrink.study.thresholds",
    "ThresholdAnalysis": "deepshrink.study.thresholds",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
