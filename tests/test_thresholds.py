"""The thresholds analysis: learned tau / zero fraction of a trained DRSN against the input SNR."""

from __future__ import annotations

import csv
import math

import pytest

from deepshrink.cli import main
from deepshrink.experiments.thresholds import THRESHOLD_COLUMNS, analyze_thresholds

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
    assert main(["thresholds", str(cw_run), "--snrs=-5,5", "--max-signals", "16", "--output", str(out)]) == 0
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
