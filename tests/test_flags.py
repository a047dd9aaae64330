"""One vocabulary of flags across commands; the old spellings still work, hidden, with one line each."""

from __future__ import annotations

import argparse

import pytest

from deepshrink.cli import build_parser, main


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser, visible: bool = True) -> set[str]:
    return {o for a in parser._actions if not visible or a.help != argparse.SUPPRESS for o in a.option_strings}


def test_one_spelling_per_concept_across_commands():
    commands = _commands()
    for name, parser in commands.items():
        options = _options(parser)
        assert not options & {"--snrs", "--num-threads"}, name  # the SNR flag is --snr, threads are --threads
        if "--output" in options:
            assert "-o" in options, f"{name}: --output without -o"
    for name in ("train", "evaluate", "predict", "study", "demo", "thresholds"):
        assert {"--output", "-o"} <= _options(commands[name]), name
    for name in ("train", "evaluate", "study", "thresholds"):
        assert "--snr" in _options(commands[name]), name
    for name in ("train", "study", "demo"):
        assert "--threads" in _options(commands[name]), name
    # --split is how a dataset is split (train, benchmark); the part to look at is --part
    assert "--part" in _options(commands["evaluate"]) and "--part" in _options(commands["thresholds"])
    assert "--split" not in _options(commands["evaluate"]) | _options(commands["thresholds"])


@pytest.mark.parametrize("argv, said, check", [
    (["train", "--num-threads", "3", "--print-config"], "deepshrink train: --num-threads is now --threads",
     lambda out: "num_threads: 3" in out),
    (["study", "demo", "--snrs=-5,5", "--print-study"], "deepshrink study: --snrs is now --snr",
     lambda out: "snrs: [-5.0, 5.0]" in out),
])  # fmt: skip
def test_old_spellings_work_and_say_the_new_one(argv, said, check, capsys):
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert check(captured.out), captured.out
    assert f"{said} (the old spelling goes in 0.3)" in captured.err and len(captured.err.strip().splitlines()) == 1


def test_old_part_spelling_reaches_the_same_setting():
    commands = _commands()
    for name in ("evaluate", "thresholds"):
        args = commands[name].parse_args(["RUN", "--split", "train"])
        assert args.part == "train", name
