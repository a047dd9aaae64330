"""Predictions on whole recordings: windows cut by hand, probabilities equal to the model's on
those windows, decisions counted by hand, every file kind, and one-line refusals."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import scipy.io
import scipy.io.wavfile
import torch
from test_train_support import fast_train_args, run_cli, write_npz

import deepshrink
from deepshrink.cli import main
from deepshrink.errors import ConfigError, DatasetError
from deepshrink.train.evaluation import predict_recording
from deepshrink.predict.recording import RecordingPrediction, read_recording, window_starts

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RATE, WINDOW = 1000.0, 128  # the run of the fixture: synthetic_dataset's rate and window


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict-recording")
    data = write_npz(root / "data.npz")
    out = root / "run"
    args = [str(a) for a in fast_train_args(data, out, epochs=1, batch_size=16)] + ["--progress", "off"]
    assert main(args) == 0
    return out


def long_signal(seconds: float = 3.0, seed: int = 1) -> np.ndarray:
    """Class-0 sines (3 cycles per window) for the first half, class-3 (18 cycles) after."""
    t = np.arange(int(seconds * RATE)) / RATE
    f = np.where(t < seconds / 2, 3, 18) * RATE / WINDOW
    return (np.sin(2 * np.pi * f * t) + 0.3 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def reference_probabilities(model, signal: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(0, signal.size - WINDOW + 1, hop)
    windows = np.stack([signal[s : s + WINDOW] for s in starts])[:, None, :]  # cut by hand
    x = torch.as_tensor(windows)
    if model.input_spec.get("normalize") == "per_sample":
        x = (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True)
    with torch.no_grad():
        return starts, torch.softmax(model.eval()(x), 1).numpy()


def test_predict_recording_matches_windows_cut_by_hand(run):
    model = deepshrink.load(run)
    signal = long_signal()
    for hop in (WINDOW, 48, 200):
        pred = predict_recording(model, signal, hop=hop)
        starts, probs = reference_probabilities(model, signal, hop)
        assert pred.starts.tolist() == starts.tolist() and pred.window == WINDOW and pred.hop == hop
        np.testing.assert_allclose(pred.probabilities, probs, atol=1e-5)
        np.testing.assert_allclose(pred.mean_probability, probs.mean(0), atol=1e-6)
        votes = np.bincount(probs.argmax(1), minlength=4)
        assert pred.votes.tolist() == votes.tolist()
        assert pred.decision == f"class{probs.mean(0).argmax()}" and pred.vote == f"class{votes.argmax()}"
    assert window_starts(300, 128, 100).tolist() == [0, 100] and window_starts(100, 128, 1).size == 0
    # the run folder works as well as a model; a (1, T) signal is the same recording
    from_run = predict_recording(run, signal[None, :], hop=64, sampling_rate=RATE)
    np.testing.assert_allclose(from_run.probabilities, predict_recording(model, signal, hop=64).probabilities, atol=1e-6)
    rows = list(csv.DictReader(io.StringIO(from_run.to_csv())))
    assert len(rows) == from_run.starts.size and rows[2]["start"] == "128" and rows[2]["end"] == "256"
    assert rows[2]["start_s"] == "0.128000" and rows[2]["predicted"] == f"class{from_run.probabilities[2].argmax()}"


def test_segments_follow_the_class_changes():
    classes = [0] * 10 + [1] + [0] * 5 + [2] * 10  # a lone window of class 1 inside class 0
    probs = np.full((len(classes), 3), 0.1)
    probs[np.arange(len(classes)), classes] = 0.8
    pred = RecordingPrediction(starts=np.arange(26) * 4, window=8, hop=4, sampling_rate=2.0, probabilities=probs,
                               label_names=["a", "b", "c"], length=25 * 4 + 8)  # fmt: skip
    assert [(g["class"], g["first_window"], g["last_window"]) for g in pred.segments()] == [("a", 0, 15), ("c", 16, 25)]
    # boundary: half a hop before the centre of window 16, (64 + 4 - 2) samples = 33 s at 2 Hz
    assert [(g["start"], g["end"]) for g in pred.segments()] == [(0.0, 33.0), (33.0, 54.0)]
    assert [g["class"] for g in pred.segments(smooth=1)] == ["a", "b", "a", "c"]
    assert "2 segments: a 0.0-33.0 s, c 33.0-54.0 s" in pred.summary_line()
    with pytest.raises(ConfigError, match="smooth"):
        pred.segments(smooth=4)


def test_csv_time_column_gives_the_rate_despite_rounding(tmp_path):
    t = np.arange(3000) / 12800.0  # 78.125 us steps, printed to the microsecond
    x = np.sin(2 * np.pi * 100 * t)
    (tmp_path / "r.csv").write_text("Time,ch1,ch2\n" + "".join(f"{a:.6f},{b:.6f},{-b:.6f}\n" for a, b in zip(t, x)))
    signal, rate = read_recording(tmp_path / "r.csv")
    assert signal.shape == (2, 3000) and rate == pytest.approx(12800.0, rel=1e-5)
    np.testing.assert_allclose(signal[1], -x, atol=1e-6)
    one, _ = read_recording(tmp_path / "r.csv", columns=["ch2"])
    np.testing.assert_array_equal(one, signal[1:])


def test_wrong_rate_length_or_channels_are_refused(run):
    model = deepshrink.load(run)
    signal = long_signal()
    with pytest.raises(DatasetError, match=r"signal: sampled at 2000 Hz, but the model expects 1000 Hz \(its config.json 'input'"):
        predict_recording(model, signal, sampling_rate=2000)
    with pytest.raises(DatasetError, match=r"signal: 100 samples at 1000 Hz, fewer than the model's window of 128 samples"):
        predict_recording(model, signal[:100])
    with pytest.raises(DatasetError, match=r"signal: 2 channel\(s\), the model expects 1"):
        predict_recording(model, np.stack([signal, signal]))
    with pytest.raises(ConfigError, match="window: the model takes windows of 128 samples"):
        predict_recording(model, signal, window=256)
    with pytest.raises(ConfigError, match="--hop"):
        predict_recording(model, signal, hop=0)
    bad = signal.copy()
    bad[77] = np.nan
    with pytest.raises(DatasetError, match="NaN or infinite value at sample 77"):
        predict_recording(model, bad)
    # --resample: a 2 kHz recording is brought to the model's 1 kHz, same duration
    fast = np.repeat(signal, 2)
    pred = predict_recording(model, fast, sampling_rate=2000, resample=True)
    assert pred.resampled and pred.length == signal.size and pred.sampling_rate == RATE


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_reads_every_recording_format(run, tmp_path, capsys):
    signal = long_signal(seed=2)
    hop = 64
    expected = (signal.size - WINDOW) // hop + 1
    reference = predict_recording(run, signal, hop=hop).probabilities
    pcm = np.round(signal / 4 * 32767).astype(np.int16)  # within [-1, 1) after scaling
    files = {"rec.wav": None, "rec.npy": None, "rec.npz": None, "rec.csv": None, "97.mat": None}
    scipy.io.wavfile.write(tmp_path / "rec.wav", int(RATE), pcm)
    np.save(tmp_path / "rec.npy", signal)
    np.savez(tmp_path / "rec.npz", signal=signal, sampling_rate=RATE)
    t = np.arange(signal.size) / RATE
    (tmp_path / "rec.csv").write_text("time,accel\n" + "".join(f"{a:.6f},{b:.7g}\n" for a, b in zip(t, signal)))
    scipy.io.savemat(tmp_path / "97.mat", {"X097_DE_time": signal[:, None].astype(float), "X097_FE_time": np.zeros((signal.size, 1)),
                                           "X097RPM": np.array([[1797.0]])})  # fmt: skip
    for name in files:
        out, png, summary = tmp_path / f"{name}.csv", tmp_path / f"{name}.png", tmp_path / f"{name}.json"
        assert main(["predict", str(run), str(tmp_path / name), "--hop", str(hop), "--output", str(out), "--plot", str(png),
                     "--summary", str(summary), "--device", "cpu"]) == 0, name  # fmt: skip
        printed = capsys.readouterr()
        rows = _rows(out)
        assert len(rows) == expected, name
        probs = np.array([[float(r[f"p_class{k}"]) for k in range(4)] for r in rows])
        if name != "rec.wav":  # the .wav holds signal / 4, quantised
            np.testing.assert_allclose(probs, reference, atol=2e-5, err_msg=name)
        assert png.read_bytes()[:8] == PNG_MAGIC
        info = json.loads(summary.read_text())
        mean = probs.mean(0)
        assert info["windows"] == expected and info["sampling_rate"] == RATE and info["hop"] == hop
        assert info["decision"]["mean_probability"] == f"class{mean.argmax()}"
        votes = np.bincount(probs.argmax(1), minlength=4)
        assert info["votes"] == {f"class{k}": int(v) for k, v in enumerate(votes)}
        assert f"{expected} windows of 128 samples (hop 64) over 3.0 s at 1000 Hz -> class{mean.argmax()}" in printed.out
        assert ("carries no sampling rate" in printed.err) == (name in ("rec.npy", "97.mat")), name
    wav = scipy.io.wavfile.read(tmp_path / "rec.wav")[1]
    np.testing.assert_allclose(read_recording(tmp_path / "rec.wav")[0][0], wav / 32768.0, rtol=1e-6)


def test_cli_windows_mode_is_kept_and_stdout_is_a_clean_csv(run, tmp_path, capsys):
    signal = long_signal(seconds=1.0)
    np.save(tmp_path / "one.npy", signal)  # one recording: auto-detected, CSV to stdout, decision on stderr
    assert main(["predict", str(run), str(tmp_path / "one.npy"), "--device", "cpu"]) == 0
    printed = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(printed.out)))
    assert len(rows) == 1000 // 128 and list(rows[0])[:6] == ["window", "start", "end", "start_s", "end_s", "predicted"]
    assert "-> class" in printed.err and printed.err.count("\n") == 2  # the rate note and the decision
    windows = np.stack([signal[i * 128 : (i + 1) * 128] for i in range(5)])
    np.save(tmp_path / "windows.npy", windows)  # (N, L) windows of the model's length: as before
    assert main(["predict", str(run), str(tmp_path / "windows.npy"), "--device", "cpu"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 5 and list(rows[0])[:2] == ["index", "predicted"]
    np.testing.assert_allclose([float(r["p_class0"]) for r in rows],
                               predict_recording(run, signal[:640]).probabilities[:, 0], atol=2e-5)  # fmt: skip


def test_bad_recordings_give_one_line_and_exit_2(run, tmp_path, capsys):
    signal = long_signal(seconds=1.0)
    scipy.io.wavfile.write(tmp_path / "fast.wav", 2000, signal)
    np.save(tmp_path / "short.npy", signal[:100])
    np.save(tmp_path / "wrong_length.npy", np.zeros((6, 100), np.float32))
    (tmp_path / "two.csv").write_text("a,b\n" + "1,2\n" * 300)
    np.savez(tmp_path / "rated.npz", x=signal, fs=1000.0)
    scipy.io.savemat(tmp_path / "105.mat", {"X105_DE_time": signal[:, None], "X105_FE_time": signal[:, None]})
    cases = {
        "rate": (["fast.wav"], "fast.wav: sampled at 2000 Hz, but the model expects 1000 Hz"),
        "short": (["short.npy"], "short.npy: 100 samples at 1000 Hz, fewer than the model's window of 128 samples"),
        "window length": (["wrong_length.npy"], "observations of 100 samples, but the model expects windows of 128 samples at 1000 Hz"),
        "columns": (["two.csv"], "two.csv: read as one recording with 2 channel(s) (one column per channel; pick them with --columns)"),
        "missing column": (["two.csv", "--columns", "c"], "two.csv: no column 'c' (columns: a, b)"),
        "rate conflict": (["rated.npz", "--sampling-rate", "2000"], "rated.npz: the file says 1000 Hz, --sampling-rate says 2000 Hz"),
        "mat key": (["105.mat", "--key", "BA"], "105.mat: no variable 'BA'"),
        "hop": (["rated.npz", "--hop", "0"], "--hop must be >= 1"),
        "plot folder": (["rated.npz", "--plot", str(tmp_path / "no" / "x.png")], "does not exist"),
        "windows flag": (["rated.npz", "--windows", "--hop", "5"], "--windows"),
    }
    failures = []
    for name, (args, expected) in cases.items():
        code = main(["predict", str(run), *[str(tmp_path / a) if i == 0 else a for i, a in enumerate(args)], "--device", "cpu"])
        err = capsys.readouterr().err
        if code != 2 or len(err.strip().splitlines()) != 1 or expected not in err:
            failures.append(f"{name}: exit {code}, stderr {err.strip()!r}")
    assert not failures, "\n".join(failures)
    # the real console script: one line, no traceback
    proc = run_cli(["predict", run, tmp_path / "fast.wav", "--hop", "64"])
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "the model expects 1000 Hz" in proc.stderr and "--resample" in proc.stderr
    # and with --resample the same file is accepted
    assert main(["predict", str(run), str(tmp_path / "fast.wav"), "--resample", "--output", str(tmp_path / "f.csv")]) == 0
    assert len(_rows(tmp_path / "f.csv")) == (500 - 128) // 128 + 1  # 0.5 s (1000 samples at 2 kHz) at 1 kHz
