"""The model registry as a table: every name written out, described, and built from its parts."""

import inspect

import pytest

from deepshrink.cli import main
from deepshrink.errors import ConfigError
from deepshrink.models import (
    FAMILIES,
    PRESETS,
    describe_model,
    is_model,
    list_models,
    model_config,
    model_family,
    model_label,
    plain_counterpart,
    registry,
)


_PAPER_FAMILIES = ("convnet", "resnet", "se_resnet", "drsn_cs", "drsn_cw")
_VARIANTS = ("drsn_cw_hard", "drsn_cw_garrote", "drsn_cw_firm", "drsn_cw_mad", "drsn_ew", "aprelu_resnet")
_BASELINES = {"wdcnn": "field", "fcn": "field", "fawaz_resnet": "field", "inception_time": "field",
              "inception_time_x5": "ensemble5", "drsn_cw_fawaz_resnet": "field",
              "drsn_cw_inception_time": "field"}  # fmt: skip


def _parts(name):
    """(family, preset) read back from a name by the naming scheme of the module docstring."""
    if name in _BASELINES:
        return name.removesuffix("_x5"), _BASELINES[name]
    family = max((f for f in FAMILIES if name.startswith(f)), key=len)
    return family, name[len(family) :].removeprefix("_")


def _name(family, preset):
    return f"{family}_{preset}" if preset.startswith("paper") else f"{family}{preset}"


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def test_every_name_is_written_out_in_the_source():
    source = inspect.getsource(registry)
    missing = [name for name in list_models() if f'"{name}"' not in source]
    assert not missing, f"generated, not written out: {missing}"


def test_the_table_is_every_family_with_every_preset_by_the_naming_scheme():
    residual = [p for p in PRESETS if p not in ("field", "ensemble5")]
    expected = {_name(f, p) for f in _PAPER_FAMILIES for p in residual}  # the paper's five on every layout
    expected |= {_name(f, p) for f in _VARIANTS for p in ("paper", "paper6", "paper9")} | {"drsn_ew20_2d"}
    expected |= set(_BASELINES)
    assert len(expected) == 50 + 19 + 7 and set(list_models()) == expected
    assert set(FAMILIES) == set(_PAPER_FAMILIES) | set(_VARIANTS) | {name.removesuffix("_x5") for name in _BASELINES}


@pytest.mark.parametrize("name", list_models())
def test_each_name_is_its_family_on_its_preset(name):
    family, preset = _parts(name)
    config = model_config(name)
    for key, value in {**PRESETS[preset].args, **FAMILIES[family].args}.items():
        assert _plain(config[key]) == _plain(value), (name, key)


def test_every_model_has_its_own_one_line_description():
    descriptions = {name: describe_model(name) for name in list_models()}
    for name, text in descriptions.items():
        family, preset = _parts(name)
        assert text.strip() and "\n" not in text and len(text) <= 100, name
        assert text == f"{FAMILIES[family].description}; {PRESETS[preset].description}"
    assert len(set(descriptions.values())) == len(descriptions)  # no two models described alike


def test_describe_model_refuses_an_unknown_name():
    with pytest.raises(ConfigError, match=r"unknown model 'drsn_cw_papr'; did you mean drsn_cw_paper"):
        describe_model("drsn_cw_papr")
    with pytest.raises(ConfigError, match="model name must be a string"):
        describe_model(3)


def test_models_command_shows_each_description(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_models()
    for line, name in zip(lines, list_models()):
        assert line.split(None, 1)[1] == describe_model(name)
    assert main(["models", "drsn_cs*_paper"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"drsn_cs_paper  {describe_model('drsn_cs_paper')}"]


def test_family_and_label_of_every_name():
    for name in list_models():
        family, preset = _parts(name)
        assert is_model(name) and model_family(name) == family, name
        assert model_label(name) == FAMILIES[family].label + ("" if preset in ("paper", "field") else f" ({preset})"), name
    assert [FAMILIES[f].label for f in _PAPER_FAMILIES] == ["ConvNet", "ResNet", "SE-ResNet", "DRSN-CS", "DRSN-CW"]
    assert len({f.label for f in FAMILIES.values()}) == len(FAMILIES)  # reports tell every family apart
    assert model_label("wdcnn") == "WDCNN" and model_label("inception_time_x5") == "InceptionTime (ensemble5)"
    assert model_label("drsn_cw_paper") == "DRSN-CW" and model_label("resnet_paper6") == "ResNet (paper6)"
    assert model_label("drsn_cs18_1d") == "DRSN-CS (18_1d)"


def test_family_and_label_refuse_an_unregistered_name():
    assert not is_model("drsn_cw") and not is_model("resnet_custom") and not is_model(3)
    with pytest.raises(ConfigError, match=r"unknown model 'drsn_cw_papr'; did you mean drsn_cw_paper"):
        model_family("drsn_cw_papr")
    with pytest.raises(ConfigError, match="unknown model 'resnet_custom'"):
        model_label("resnet_custom")


@pytest.mark.parametrize(
    "name, plain",
    [("drsn_cw14_1d", "resnet14_1d"), ("drsn_cs_paper6", "resnet_paper6"), ("drsn_cw_mad_paper", "resnet_paper"),
     ("drsn_ew20_2d", "resnet20_2d"), ("drsn_cw_fawaz_resnet", "fawaz_resnet"),
     ("drsn_cw_inception_time", "inception_time"), ("resnet14_1d", None), ("se_resnet_paper", None),
     ("fawaz_resnet", None)],
)  # fmt: skip
def test_plain_counterpart_is_the_same_network_without_its_gate(name, plain):
    assert plain_counterpart(name) == plain
    if plain is not None:
        gated, bare = model_config(name), model_config(plain)
        assert {k for k in gated if gated[k] != bare.get(k)} <= {"gate", "shrink", "threshold", "firm_ratio"}
