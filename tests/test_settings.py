"""One declaration per setting: validation, flags, --print-config and docs/config.md all follow it."""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import pytest

from deepshrink.cli import build_parser, main
from deepshrink.errors import CheckpointError, ConfigError
import deepshrink.settings as settings
from deepshrink.train.config import (
    NOISE_CHOICES,
    RECIPES,
    RUNTIME_KEYS,
    TrainConfig,
    config_reference,
    layered_config,
    load_config,
    load_yaml,
    resolve,
    to_yaml,
)
from deepshrink.settings import setting

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def _train_parser() -> argparse.ArgumentParser:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices["train"]


# ---------------------------------------------------------------------- every setting everywhere
def test_every_setting_has_help_a_flag_a_print_config_line_and_a_docs_entry(capsys):
    flags = {option: action for action in _train_parser()._actions for option in action.option_strings}
    help_text = " ".join(_train_parser().format_help().split())
    assert main(["train", "--print-config"]) == 0
    printed = capsys.readouterr().out
    docs = DOCS.read_text(encoding="utf-8")
    for f in dataclasses.fields(TrainConfig):
        s = settings.declared(TrainConfig)[f.name]
        assert s.help.strip() and "\n" not in s.help, f.name
        assert s.option in flags and flags[s.option].dest == f.name, f.name
        assert " ".join(s.help.split()) in help_text, f.name
        assert re.search(rf"^{f.name}:.*  # {re.escape(s.help)}$", printed, re.M), f.name
        assert re.search(rf"^\| `{f.name}` \| `{re.escape(s.option)}[ `]", docs, re.M), f.name
    assert load_yaml(printed, "--print-config") == resolve(TrainConfig()).to_dict()


def test_docs_config_md_is_what_the_declaration_generates():
    assert DOCS.read_text(encoding="utf-8") == config_reference(), (
        "docs/config.md is stale: python -m deepshrink.train.config > docs/config.md"
    )


def test_derived_constants_keep_their_values():
    assert RUNTIME_KEYS == {"device", "progress", "log", "num_threads", "compile", "eval_batch_size", "checkpoint_every"}
    assert NOISE_CHOICES == ("none", "gaussian", "laplacian", "uniform", "pink", "brown")
    assert settings.declared(TrainConfig)["recipe"].choices == tuple(RECIPES)
    assert settings.declared(TrainConfig)["split"].choices == ("recording", "condition", "predefined", "window")
    # the study reads the allowed values from the type hints
    assert typing.get_args(typing.get_type_hints(TrainConfig)["normalize"]) == ("none", "per_sample")


# A value other than the default for each setting, as flag text and as the config then holds it.
_FLAG_EXAMPLES = {
    "model": (["resnet_paper"], "resnet_paper"),
    "model_args": (["drop_rate=0.1"], {"drop_rate": 0.1}),
    "data": (["ucr:FordA"], "ucr:FordA"),
    "data_args": (["window=512", "stride=256"], {"window": 512, "stride": 256}),
    "snr": (["-5:5"], "-5:5"),
    "test_conditions": (["speed_hz=40"], {"speed_hz": [40]}),
    "milestones": (["0.3", "0.6"], [0.3, 0.6]),
    "device": (["cpu"], "cpu"),
    "init_from": (["runs/pretrained"], "runs/pretrained"),
    "compile": (["off"], False),
}


def _other_value(s: settings.Setting) -> tuple[list[str], object]:
    if s.name in _FLAG_EXAMPLES:
        return _FLAG_EXAMPLES[s.name]
    if s.choices:
        other = [c for c in s.choices if c != s.default][-1]  # split: window, the choice added last
        return [other], other
    tp = settings._non_null(s.type)
    if tp is int:
        return [str((s.default or 1) + 1)], (s.default or 1) + 1
    if tp is float:
        value = 0.5 if s.default != 0.5 else 0.25
        return [str(value)], value
    raise AssertionError(f"no example value for {s.name}")


@pytest.mark.parametrize("name", list(settings.declared(TrainConfig)))
def test_each_flag_sets_its_setting(name):
    s = settings.declared(TrainConfig)[name]
    if s.type is bool:
        argv, expected = [s.option if not s.default else f"--no-{s.option[2:]}"], not s.default
    else:
        texts, expected = _other_value(s)
        repeat = typing.get_origin(s.type) is dict
        argv = [a for t in texts for a in (s.option, t)] if repeat else [s.option, *texts]
    args = _train_parser().parse_args(argv)
    cfg = layered_config(flags=settings.flag_values(args, TrainConfig))
    assert getattr(cfg, name) == expected != s.default
    assert getattr(layered_config(flags=settings.flag_values(_train_parser().parse_args([]), TrainConfig)), name) == s.default


