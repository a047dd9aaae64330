"""Classification metrics against scikit-learn, the per-SNR table and the report files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import f1_score, recall_score

from deepshrink.train.metrics import accuracy_by_snr, classification_report, confusion_matrix, write_report


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    k = 5
    y = rng.integers(0, k, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, k, 200))
    p[p == 4] = 3  # class 4 never predicted: F1 0, still counted (it has support)
    names = [f"c{i}" for i in range(k)]
    report = classification_report(y, p, names)
    assert np.array_equal(np.asarray(report["confusion_matrix"]), sk_confusion(y, p, labels=range(k)))
    assert report["accuracy"] == pytest.approx((y == p).mean())
    assert report["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
    recall = recall_score(y, p, average=None, labels=range(k), zero_division=0)
    assert [r["recall"] for r in report["per_class"]] == pytest.approx(recall.tolist())


def test_absent_class_is_left_out_of_macro_f1():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 1, 1])
    report = classification_report(y, p, ["a", "b", "never"])
    assert report["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert report["per_class"][2]["support"] == 0


def test_accuracy_by_snr_only_with_several_snrs():
    y = np.array([0, 1, 0, 1, 0, 1])
    p = np.array([0, 1, 1, 1, 1, 0])
    snr = np.array([-5.2, -4.9, 0.1, -0.2, 5.0, 5.4])
    rows = accuracy_by_snr(y, p, snr)
    assert [(r["snr_db"], r["count"], r["accuracy"]) for r in rows] == [(-5.0, 2, 1.0), (0.0, 2, 0.5), (5.0, 2, 0.0)]
    assert "accuracy_by_snr" in classification_report(y, p, ["a", "b"], snr)
    assert "accuracy_by_snr" not in classification_report(y, p, ["a", "b"], np.zeros(6))


def test_write_report_files(tmp_path):
    y = np.array([0, 1, 2, 2])
    p = np.array([0, 2, 2, 2])
    report = classification_report(y, p, ["x", "y", "z"], np.array([0.0, 0.0, 5.0, 5.0]), loss=0.5)
    paths = write_report(report, tmp_path, prefix="test")
    names = sorted(path.name for path in paths)
    assert names == sorted(["test_metrics.json", "test_confusion_matrix.csv", "test_confusion_matrix.png",
                            "test_per_class.csv", "test_accuracy_by_snr.csv", "test_accuracy_by_snr.png"])  # fmt: skip
    assert json.loads((tmp_path / "test_metrics.json").read_text())["loss"] == 0.5
    with open(tmp_path / "test_confusion_matrix.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["true \\ predicted", "x", "y", "z"], ["x", "1", "0", "0"], ["y", "0", "0", "1"], ["z", "0", "0", "2"]]
    assert confusion_matrix(y, p, 3).sum() == 4
