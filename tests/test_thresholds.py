"""The thresholds analysis: learned tau / zero fraction of a trained DRSN against the input SNR."""

from __future__ import annotations

import csv
import math

import pytest

from deepshrink.cli import main
from deepshrink.study.thresholds import THRESHOLD_COLUMNS, analyze_thresholds, first_unit_of_each_stage
from deepshrink.layers import Shrinkage
from deepshrink.models import create_model

TINY_DATA = {"recordings_per_condition": 2, "windows_per_recording": 2, "window": 256, "speeds_hz": [30],
             "loads": [0.5], "workers": 1}  # fmt: skip


def _train(tmp_path_factory, model: str):
    from deepshrink.train import TrainConfig, train

    out = tmp_path_factory.mktemp(model) / "run"
    cfg = TrainConfig(model=model, data="simulator", data_args=dict(TINY_DATA), noise="gaussian", snr=0.0, epochs=1,
                      batch_size=8, test_fraction=0.5, val_fraction=0.0, keep="last", num_threads=1, device="cpu",
                      progress="off")  # fmt: skip
    train(cfg, output=out, console=False)
    return out


@pytest.fixture(scope="module")
def cw_run(tmp_path_factory):
    return _train(tmp_path_factory, "drsn_cw_paper6")


def test_analysis_rows_are_sane(cw_run):
    a = analyze_thresholds(cw_run, snrs=[-10, 0, 10], max_signals=None)
    assert a.mode == "cw" and a.noise == "gaussian"
    assert len(a.layers) == 6  # paper6: 3 stages x 2 units
    classes = {r["class"] for r in a.rows} - {"all"}
    assert classes and classes <= set(a.label_names)
    # (clean + 3 SNRs) x layers x (all + classes present)
    assert len(a.rows) == 4 * len(a.layers) * (1 + len(classes))
    for r in a.rows:
        assert r["snr_db"] in (None, -10.0, 0.0, 10.0)
        assert r["tau_mean"] > 0 and r["tau_std"] >= 0
        assert 0 < r["alpha_mean"] < 1  # a sigmoid output
        assert 0 <= r["zero_fraction"] <= 1 and 0 <= r["accuracy"] <= 1 and r["n"] > 0
    # tau scales with the input amplitude: at -10 dB the input is ~10x stronger than clean,
    # so the first layer's tau must be well above its clean value
    first = {r["snr_db"]: r for r in a.rows if r["layer"] == a.layers[0] and r["class"] == "all"}
    assert first[None]["tau_rel_clean"] == pytest.approx(1.0)
    assert first[-10.0]["tau_mean"] > 1.5 * first[10.0]["tau_mean"]
    assert len(a.correlations) == len(a.layers)
    for c in a.correlations:
        assert -1 <= c["rho_tau"] <= 1 and not math.isnan(c["rho_alpha"])


def test_cli_writes_csv_and_pngs(cw_run, tmp_path, capsys):
    out = tmp_path / "thr"
    assert main(["thresholds", str(cw_run), "--snr=-5,5", "--max-signals", "16", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CW thresholds, gaussian noise" in printed and "stage 1 unit 1" in printed
    with open(out / "thresholds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == THRESHOLD_COLUMNS
    assert {r["snr_db"] for r in rows} == {"", "-5", "5"}
    assert all(float(r["tau_mean"]) > 0 and 0 <= float(r["zero_fraction"]) <= 1 for r in rows)
    with open(out / "thresholds_correlation.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 6
    for name in ("thresholds.png", "thresholds_by_class.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_resnet_run_is_refused(tmp_path_factory, capsys):
    run = _train(tmp_path_factory, "resnet_paper6")
    assert main(["thresholds", str(run)]) == 2
    assert "no shrinkage layers" in capsys.readouterr().err
    assert main(["thresholds", str(run.parent / "missing")]) == 2


def _threshold_summary():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "threshold_summary.py"
    spec = importlib.util.spec_from_file_location("threshold_summary", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_threshold_summary_pools_runs_and_refuses_bad_input_in_one_line(cw_run, tmp_path, capsys):
    summary = _threshold_summary()
    out = tmp_path / "deep" / "summary.md"
    assert summary.main([str(cw_run), str(cw_run), "--snrs=-5,5", "--max-signals", "16", "--output", str(out)]) == 0
    text = out.read_text()
    assert text == capsys.readouterr().out and "Runs (2)" in text
    (first,) = [c for c in analyze_thresholds(cw_run, snrs=[-5, 5], max_signals=16).correlations
                if c["block"] == "stage 1 unit 1"]  # fmt: skip
    row = next(line for line in text.splitlines() if line.startswith("| stage 1 unit 1 |"))
    assert row.split(" | ")[2].startswith(f"{first['rho_alpha']:+.2f}")  # two copies of one run: its own rho
    assert summary.main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing: run folder does not exist" in err
    with pytest.raises(SystemExit):
        summary.main([str(cw_run), "--snrs=a,b"])
    assert "--snrs: expected comma-separated numbers" in capsys.readouterr().err


def test_by_class_figure_shows_the_first_unit_of_each_stage():
    model = create_model("drsn_cw_paper6", num_classes=3)
    layers = [name for name, m in model.named_modules() if isinstance(m, Shrinkage)]
    picked = first_unit_of_each_stage(layers)
    assert len(layers) == 6 and len(picked) == 3  # 3 stages of 2 units
    assert picked == [layers[0], layers[2], layers[4]]
