"""TrainConfig: typed fields, YAML round trip, validation naming the key and file, SNR specs."""

from __future__ import annotations

import pytest

from deepshrink.errors import ConfigError
from deepshrink.train.config import (
    TrainConfig,
    apply_overrides,
    config_diff,
    config_from_dict,
    config_hash,
    load_config,
    parse_key_values,
    parse_snr,
    resolve,
    to_yaml,
)


def test_defaults_are_the_papers_recipe():
    cfg = resolve(TrainConfig())
    assert (cfg.recipe, cfg.lr, cfg.momentum, cfg.batch_size, cfg.weight_decay, cfg.epochs) == ("paper", 0.1, 0.9, 128, 1e-4, 100)
    assert cfg.milestones == [0.4, 0.8] and cfg.lr_decay == 0.1
    adamw = resolve(TrainConfig(recipe="adamw"))
    assert adamw.lr == 1e-3 and adamw.weight_decay == 0.05


def test_yaml_round_trip(tmp_path):
    cfg = TrainConfig(model="resnet_paper", data_args={"window": 512}, snr=[-5, 5], epochs=7, grad_clip=1.0)
    path = tmp_path / "c.yaml"
    path.write_text(to_yaml(cfg))
    back = load_config(path)
    assert back == config_from_dict(cfg.to_dict())
    assert back.snr == [-5.0, 5.0] and back.data_args == {"window": 512}


@pytest.mark.parametrize(
    "text, key",
    [
        ("epochs: ten\n", "epochs"),
        ("epochs: 2.5\n", "epochs"),
        ("batch_size: true\n", "batch_size"),
        ("lr: fast\n", "lr"),
        ("recipe: sgd\n", "recipe"),
        ("noise: white\n", "noise"),
        ("model_args: [1, 2]\n", "model_args"),
        ("compile: yes please\n", "compile"),
        ("test_fraction: 1.5\n", "test_fraction"),
        ("epochs: 0\n", "epochs"),
        ("device: gpu\n", "device"),
        ("snr: loud\n", "snr"),
        ("milestones: [0.8, 0.4]\n", "milestones"),
        ("momentum: 1.0\n", "momentum"),
        ("lr: 0\n", "lr"),
        ("lr: .inf\n", "lr"),
        ("grad_clip: 0\n", "grad_clip"),
        ("warmup_epochs: .nan\n", "warmup_epochs"),
        ("num_threads: 0\n", "num_threads"),
        ("device: cuda:x\n", "device"),
        ("split: windows\n", "split"),
        ("model: ''\n", "model"),
    ],
)
def test_wrong_type_or_value_names_key_and_file(tmp_path, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and (repr(key) in message or key in message)
    assert "\n" not in message


def test_unknown_key_suggests(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epoch: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'epoch'.*did you mean epochs"):
        load_config(path)


def test_not_yaml_or_not_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_config(tmp_path / "empty.yaml") == TrainConfig()


def test_int_accepted_for_float_but_not_bool():
    assert config_from_dict({"lr": 1}).lr == 1.0
    with pytest.raises(ConfigError, match="'lr'"):
        config_from_dict({"lr": True})


def test_overrides_and_key_values():
    cfg = apply_overrides(TrainConfig(), {"epochs": 3, "lr": None})
    assert cfg.epochs == 3 and cfg.lr is None
    with pytest.raises(ConfigError, match="command line: unknown key 'epochz'"):
        apply_overrides(TrainConfig(), {"epochz": 3})
    assert parse_key_values(["a=1", "b=[2, 3]", "c=x", "d="], "--set") == {"a": 1, "b": [2, 3], "c": "x", "d": None}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_key_values(["oops"], "--set")


def test_snr_specs():
    assert parse_snr(0) == 0.0
    assert parse_snr([-5, 5]) == (-5.0, 5.0)
    assert parse_snr("-5:5") == (-5.0, 5.0)
    assert parse_snr("-5:5:1") == [float(v) for v in range(-5, 6)]
    assert parse_snr("-5,0,5") == [-5.0, 0.0, 5.0]
    assert parse_snr("3") == 3.0
    for bad in ("5:-5", "a:b", [1, 2, 3], "1:2:0", True, "nan"):
        with pytest.raises(ConfigError):
            parse_snr(bad)
    with pytest.raises(ConfigError, match="'snr' is required"):
        config_from_dict({"noise": "gaussian", "snr": None})
    assert config_from_dict({"noise": "none", "snr": None}).snr is None


def test_hash_ignores_runtime_keys_only():
    base = TrainConfig(epochs=5)
    assert config_hash(base) == config_hash(base.replace(device="cpu", progress="off", num_threads=1, compile=True))
    assert config_hash(base) != config_hash(base.replace(epochs=6))
    assert config_hash(base) != config_hash(base.replace(seed=1))
    # recipe defaults resolved: an explicit lr equal to the default is the same run
    assert config_hash(base) == config_hash(base.replace(lr=0.1))
    assert config_diff(base, base.replace(lr=0.05)) == ["lr: 0.1 -> 0.05"]


def test_hash_of_a_config_without_new_settings_is_the_one_earlier_versions_wrote():
    # TrainConfig(epochs=5) as deepshrink at 565a1ee (2026-12-04, before ema_decay) hashed it:
    # a last.ckpt from then still resumes; setting the new key makes another run.
    earlier = "37a083757b3b8843981f7870113eb9f9bc56e5988c03c698e66b5762d1cf4209"
    assert config_hash(TrainConfig(epochs=5)) == earlier
    assert config_hash(TrainConfig(epochs=5, ema_decay=0.99)) != earlier


def test_condition_split_needs_conditions():
    with pytest.raises(ConfigError, match="test_conditions"):
        config_from_dict({"split": "condition"})
    assert config_from_dict({"split": "condition", "test_conditions": {"speed_hz": [40]}}).test_conditions == {"speed_hz": [40]}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"num_threads": 5000}, "key 'num_threads' must be in [1, 4096] or null, got 5000"),
        ({"epochs": 0}, "key 'epochs' must be in [1, 1000000], got 0"),
        ({"batch_size": 0}, "key 'batch_size' must be >= 1, got 0"),
        ({"seed": -1}, "key 'seed' must be in [0, 9223372036854775807], got -1"),
        ({"test_fraction": 1.0}, "key 'test_fraction' must be in (0, 1), got 1.0"),
        ({"lr_decay": 0}, "key 'lr_decay' must be in (0, 1], got 0.0"),
        ({"weight_decay": -1}, "key 'weight_decay' must be >= 0 or null, got -1.0"),
        ({"device": "gpu"}, "key 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
        ({"device": "cuda:x"}, "key 'device' must be 'cuda:N' with an integer N, got 'cuda:x'"),
        ({"milestones": [0.4, 1.0]}, "key 'milestones' must be increasing fractions of the epochs in (0, 1), got [0.4, 1.0]"),
        ({"data": ""}, "key 'data' must not be empty, got ''"),
    ],
)
def test_out_of_range_messages(values, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(values, source="run.yaml")
    assert str(err.value) == f"run.yaml: {message}"
    assert config_from_dict({"device": "cuda:1", "num_threads": 4096, "lr_decay": 1, "split": "window"}).split == "window"
