"""add_shrinkage on real torchvision and timm ResNets, and Shrinkage as timm's attn_layer."""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
from functools import partial

import pytest
import torch
from torch import nn

from deepshrink import ConfigError, Shrinkage, add_shrinkage, create_model
from deepshrink.convert import find_residual_blocks

REASON = (
    "needs torchvision and timm that import beside this torch (PyPI's torchvision wheels are CUDA builds and fail "
    "to import beside a CPU-only torch: install both from the index your torch came from, e.g. "
    "pip install torchvision timm --index-url https://download.pytorch.org/whl/cpu)"
)


def _import_vision(name: str):
    """Import ``name`` (torchvision or timm, the real packages), or skip the test saying why."""
    try:
        importlib.import_module("torchvision")
        return importlib.import_module(name)
    except (ImportError, RuntimeError) as err:  # a mismatched torchvision raises RuntimeError at import
        pytest.skip(f"{REASON}; here: {type(err).__name__}: {str(err).splitlines()[0][:120]}")


def build(library: str, arch: str, **kwargs) -> nn.Module:
    """A randomly initialised ResNet with non-trivial BN statistics, in eval mode."""
    torch.manual_seed(0)
    if library == "torchvision":
        model = getattr(_import_vision("torchvision.models"), arch)(**kwargs)
    else:
        model = _import_vision("timm").create_model(arch, pretrained=False, **kwargs)
    with torch.no_grad():  # make the BN layers do something, so that kept weights matter
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model.eval()


def gates_to_identity(model: nn.Module) -> int:
    """Replace every Shrinkage module by nn.Identity; return how many were replaced."""
    names = [name for name, m in model.named_modules() if isinstance(m, Shrinkage)]
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent_name), attr, nn.Identity())
    return len(names)


MODELS = [
    ("torchvision", "resnet18", 8, "shrinkage"),
    ("torchvision", "resnet50", 16, "shrinkage"),
    ("timm", "resnet18", 8, "se"),
    ("timm", "resnet26", 8, "se"),  # Bottleneck blocks
]


@pytest.mark.parametrize("library, arch, n_blocks, slot", MODELS, ids=[f"{lib}-{a}" for lib, a, _, _ in MODELS])
def test_add_shrinkage_keeps_weights_and_changes_outputs_only_through_gates(library, arch, n_blocks, slot):
    model = build(library, arch, num_classes=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y_plain = model(x)

    assert add_shrinkage(model, mode="cw", reduction=4) is model
    gates = {n: m for n, m in model.named_modules() if isinstance(m, Shrinkage)}
    assert len(gates) == n_blocks == len(find_residual_blocks(model))
    assert all(n.endswith(f".{slot}") and g.mode == "cw" and not g.training for n, g in gates.items())

    # every original tensor is still there, under the same key, bit for bit; the rest are gate keys
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert all(f".{slot}.gate." in k for k in set(after) - set(before))

    with torch.no_grad():
        y_gated = model(x)
    assert not torch.allclose(y_gated, y_plain)
    assert gates_to_identity(model) == n_blocks
    with torch.no_grad():
        assert torch.equal(model(x), y_plain)


@pytest.mark.parametrize("library, arch", [("torchvision", "resnet18"), ("timm", "resnet26")])
def test_converted_model_trains(library, arch):
    model = add_shrinkage(build(library, arch, num_classes=3).train(), mode="cs")
    assert all(g.training and g.mode == "cs" for g in model.modules() if isinstance(g, Shrinkage))
    x = torch.randn(4, 3, 32, 32)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    gate = next(m for m in model.modules() if isinstance(m, Shrinkage))
    assert gate.gate.fc2.weight.grad is not None and gate.gate.fc2.weight.grad.abs().sum() > 0
    assert model.conv1.weight.grad is not None and torch.isfinite(model.conv1.weight.grad).all()


def test_pretrained_weights_load_into_a_converted_model():
    """The fine-tuning path: build, add gates, then load a plain ResNet's weights."""
    plain = build("torchvision", "resnet18", num_classes=5)
    converted = add_shrinkage(build("torchvision", "resnet18", num_classes=5))
    torch.manual_seed(3)
    converted.fc.reset_parameters()  # differs from plain until the weights are loaded
    missing, unexpected = converted.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(".shrinkage.gate." in k for k in missing)
    x = torch.randn(2, 3, 32, 32)
    gates_to_identity(converted)
    with torch.no_grad():
        assert torch.equal(converted(x), plain(x))


def test_converted_torchvision_model_copies_and_pickles():
    model = add_shrinkage(build("torchvision", "resnet18", num_classes=2))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y = model(x)
        assert torch.equal(copy.deepcopy(model)(x), y)
        assert torch.equal(pickle.loads(pickle.dumps(model))(x), y)
    assert type(model.layer1[0]).__name__ == "ShrinkageBasicBlock"


def test_add_shrinkage_errors_leave_the_model_unchanged():
    model = build("torchvision", "resnet18", num_classes=2)
    with pytest.raises(ConfigError, match="mode"):
        add_shrinkage(model, mode="xx")
    assert not any(isinstance(m, Shrinkage) for m in model.modules())
    assert type(model.layer1[0]).__name__ == "BasicBlock"
    add_shrinkage(model)
    with pytest.raises(ConfigError, match="already has a gate"):
        add_shrinkage(model)


def test_add_shrinkage_refuses_a_model_without_torchvision_or_timm_blocks():
    """Runs without torchvision: our own networks and a plain stack are refused in one line."""
    with pytest.raises(ConfigError, match="no residual block.*create_model"):
        add_shrinkage(create_model("resnet_paper"))
    with pytest.raises(ConfigError, match="no residual block"):
        add_shrinkage(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))


def test_timm_seresnet_already_has_a_gate():
    with pytest.raises(ConfigError, match="already has a gate.*SEModule"):
        add_shrinkage(build("timm", "seresnet18", num_classes=2))


@pytest.mark.xfail(
    "device" not in inspect.signature(Shrinkage).parameters,
    reason="timm >= 1.0.2x passes device=/dtype= to attn_layer; Shrinkage must accept them",
    strict=True,
)
def test_shrinkage_as_timm_attn_layer():
    timm = _import_vision("timm")
    model = timm.create_model("resnet18", num_classes=4, block_args=dict(attn_layer=Shrinkage))
    assert sum(isinstance(m, Shrinkage) for m in model.modules()) == 8
    assert isinstance(model.layer4[1].se, Shrinkage) and model.layer4[1].se.channels == 512
    cs = timm.create_model(
        "resnet26", num_classes=4, block_args=dict(attn_layer=partial(Shrinkage, mode="cs", reduction=4))
    )
    assert {m.mode for m in cs.modules() if isinstance(m, Shrinkage)} == {"cs"}
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 4) and model.layer1[0].se.gate.fc1.weight.grad is not None
