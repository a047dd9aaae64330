"""Bad input to the library's public entry points raises deepshrink's own errors (issue 14).

Per family: the examples of the issue, then hypothesis-generated bad values for every public
constructor argument and every declared training setting, which must give a DeepshrinkError
(never a raw TypeError / RuntimeError / ValueError from torch or numpy).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepshrink
from deepshrink import Shrinkage, SqueezeExcite, create_model, from_pretrained
from deepshrink.data import encode_labels, load_dataset, load_ucr
from deepshrink.errors import CheckpointError, ConfigError, DatasetError, DeepshrinkError, ShapeError
from deepshrink.models.registry import check_model_args
from deepshrink.serialization import read_model_config
from deepshrink.train.config import (
    TrainConfig,
    config_from_dict,
    config_hash,
    load_config,
    load_yaml,
    parse_key_values,
    parse_snr,
    resolve,
    to_yaml,
)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------- values that reached torch
@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(in_channels="1"), "'in_channels' must be an integer"),
        (dict(num_classes=0), "'num_classes' must be an integer in [1"),
        (dict(drop_rate="abc"), "'drop_rate' must be a finite number"),
        (dict(drop_rate=5), "'drop_rate' must be a number in [0, 1)"),
        (dict(drop_rate=float("nan")), "'drop_rate' must be a finite number"),
        (dict(widths="abc"), "'widths' must be a non-empty list"),
        (dict(widths=[4, 8.5, 16]), "'widths' must be a list of integers"),
        (dict(depths=[]), "'depths' must be a non-empty list"),
        (dict(stem_pool="yes"), "'stem_pool' must be true or false"),
        (dict(gate=3), "'gate' must be a string"),
        (dict(stack=True), "'stack' must be an integer"),
        (dict(stem_channels=10**9), "'stem_channels' must be an integer in [1, 65536]"),
    ],
)
def test_create_model_checks_every_argument(kwargs, phrase):
    with pytest.raises(ConfigError) as err:
        create_model("drsn_cw_paper", **kwargs)
    assert phrase in str(err.value) and "drsn_cw_paper" in str(err.value)


def test_create_model_name_must_be_a_string():
    with pytest.raises(ConfigError, match="model name must be a string"):
        create_model(None)


# Bad values per argument type; every one of them is wrong for every argument of that type.
_BAD_INT = st.one_of(st.integers(max_value=0), st.integers(min_value=10**7), st.floats(allow_nan=True),
                     st.text(max_size=4), st.booleans(), st.none(), st.lists(st.integers(1, 4), max_size=2))  # fmt: skip
_BAD_SEQ = st.one_of(st.text(max_size=4), st.integers(), st.none(), st.just([]),
                     st.lists(st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2), st.booleans()),
                              min_size=1, max_size=3))  # fmt: skip
_BAD_BOOL = st.one_of(st.integers(), st.text(max_size=4), st.none(), st.floats())
_BAD_FLOAT = st.one_of(st.text(max_size=4), st.none(), st.booleans(), st.just(float("nan")), st.just(float("inf")),
                       st.floats(max_value=-1e-9), st.lists(st.floats(), max_size=2))  # fmt: skip
_BAD_STR = st.one_of(st.integers(), st.floats(), st.lists(st.text(max_size=2), max_size=2),
                     st.text(max_size=6).filter(lambda s: s not in ("basic", "bottleneck", "pad", "conv", "none", "relu",
                                                                    "gelu", "silu", "elu", "torch", "he_normal", "cw", "cs", "se")))  # fmt: skip
_BAD_BY_ARG = {
    "in_channels": _BAD_INT, "num_classes": _BAD_INT, "spatial_dims": st.one_of(_BAD_INT, st.integers(4, 100)),
    "widths": _BAD_SEQ, "depths": _BAD_SEQ, "strides": _BAD_SEQ, "stem_channels": _BAD_INT,
    "stem_kernel": st.one_of(_BAD_INT, st.integers(1, 50).map(lambda k: 2 * k)), "stem_stride": _BAD_INT,
    "stem_pool": _BAD_BOOL, "block": _BAD_STR, "gate": _BAD_STR, "gate_reduction": st.one_of(_BAD_FLOAT, st.just(0)),
    "shortcut": _BAD_STR, "kernel_size": st.one_of(_BAD_INT, st.integers(1, 50).map(lambda k: 2 * k)),
    "conv_bias": _BAD_BOOL, "act": _BAD_STR, "drop_rate": st.one_of(_BAD_FLOAT, st.floats(min_value=1.0)),
    "init": _BAD_STR, "stack": _BAD_INT,
}  # fmt: skip


@FAST
@given(data=st.data())
def test_property_every_bad_model_argument_is_a_config_error(data):
    import inspect

    names = [n for n in inspect.signature(deepshrink.ResidualNet).parameters if n in _BAD_BY_ARG]
    name = data.draw(st.sampled_from(names))
    value = data.draw(_BAD_BY_ARG[name])
    with pytest.raises(ConfigError):
        create_model("drsn_cw_paper", **{name: value})


@FAST
@given(data=st.data())
def test_property_gate_constructors_raise_config_errors(data):
    cls = data.draw(st.sampled_from([Shrinkage, SqueezeExcite]))
    arg = data.draw(st.sampled_from(["channels", "reduction", "hidden_channels", "stack", "act_layer", "mode"]))
    if arg == "mode" and cls is SqueezeExcite:
        arg = "channels"
    bad = {"channels": _BAD_INT, "reduction": st.one_of(_BAD_FLOAT, st.just(0)), "hidden_channels": st.one_of(
        st.integers(max_value=0), st.text(max_size=3), st.floats()), "stack": _BAD_INT,
        "act_layer": st.one_of(st.integers(), st.text(max_size=3)), "mode": _BAD_STR}[arg]  # fmt: skip
    kwargs = {"channels": 4, arg: data.draw(bad)}
    with pytest.raises(ConfigError):
        cls(**kwargs)


def test_gates_refuse_bad_channels_and_inputs():
    for bad in (-3, 0, "4", 4.0, None, True):
        with pytest.raises(ConfigError, match="channels must be an integer"):
            Shrinkage(bad)
    with pytest.raises(ConfigError, match="mode must be 'cw', 'cs' or 'ew'"):
        Shrinkage(4, mode=1)
    gate = Shrinkage(4)
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, 4, \*spatial\).*got \(2, 3, 16\)"):
        gate(torch.randn(2, 3, 16))
    with pytest.raises(ShapeError, match="at least 3 dims"):
        gate(torch.randn(2, 4))
    with pytest.raises(ShapeError, match="residual of shape"):
        gate(torch.randn(2, 4, 16), residual=torch.randn(2, 4, 8))
    with pytest.raises(ShapeError, match=r"\(N, 6, \*spatial\)"):
        SqueezeExcite(6)(torch.randn(2, 4, 16))


# ---------------------------------------------------------------------- config.json of a saved model
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    create_model("resnet_paper6", num_classes=3).save_pretrained(str(folder), label_names=["a", "b", "c"])
    return folder


def _edit_config(saved, tmp_path, **changes):
    import shutil

    folder = tmp_path / "edited"
    shutil.copytree(saved, folder)
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if key.startswith("model_args."):
            config["model_args"][key.split(".", 1)[1]] = value
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    "changes, phrase",
    [
        ({"format_version": "2"}, "'format_version' must be a positive integer, got '2'"),
        ({"format_version": 99}, "written by a newer deepshrink"),
        ({"label_names": ["a", "b"]}, "'label_names' has 2 names but the model has 3 outputs"),
        ({"label_names": "abc"}, "'label_names' must be a list of strings"),
        ({"label_names": ["a", "a", "b"]}, "duplicate names"),
        ({"model_args.drop_rate": "abc"}, "'drop_rate' must be a finite number"),
        ({"model_args.in_channels": "1"}, "'in_channels' must be an integer"),
        ({"model_args.colour": 3}, "unknown model argument 'colour'"),
        ({"input": [1, 2]}, "'input' must be a mapping"),
    ],
)
def test_config_json_is_checked(saved, tmp_path, changes, phrase):
    folder = _edit_config(saved, tmp_path, **changes)
    with pytest.raises(CheckpointError) as err:
        from_pretrained(folder)
    assert phrase in str(err.value) and "config.json" in str(err.value)
    with pytest.raises(CheckpointError):
        deepshrink.load(folder)


def test_map_location_is_checked(saved):
    with pytest.raises(ConfigError, match="map_location: 'potato' is not a device"):
        from_pretrained(saved, map_location="potato")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ConfigError, match="map_location: 'cuda:7'"):
        from_pretrained(saved, map_location=f"cuda:{max(count, 7)}")
    assert from_pretrained(saved, map_location="cpu").label_names == ["a", "b", "c"]
    assert read_model_config(saved)["format_version"] == 1


# ---------------------------------------------------------------------- data
@pytest.mark.parametrize("spec", [None, 3, "", ["simulator"]])
def test_load_dataset_refuses_a_spec_that_is_no_name_or_path(spec):
    with pytest.raises(ConfigError, match="spec: expected a dataset name"):
        load_dataset(spec)


@pytest.mark.parametrize("spec", ["ucr:", "ucr:../../etc/passwd", "ucr:a/b", "ucr: FordA"])
def test_ucr_names_are_names_not_paths(spec):
    with pytest.raises(ConfigError, match="give a UCR dataset name after 'ucr:'"):
        load_dataset(spec)


def test_load_dataset_names_a_loader_argument_it_does_not_take(tmp_path):
    with pytest.raises(ConfigError, match="windw: the simulator has no argument 'windw'; did you mean window"):
        load_dataset("simulator", windw=512)
    with pytest.raises(ConfigError, match="'name'"):
        load_dataset("ucr:FordA", name="x")


def test_nan_labels_are_not_a_class(tmp_path):
    with pytest.raises(DatasetError, match="label of observation 1 is 'nan', not a class"):
        encode_labels(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(DatasetError, match="'inf'"):
        encode_labels(["a", "inf"])
    path = tmp_path / "nan.npz"
    np.savez(path, x=np.random.default_rng(0).standard_normal((4, 1, 32)).astype(np.float32),
             y=np.array([0.0, 1.0, np.nan, 1.0]))  # fmt: skip
    with pytest.raises(DatasetError, match=r"nan\.npz.*'nan', not a class"):
        load_dataset(path)


_TS = """@problemName Toy
@timeStamps false
@univariate {univariate}
{extra}@classLabel true a b
@data
{rows}
"""


@pytest.mark.parametrize(
    "univariate, extra, rows, phrase",
    [
        ("true", "@seriesLength 5\n", "1,2,3,4:a\n4,3,2,1:b", "line 4: @seriesLength 5, but line 7 has series of length 4"),
        ("false", "@dimensions 3\n", "1,2,3,4:1,2,3,4:a\n4,3,2,1:1,1,1,1:b", "@dimensions 3, but line 7 has 2"),
        ("true", "", "1,2,3,4:1,2,3,4:a\n4,3,2,1:1,1,1,1:b", "@univariate true, but line 6 has 2 dimensions"),
        ("maybe", "", "1,2,3,4:a\n4,3,2,1:b", "@univariate must be true or false"),
        ("true", "@seriesLength four\n", "1,2,3,4:a\n4,3,2,1:b", "@seriesLength must be an integer"),
    ],
)
def test_ts_header_that_contradicts_its_data(tmp_path, univariate, extra, rows, phrase):
    path = tmp_path / "Toy_TRAIN.ts"
    path.write_text(_TS.format(univariate=univariate, extra=extra, rows=rows))
    with pytest.raises(DatasetError) as err:
        load_ucr(path)
    assert phrase in str(err.value) and "Toy_TRAIN.ts" in str(err.value)


def test_ts_header_that_agrees_loads(tmp_path):
    path = tmp_path / "Toy_TRAIN.ts"
    path.write_text(_TS.format(univariate="true", extra="@seriesLength 4\n@equalLength true\n", rows="1,2,3,4:a\n4,3,2,1:b"))
    ds = load_ucr(path)
    assert ds.x.shape == (2, 1, 4) and ds.label_names == ["a", "b"]


# ---------------------------------------------------------------------- YAML and settings
def test_yaml_duplicate_keys_and_aliases_are_refused(tmp_path):
    config = tmp_path / "dup.yaml"
    config.write_text("epochs: 3\nlr: 0.1\nepochs: 5\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml: not valid YAML \(line 3: duplicate key 'epochs' \(first on line 1"):
        load_config(config)
    with pytest.raises(ConfigError, match="duplicate key 'window'"):
        load_yaml("data_args: {window: 1, window: 2}\n", "x.yaml")
    laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml(laughs, "laughs.yaml")
    with pytest.raises(ConfigError, match="recursive alias"):
        load_yaml("a: &x [1, *x]\n", "loop.yaml")
    merged = load_yaml("base: &b {x: 1, y: 2}\nrun:\n  <<: *b\n  y: 3\n", "merge.yaml")  # merge keys still work
    assert merged["run"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text, value", [("1e-3", 1e-3), ("5E4", 5e4), ("+2e+2", 200.0), ("1.5e-3", 1.5e-3), ("0.1", 0.1)])
def test_floats_without_a_dot_are_floats(tmp_path, text, value):
    config = tmp_path / "run.yaml"
    config.write_text(f"lr: {text}\n")
    assert load_config(config).lr == value
    assert parse_key_values([f"lr={text}"], "--set") == {"lr": value}
    assert load_yaml(f"v: {text}", "x")["v"] == value
    assert load_yaml(f"v: -{text.lstrip('+')}", "x")["v"] == -value
    assert load_yaml("v: 1e3x", "x")["v"] == "1e3x" and load_yaml("v: 12", "x")["v"] == 12


def test_model_args_in_a_config_are_checked_up_front():
    with pytest.raises(ConfigError, match="key 'model_args' must not set in_channels"):
        config_from_dict({"model_args": {"in_channels": 3}}, source="run.yaml")
    with pytest.raises(ConfigError, match="run.yaml: key 'model_args': model argument 'drop_rate' must be"):
        config_from_dict({"model_args": {"drop_rate": "abc"}}, source="run.yaml")
    with pytest.raises(ConfigError, match="unknown model argument 'drop'; did you mean drop_rate"):
        config_from_dict({"model_args": {"drop": 0.1}}, source="run.yaml")
    assert config_from_dict({"model_args": {"drop_rate": 0.1}}).model_args == {"drop_rate": 0.1}


@pytest.mark.parametrize("spec", [1e9, -1e9, "1e9", "-1e9", "-5:1e9", "-300:0:10", "0,5,250", [0, 1e9], (-201.0, 0.0)])
def test_snr_beyond_200_db_is_a_typo(spec):
    with pytest.raises(ConfigError, match=r"outside \[-200, 200\] dB"):
        parse_snr(spec, "snr")
    with pytest.raises(ConfigError, match=r"run.yaml: key 'snr'.*outside"):
        config_from_dict({"snr": spec if not isinstance(spec, tuple) else list(spec)}, source="run.yaml")
    assert parse_snr(-200) == -200.0 and parse_snr("200") == 200.0


_ANY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


@FAST
@given(data=st.data())
def test_property_any_value_of_any_setting_is_accepted_or_a_config_error(data):
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    name = data.draw(st.sampled_from(fields))
    value = data.draw(_ANY_VALUE)
    try:
        cfg = config_from_dict({name: value}, source="generated.yaml")
    except ConfigError as err:
        assert "generated.yaml" in str(err)
        return
    # what is accepted must survive everything a run does with a config
    config_hash(cfg), to_yaml(resolve(cfg))
    assert load_yaml(to_yaml(cfg), "round trip") == cfg.to_dict() or name in ("snr",)


_BAD_SETTING = {
    "epochs": st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3), st.booleans()),
    "batch_size": st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3)),
    "lr": st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")), st.text(max_size=3)),
    "test_fraction": st.one_of(st.floats(min_value=1.0), st.floats(max_value=0.0), st.text(max_size=3)),
    "val_fraction": st.one_of(st.floats(min_value=1.0), st.floats(max_value=-1e-9)),
    "snr": st.one_of(st.floats(min_value=200.001), st.floats(max_value=-200.001), st.just(float("nan")),
                     st.text(alphabet="abc", min_size=1, max_size=3), st.booleans()),  # fmt: skip
    "noise": st.text(max_size=5).filter(lambda s: s not in ("none", "gaussian", "laplacian", "uniform", "pink", "brown")),
    "model_args": st.one_of(st.dictionaries(st.sampled_from(["in_channels", "num_classes"]), st.integers(), min_size=1),
                            st.dictionaries(st.sampled_from(["drop_rate", "widths", "stack"]), st.text(max_size=3), min_size=1)),
    "device": st.text(max_size=5).filter(lambda s: s not in ("auto", "cpu", "cuda") and not s.startswith("cuda:")),
    "milestones": st.lists(st.floats(min_value=1.0), min_size=1, max_size=3),
    "momentum": st.floats(min_value=1.0),
    "seed": st.integers(max_value=-1),
}


@FAST
@given(data=st.data())
def test_property_bad_values_of_declared_settings_are_config_errors(data):
    name = data.draw(st.sampled_from(sorted(_BAD_SETTING)))
    value = data.draw(_BAD_SETTING[name])
    with pytest.raises(ConfigError, match=r"generated\.yaml"):
        config_from_dict({name: value}, source="generated.yaml")


@FAST
@given(values=st.dictionaries(st.text(max_size=8), _ANY_VALUE, max_size=3))
def test_property_check_model_args_only_raises_config_errors(values):
    try:
        check_model_args(values, "generated")
    except ConfigError as err:
        assert str(err).startswith("generated: ")


def test_every_error_is_a_deepshrink_error():
    for cls in (ConfigError, DatasetError, CheckpointError, ShapeError):
        assert issubclass(cls, DeepshrinkError) and issubclass(cls, ValueError)
    assert math.isclose(parse_key_values(["lr=1e-3"], "--set")["lr"], 0.001)


# ---------------------------------------------------------------------- more public functions
def test_functional_checks_its_operands():
    from deepshrink.functional import abs_mean, shrink_add, soft_threshold

    x = torch.randn(2, 3, 8)
    with pytest.raises(ShapeError, match="x must be a floating-point tensor"):
        soft_threshold("a", 1.0)
    with pytest.raises(ConfigError, match="tau must be a tensor or a number"):
        soft_threshold(x, "a")
    with pytest.raises(ConfigError, match="tau must be a finite number >= 0"):
        soft_threshold(x, -1.0)
    with pytest.raises(ShapeError, match=r"tau of shape \(3, 1, 1\) does not broadcast"):
        soft_threshold(x, torch.ones(3, 1, 1))
    with pytest.raises(ShapeError, match="residual must be a tensor of x's shape"):
        shrink_add(x, torch.ones(2, 3, 1), torch.ones(2, 3, 5))
    with pytest.raises(ConfigError, match="start_dim must be an integer in"):
        abs_mean(x, 5)
    with pytest.raises(ShapeError):
        abs_mean([1.0, 2.0])
    torch.testing.assert_close(soft_threshold(x, 0.5), torch.sign(x) * torch.clamp(x.abs() - 0.5, min=0))


_BLOCK_BAD = {
    "in_channels": _BAD_INT, "out_channels": _BAD_INT, "stride": _BAD_INT,
    "kernel_size": st.one_of(_BAD_INT, st.integers(1, 20).map(lambda k: 2 * k)),
    "spatial_dims": st.one_of(st.integers(4, 9), st.integers(max_value=0), st.text(max_size=2), st.floats()),
    "shortcut": _BAD_STR, "gate_layer": st.one_of(st.integers(), st.text(max_size=3)),
    "act_layer": st.one_of(st.integers(), st.text(max_size=3), st.none()), "bias": _BAD_BOOL, "stack": _BAD_INT,
}  # fmt: skip


@FAST
@given(data=st.data())
def test_property_residual_units_raise_config_errors(data):
    from deepshrink.layers import BasicBlock, BottleneckBlock

    cls = data.draw(st.sampled_from([BasicBlock, BottleneckBlock]))
    name = data.draw(st.sampled_from(sorted(_BLOCK_BAD)))
    kwargs = {"in_channels": 4, "out_channels": 8, name: data.draw(_BLOCK_BAD[name])}
    with pytest.raises(ConfigError):
        cls(**kwargs)


def test_units_and_models_refuse_inputs_of_the_wrong_shape():
    from deepshrink.layers import BasicBlock, record_thresholds

    with pytest.raises(ShapeError, match=r"BasicBlock: expected input of shape \(N, 4"):
        BasicBlock(4, 4)(torch.randn(2, 3, 16))
    with pytest.raises(ShapeError, match="floating-point"):
        Shrinkage(4)(torch.ones(2, 4, 8, dtype=torch.long))
    with pytest.raises(ConfigError, match="record_thresholds: model must be a torch module"):
        record_thresholds(3).__enter__()
    with pytest.raises(ConfigError, match="dtype must be a floating-point torch.dtype"):
        Shrinkage(4, dtype="float")
    with pytest.raises(ConfigError, match="pattern: expected a shell-style pattern"):
        deepshrink.list_models(3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: from_pretrained(None), lambda: deepshrink.load(None), lambda: read_model_config(3),
        lambda: __import__("deepshrink.train.checkpoint", fromlist=["x"]).load_checkpoint(None),
        lambda: load_config(None), lambda: __import__("deepshrink.data", fromlist=["x"]).load_npz(None),
        lambda: __import__("deepshrink.data", fromlist=["x"]).load_folder(3), lambda: load_ucr(None),
        lambda: deepshrink.save_pretrained(create_model("resnet_paper6"), None),
        lambda: __import__("deepshrink.export", fromlist=["x"]).export_model(create_model("resnet_paper6"), None),
    ],
)
def test_a_path_argument_that_is_no_path(call):
    with pytest.raises(DeepshrinkError, match="expected a file or folder path, got"):
        call()


def test_save_pretrained_checks_what_it_writes(tmp_path):
    model = create_model("resnet_paper6", num_classes=3)
    with pytest.raises(ConfigError, match="label_names: expected a list of class names"):
        deepshrink.save_pretrained(model, tmp_path / "a", label_names=3)
    with pytest.raises(ConfigError, match="duplicate names"):
        deepshrink.save_pretrained(model, tmp_path / "a", label_names=["x", "x", "y"])
    with pytest.raises(ConfigError, match="extra: must hold JSON values only"):
        deepshrink.save_pretrained(model, tmp_path / "a", extra={"a": object()})
    with pytest.raises(ConfigError, match="needs a deepshrink model"):
        deepshrink.save_pretrained(torch.nn.Linear(2, 2), tmp_path / "a")
    assert not (tmp_path / "a").exists()  # nothing half-made


def test_data_functions_check_their_arguments(tmp_path):
    from deepshrink.data import SignalDataset, save_npz
    from deepshrink.noise import measure_snr

    with pytest.raises(DatasetError, match=r"labels: expected shape \(N,\)"):
        encode_labels([[1, 2], [3, 4]])
    with pytest.raises(DatasetError, match="labels: expected one label per observation"):
        encode_labels(None)
    with pytest.raises(DatasetError, match="label_names: expected a list"):
        encode_labels([1, 2], label_names="ab")
    x = np.random.default_rng(0).standard_normal((3, 1, 8)).astype(np.float32)
    with pytest.raises(DatasetError, match="conditions must map"):
        SignalDataset(x, [0, 1, 0], label_names=["a", "b"], conditions=[1, 2])
    with pytest.raises(ConfigError, match="expected numeric arrays"):
        measure_snr("a", "b")
    with pytest.raises(DatasetError, match="save_npz: expected a SignalDataset"):
        save_npz("x", tmp_path / "x.npz")
    ds = SignalDataset(x, [0, 1, 0], label_names=["a", "b"])
    target = tmp_path / "kept.npz"
    target.write_bytes(b"previous")
    import errno
    import os as os_module

    real = os_module.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os_module.strerror(errno.ENOSPC))

    os_module.fsync = full
    try:
        with pytest.raises(OSError, match="No space left") as err:
            save_npz(ds, target)
    finally:
        os_module.fsync = real
    assert err.value.filename == str(target) and target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.npz"]
    save_npz(ds, target)
    assert load_dataset(target).x.shape == (3, 1, 8)


def test_weights_that_are_not_finite_are_refused(saved, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "nan"
    shutil.copytree(saved, folder)
    state = load_file(str(folder / "model.safetensors"))
    key = next(k for k in state if k.endswith("weight"))
    state[key][0] = float("nan")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"weights hold NaN or infinite values \\({key}"):
        from_pretrained(folder)


@FAST
@given(text=st.text(max_size=40))
def test_property_parse_snr_and_load_yaml_only_raise_config_errors(text):
    for parse in (lambda t: parse_snr(t, "snr"), lambda t: load_yaml(t, "generated.yaml"),
                  lambda t: parse_key_values([t], "--set")):  # fmt: skip
        try:
            parse(text)
        except ConfigError:
            pass


@pytest.mark.parametrize(
    "text, value",
    [("5:10", "5:10"), ("-5:5", "-5:5"), ("1:30:00", "1:30:00"), ("010", "010"), ("yes", "yes"), ("off", "off"),
     ("2001-12-14", "2001-12-14"), ("=", "="), ("true", True), ("0x10", 16), ("0o17", 15), ("1_000", 1000),
     (".5", 0.5), ("~", None)],
)  # fmt: skip
def test_yaml_plain_scalars_are_read_as_yaml_1_2(tmp_path, text, value):
    # YAML 1.1 (PyYAML's default) reads `snr: 5:10` as the base-60 integer 310 and `-5:5` as -305
    assert load_yaml(f"v: {text}", "x") == {"v": value}
    assert load_yaml(to_yaml(TrainConfig(data=str(value))), "x")["data"] == str(value)  # and writes them back
    if isinstance(value, str) and ":" in value and value.count(":") == 1:
        config = tmp_path / "run.yaml"
        config.write_text(f"snr: {text}\n")
        assert load_config(config).snr == value and parse_key_values([f"snr={text}"], "--set") == {"snr": value}


def _kinds(hint) -> set:
    """The Python types a TrainConfig type hint admits (bool apart from int, ints for floats)."""
    import typing

    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return set().union(*(_kinds(a) for a in typing.get_args(hint)))
    if origin is typing.Literal:
        return {str}
    if origin is list:
        return {list}
    if origin is dict:
        return {dict}
    if hint is float:
        return {int, float}
    if hint is type(None):
        return {type(None)}
    return {hint} if hint is not typing.Any else {object}


@FAST
@given(data=st.data())
def test_property_every_setting_refuses_values_of_another_type(data):
    import typing

    hints = typing.get_type_hints(TrainConfig)
    name = data.draw(st.sampled_from(sorted(hints)))
    kinds = _kinds(hints[name])
    pool = st.one_of(st.text(max_size=6), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))  # fmt: skip
    value = data.draw(pool.filter(lambda v: type(v) not in kinds and not (float in kinds and type(v) is int)))
    with pytest.raises(ConfigError, match=rf"generated\.yaml: key '{name}' must be"):
        config_from_dict({name: value}, source="generated.yaml")


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
    (dict(data_args={"window": 512}), "data_args need data"),
])  # fmt: skip
def test_evaluate_run_checks_its_arguments_before_reading_the_run(tmp_path, kwargs, match):
    from deepshrink.train.evaluation import evaluate_run

    with pytest.raises(ConfigError, match=match):
        evaluate_run(tmp_path / "no-such-run", **kwargs)


def test_evaluate_run_refuses_an_existing_file_as_output_folder(tmp_path):
    from deepshrink.train.evaluation import evaluate_run

    existing = tmp_path / "report.txt"
    existing.write_text("keep me")
    with pytest.raises(ConfigError, match="report.txt: output must be a folder"):
        evaluate_run(tmp_path / "no-such-run", output=existing)
    assert existing.read_text() == "keep me"


@pytest.mark.parametrize("spec,match", [("potato", "'potato' is not a device"), ("cuda:7", "'cuda:7'")])
def test_resolve_device_names_the_bad_device(spec, match):
    from deepshrink.train.distributed import resolve_device

    if spec.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(ConfigError, match=match):
        resolve_device(spec)


def test_bad_torchrun_variable_is_a_config_error(monkeypatch):
    from deepshrink.train.distributed import DistContext

    monkeypatch.setenv("WORLD_SIZE", "abc")
    with pytest.raises(ConfigError, match="WORLD_SIZE='abc'"):
        DistContext.setup("cpu")
