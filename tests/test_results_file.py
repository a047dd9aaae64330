"""results.csv proves itself: a cut, repeated or damaged row is repaired with one warning or refused
in one line naming the file and line, never used silently; a cut row is not glued to the next."""

from __future__ import annotations

import warnings

import pytest

from deepshrink.errors import ConfigError, DeepshrinkWarning
from deepshrink.study.results import RESULT_COLUMNS, append_result, read_results


def _row(run_id: str, acc: float = 0.5) -> dict:
    return {"run_id": run_id, "model": "resnet_paper6", "noise": "gaussian", "snr_db": 0.0, "seed": 0,
            "train_acc": acc, "test_acc": acc, "status": "finished"}  # fmt: skip


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "results.csv"
    for k in range(3):
        append_result(path, _row(f"run{k}", 0.5 + k / 10))
    return path


def test_a_cut_last_row_is_left_out_with_a_warning_and_repaired_before_the_next_append(results):
    whole = results.read_bytes()
    results.write_bytes(whole[:-25])  # the last row cut mid-line, no final newline
    with pytest.warns(DeepshrinkWarning, match=r"line 4: the last row is cut short"):
        rows = read_results(results)
    assert [r["run_id"] for r in rows] == ["run0", "run1"]  # run2 runs again on resume
    with pytest.warns(DeepshrinkWarning, match="cut short.*removed"):
        append_result(results, _row("run2", 0.7))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file is whole again: no warning
        rows = read_results(results)
    assert [(r["run_id"], r["test_acc"]) for r in rows] == [("run0", 0.5), ("run1", 0.6), ("run2", 0.7)]
    assert results.read_text().count("\n") == 4


def test_a_run_recorded_twice_counts_once_with_one_warning(results):
    append_result(results, _row("run1", 0.9))
    with pytest.warns(DeepshrinkWarning, match=r"1 run\(s\) recorded more than once \(lines 5\); the last row"):
        rows = read_results(results)
    assert [(r["run_id"], r["test_acc"]) for r in rows] == [("run0", 0.5), ("run1", 0.9), ("run2", 0.7)]


@pytest.mark.parametrize("old, new, message", [
    (b"run1", b"run\xff1", r"line 3: not UTF-8 text \(byte 0xff\)"),
    (b"run1,resnet_paper6", b"run1", r"line 3: \d+ cells where the header has"),
    (b"0.6,", b"0.6x,", r"line 3: column 'train_acc' holds '0.6x', not a number"),
])  # fmt: skip
def test_damaged_rows_are_one_line_errors_naming_the_line(results, old, new, message):
    results.write_bytes(results.read_bytes().replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as err:
        read_results(results)
    assert str(results) in str(err.value) and "\n" not in str(err.value)


def test_header_is_the_known_columns(results):
    assert results.read_text().splitlines()[0].split(",") == list(RESULT_COLUMNS)
