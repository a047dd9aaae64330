"""One source per list of names: noise kinds, recipes and model families are written once in src/.

Every other place (the ``noise`` and ``recipe`` settings, the CLI's ``choices``, reports and
figures) derives its values from that one source, so a kind, recipe or family added there
reaches all of them.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from deepshrink.cli import build_parser, main
from deepshrink.study import plots
from deepshrink.study.stats import display_name, pick_baseline
from deepshrink.models import FAMILIES, list_models, model_family, model_label
from deepshrink.noise import NOISE_KINDS
from deepshrink.train.config import NOISE_CHOICES, RECIPES, TrainConfig
from deepshrink.settings import declared

SRC = Path(__file__).resolve().parents[1] / "src" / "deepshrink"

# name of the list -> (its names, the files that may write them all out in one literal)
SOURCES = {
    "noise kinds": (set(NOISE_KINDS), {"noise.py"}),
    "recipes": (set(RECIPES), {"train/config.py"}),
    # plots.py: each family's colour and marker (test_every_family_has_a_plot_style holds its keys)
    "model families": (set(FAMILIES), {"models/registry.py", "study/plots.py"}),
}
# files allowed to repeat a list for now (none: every list is derived)
NOT_YET_DERIVED: dict[str, set[str]] = {}


def literal_listings(path: Path) -> list[tuple[int, set[str]]]:
    """``(line, strings)`` of every tuple, list or set literal of strings and every dict literal's string keys."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            items = node.keys
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        else:
            continue
        strings = {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
        if strings:
            out.append((node.lineno, strings))
    return out


def files_listing(names: set[str]) -> dict[str, list[int]]:
    """The files of src/ with a literal that holds every one of ``names``, and its lines."""
    found: dict[str, list[int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        lines = [line for line, strings in literal_listings(path) if names <= strings]
        if lines:
            found[path.relative_to(SRC).as_posix()] = lines
    return found


@pytest.mark.parametrize("what", sorted(SOURCES))
def test_each_list_of_names_is_written_once(what):
    names, sources = SOURCES[what]
    found = files_listing(names)
    assert sources <= set(found), f"the source of the {what} moved: {found}"
    copies = {f: lines for f, lines in found.items() if f not in sources | NOT_YET_DERIVED.get(what, set())}
    assert not copies, f"the {what} are written out again (derive them from {sorted(sources)[0]}): {copies}"


def test_the_check_finds_a_copy(tmp_path, monkeypatch):
    (tmp_path / "copy.py").write_text('CHOICES = ["none", "gaussian", "laplacian", "uniform", "pink", "brown"]\n')
    (tmp_path / "part.py").write_text('PICKED = ("gaussian", "pink")\n')
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    assert files_listing(set(NOISE_KINDS)) == {"copy.py": [1]}


# ---------------------------------------------------------------------- what derives from them
def _subcommand(name: str) -> argparse.ArgumentParser:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[name]


def _choices(command: str, flag: str) -> tuple[str, ...]:
    action = next(a for a in _subcommand(command)._actions if flag in a.option_strings)
    return tuple(action.choices)


def test_settings_and_flags_take_the_noise_kinds_and_recipes_from_their_source():
    assert declared(TrainConfig)["noise"].choices == ("none", *NOISE_KINDS) == NOISE_CHOICES
    assert declared(TrainConfig)["recipe"].choices == tuple(RECIPES)
    assert _choices("train", "--noise") == NOISE_CHOICES
    assert _choices("evaluate", "--noise") == NOISE_CHOICES
    assert _choices("thresholds", "--noise") == NOISE_KINDS
    assert _choices("train", "--recipe") == _choices("study", "--recipe") == tuple(RECIPES)


def test_benchmark_training_flags_follow_the_declared_ranges(capsys):
    """--epochs and --batch-size take TrainConfig's intervals, refused as argparse errors (exit 2, one line)."""
    assert main(["study", "quick", "--epochs", "0", "--dry-run"]) == 2
    assert "argument --epochs: must be in [1, 1000000], got 0" in capsys.readouterr().err
    assert main(["study", "quick", "--epochs", "1000001", "--dry-run"]) == 2
    assert "must be in [1, 1000000], got 1000001" in capsys.readouterr().err
    assert main(["study", "quick", "--batch-size", "0", "--dry-run"]) == 2
    assert "argument --batch-size: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["study", "quick", "--batch-size", "x", "--dry-run"]) == 2
    assert "expected an integer, got 'x'" in capsys.readouterr().err


def test_every_model_has_a_registered_family_and_label():
    for name in list_models():
        family = model_family(name)
        assert family in FAMILIES and name.startswith(family), name
        assert model_label(name).startswith(FAMILIES[family].label), name


def test_every_family_has_a_plot_style():
    assert set(plots.MODEL_COLORS) == set(plots._MARKERS) == set(FAMILIES)


def test_reports_go_by_the_registry_not_by_a_name_prefix():
    assert display_name("drsn_cw_paper") == "DRSN-CW"
    assert display_name("resnet_paper6") == "ResNet (paper6)"
    assert display_name("se_resnet_paper9") == "SE-ResNet (paper9)"
    assert display_name("resnet18_1d") == "ResNet (18_1d)"  # the prefix rule missed the depth variants
    assert display_name("resnet_custom") == "resnet_custom"  # not registered: the name as it is
    assert pick_baseline(["drsn_cw18_1d", "resnet18_1d"]) == "resnet18_1d"
    assert pick_baseline(["drsn_cw_paper", "convnet_paper", "resnet_paper"]) == "resnet_paper"
    assert pick_baseline(["drsn_cw_paper", "convnet20_2d"]) == "convnet20_2d"
    assert pick_baseline(["drsn_cw_paper", "se_resnet_paper"]) is None  # SE-ResNet is no baseline
    assert pick_baseline(["resnet_custom", "drsn_cw_paper"]) is None
