"""torch.hub entry points (hubconf.py) and the save_pretrained / from_pretrained round trip."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from deepshrink import CheckpointError, ResidualNet, create_model, from_pretrained, list_models, save_pretrained

REPO = Path(__file__).resolve().parents[1]


def load_hubconf():
    spec = importlib.util.spec_from_file_location("deepshrink_hubconf", REPO / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hubconf_has_an_entry_point_for_every_registered_model():
    hub = load_hubconf()
    entries = {n for n in dir(hub) if callable(getattr(hub, n)) and not n.startswith("_")}  # as torch.hub.list
    assert entries == set(list_models()) | {"from_pretrained"}
    assert hub.dependencies == ["torch", "numpy"]
    assert "drsn_cs_paper" in hub.drsn_cs_paper.__doc__


@pytest.mark.parametrize("name, kwargs, shape", [
    ("drsn_cw_paper", dict(num_classes=5), (2, 1, 2048)),
    ("drsn_cs20_2d", dict(in_channels=3, num_classes=10, gate_reduction=4.0), (2, 3, 32, 32)),
])  # fmt: skip
def test_torch_hub_load_local(name, kwargs, shape):
    model = torch.hub.load(str(REPO), name, source="local", **kwargs)
    reference = create_model(name, **kwargs)
    assert isinstance(model, ResidualNet) and model.config == reference.config and model.model_name == name
    assert model(torch.randn(shape)).shape == (2, kwargs["num_classes"])


def test_torch_hub_pretrained_and_from_pretrained(tmp_path):
    with pytest.raises(Exception, match="no published pretrained weights"):
        torch.hub.load(str(REPO), "drsn_cw_paper", source="local", pretrained=True)
    save_pretrained(create_model("drsn_cs_paper6", num_classes=3), tmp_path, label_names=["a", "b", "c"])
    model = torch.hub.load(str(REPO), "from_pretrained", source="local", directory=str(tmp_path))
    assert model.label_names == ["a", "b", "c"] and not model.training


def _perturbed(name: str, **kwargs) -> torch.nn.Module:
    """A model with non-default BN statistics and gate weights, in eval mode."""
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    dims = model.spatial_dims
    with torch.no_grad():
        model.train()(torch.randn((4, model.in_channels) + ((256,) if dims == 1 else (16, 16))) * 2 + 1)
    return model.eval()


@pytest.mark.parametrize("name, kwargs", [
    ("drsn_cw_paper", dict(num_classes=8)),
    ("drsn_cs_paper", dict(in_channels=2, num_classes=4)),
    ("drsn_cw20_2d", dict(in_channels=3, num_classes=10)),
    ("drsn_cs20_2d", dict(in_channels=1, num_classes=6, gate_reduction=4.0)),
])  # fmt: skip
def test_save_pretrained_round_trip_is_exact(tmp_path, name, kwargs):
    model = _perturbed(name, **kwargs)
    labels = [f"class{i}" for i in range(kwargs["num_classes"])]
    save_pretrained(model, tmp_path, label_names=labels, input_spec={"length": 256})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = from_pretrained(tmp_path)
    assert loaded.config == model.config and loaded.model_name == name and loaded.label_names == labels
    assert loaded.input_spec["length"] == 256 and loaded.input_spec["in_channels"] == model.in_channels
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys() and all(torch.equal(state[k], loaded_state[k]) for k in state)
    x = torch.randn((3, model.in_channels) + ((256,) if model.spatial_dims == 1 else (16, 16)))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


@pytest.fixture
def saved(tmp_path):
    folder = tmp_path / "run"
    save_pretrained(create_model("drsn_cw_paper6"), folder)
    return folder


def _rewrite_config(folder: Path, change) -> None:
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


BAD_FOLDERS = {
    "missing-folder": (lambda f: f.rename(f.with_name("gone")), "run: not a folder"),
    "missing-config": (lambda f: (f / "config.json").unlink(), "config.json: missing"),
    "config-not-json": (lambda f: (f / "config.json").write_text("{nope"), "config.json: not valid JSON"),
    "config-not-deepshrink": (
        lambda f: (f / "config.json").write_text('{"a": 1}'),
        "config.json: not a deepshrink model config",
    ),
    "config-bad-args": (
        lambda f: _rewrite_config(f, lambda c: c["model_args"].update(block="wide")),
        "config.json: model_args do not build a model",
    ),
    "config-newer-format": (
        lambda f: _rewrite_config(f, lambda c: c.update(format_version=99)),
        "config.json: written by a newer deepshrink",
    ),
    "missing-weights": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors: missing"),
    "weights-corrupt": (
        lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 64),
        "model.safetensors: not a readable safetensors file",
    ),
    "weights-other-model": (
        lambda f: _rewrite_config(f, lambda c: c["model_args"].update(gate="cs")),
        "model.safetensors: weights do not match the model in config.json",
    ),
    "weights-other-shape": (
        lambda f: _rewrite_config(f, lambda c: c["model_args"].update(num_classes=3)),
        "model.safetensors: weights do not match the model in config.json",
    ),
}


@pytest.mark.parametrize("breakage, message", BAD_FOLDERS.values(), ids=BAD_FOLDERS.keys())
def test_bad_folders_raise_checkpoint_error_naming_the_file(saved, breakage, message):
    breakage(saved)
    with pytest.raises(CheckpointError) as info:
        from_pretrained(saved)
    assert message in str(info.value) and "\n" not in str(info.value)