# ---------------------------------------------------------------------- layering
def test_layers_defaults_file_flags_set(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 7\nseed: 3\nmodel_args: {drop_rate: 0.1}\nsplit: recording\n")
    flags = {"seed": 4, "model_args": {"shortcut": "conv"}, "test_conditions": {"speed_hz": [40]}}
    cfg = layered_config(config=config, flags=flags, sets=["seed=5", "lr=1e-3"])
    assert (cfg.epochs, cfg.seed, cfg.lr, cfg.batch_size) == (7, 5, 1e-3, 128)
    assert cfg.model_args == {"drop_rate": 0.1, "shortcut": "conv"}  # declared merge: adds to the file's
    assert cfg.split == "condition" and cfg.test_conditions == {"speed_hz": [40]}  # implied by the flag
    cfg = layered_config(config=config, flags={"test_conditions": {"speed_hz": [40]}, "split": "window"})
    assert cfg.split == "window"  # a flag given beats what another flag implies
    assert layered_config() == TrainConfig()


def test_layer_errors_name_their_source(tmp_path):
    with pytest.raises(ConfigError, match=r"^command line: key 'epochs' must be in \[1, 1000000\], got 0$"):
        layered_config(flags={"epochs": 0})
    with pytest.raises(ConfigError, match=r"^--set: unknown key 'epoch'; did you mean epochs\?"):
        layered_config(sets=["epoch=3"])


def test_resume_takes_the_runs_config(tmp_path):
    with pytest.raises(CheckpointError, match="run folder to resume does not exist"):
        layered_config(resume=tmp_path / "nope")
    with pytest.raises(CheckpointError, match=r"config\.yaml: missing; cannot resume a folder that is not a deepshrink run"):
        layered_config(resume=tmp_path)
    (tmp_path / "config.yaml").write_text(to_yaml(TrainConfig(epochs=9, noise="none", snr=None)))
    cfg = layered_config(resume=tmp_path, flags={"device": "cpu"})
    assert (cfg.epochs, cfg.noise, cfg.device) == (9, "none", "cpu")
    other = tmp_path / "other.yaml"
    other.write_text("epochs: 2\n")
    assert layered_config(config=other, resume=tmp_path).epochs == 2  # --config wins over the run's file


def test_commented_yaml_reads_back_unchanged(tmp_path):
    cfg = TrainConfig(data_args={"window": 512, "nested": {"a": [1, 2]}}, snr="-2:2:1", data="x" * 120, lr=1e-3)
    text = to_yaml(cfg, comments=True)
    assert "# data\n" in text and "  # number of epochs\n" in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert load_config(path) == cfg
    plain = [line for line in to_yaml(cfg).splitlines()]
    assert [re.sub(r"  # .*$", "", line) for line in text.splitlines() if line and not line.startswith("#")] == plain


# ---------------------------------------------------------------------- the machinery, on a new class
@dataclass
class _Toy:
    """A settings class of the tests."""

    rate: float = setting(0.5, "a rate", group="numbers", interval="(0, 1]")
    count: Union[int, None] = setting(None, "a count", group="numbers", interval="[1, 10]", metavar="N")
    steps: int = setting(0, "steps", group="numbers", interval="[0, inf)")
    mode: Literal["a", "b"] = setting("a", "a mode", group="words")
    name: str = setting("x", "a name", group="words", check=lambda v: None if v.isidentifier() else "must be an identifier")
    flag: bool = setting(False, "a switch", group="words", runtime=True)
    sizes: list[int] = setting([1, 2], "sizes", group="words")


def test_a_new_settings_class_gets_checks_flags_text_and_docs():
    assert settings.build(_Toy, {"rate": 1, "count": 10}, "t.yaml") == _Toy(rate=1.0, count=10)
    for values, message in [
        ({"rate": 0}, "t.yaml: key 'rate' must be in (0, 1], got 0.0"),
        ({"rate": math.nan}, "t.yaml: key 'rate' must be in (0, 1], got nan"),
        ({"count": 11}, "t.yaml: key 'count' must be in [1, 10] or null, got 11"),
        ({"steps": -1}, "t.yaml: key 'steps' must be >= 0, got -1"),
        ({"steps": True}, "t.yaml: key 'steps' must be an integer, got bool True"),
        ({"mode": "c"}, "t.yaml: key 'mode' must be one of 'a', 'b', got str 'c'"),
        ({"name": "1x"}, "t.yaml: key 'name' must be an identifier, got '1x'"),
        ({"sizes": [1.5]}, "t.yaml: key 'sizes' must be a list of integers, got list [1.5]"),
        ({"rat": 1}, "t.yaml: unknown key 'rat'; did you mean rate?"),
        ([1], "t.yaml: expected a mapping of key: value, got list"),
    ]:
        with pytest.raises(ConfigError) as err:
            settings.build(_Toy, values, "t.yaml")
        assert str(err.value) == message
    parser = argparse.ArgumentParser()
    settings.add_flags(parser, _Toy)
    args = parser.parse_args(["--rate", "0.25", "--count", "3", "--mode", "b", "--flag", "--sizes", "4", "5"])
    assert settings.flag_values(args, _Toy) == {"rate": 0.25, "count": 3, "mode": "b", "flag": True, "sizes": [4, 5]}
    assert [g.title for g in parser._action_groups[2:]] == ["numbers", "words"]
    docs = settings.reference(_Toy, "Toy", "make toy")
    assert "| `count` | `--count N` | an integer in [1, 10] or null | `null` | a count |" in docs
    assert "| `flag` | `--flag`, `--no-flag` | true or false | `false` | a switch |" in docs
    assert "May change when a run is resumed (they do not change what it computes): `flag`." in docs


def test_declaration_mistakes_fail_at_once():
    with pytest.raises(ValueError, match="interval"):
        setting(1, "x", group="g", interval="1..2")

    @dataclass
    class Bad:
        text: str = setting("a", "a text", group="g", interval="[0, 1]")

    with pytest.raises(TypeError, match="needs an int or float"):
        settings.declared(Bad)

    @dataclass
    class Undeclared:
        plain: int = 1

    with pytest.raises(TypeError, match="not declared with setting"):
        settings.declared(Undeclared)
