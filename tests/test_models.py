"""The model registry, the paper presets and every registered model end to end."""

import pytest
import torch

import deepshrink
from deepshrink import create_model, list_models
from deepshrink.errors import ConfigError, ShapeError
from deepshrink.models import ResidualNet

FAMILIES = ["convnet", "resnet", "se_resnet", "drsn_cs", "drsn_cw"]


def table2_parameters(family, units_per_stage, classes=8):
    """Parameters of the paper's network, counted from Table II and PAPER.md by hand."""
    conv = lambda cin, cout, k=3: cin * cout * k + cout  # noqa: E731  (convolutions carry a bias)
    bn = lambda c: 2 * c  # noqa: E731
    fc = lambda i, o: i * o + o  # noqa: E731
    total = conv(1, 4)  # stem: Conv(4 channels, k3, stride 2)
    cin = 4
    for width in (4, 8, 16):
        for _ in range(units_per_stage):
            total += bn(cin) + conv(cin, width) + bn(width) + conv(width, width)
            if family in ("drsn_cw", "se_resnet"):
                total += fc(width, width) + bn(width) + fc(width, width)
            elif family == "drsn_cs":
                total += fc(width, width) + bn(width) + fc(width, 1)
            cin = width
    return total + bn(16) + fc(16, classes)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("preset,units", [("paper", 4), ("paper6", 2), ("paper9", 3)])
def test_paper_presets_parameter_counts(family, preset, units):
    model = create_model(f"{family}_{preset}", num_classes=8)
    assert model.num_parameters() == table2_parameters(family, units)


def test_paper_counts_match_the_published_estimate():
    # PAPER.md: about 11.6k parameters (CW) and 10.2k (CS)
    assert round(create_model("drsn_cw_paper").num_parameters(), -2) == 11600
    assert round(create_model("drsn_cs_paper").num_parameters(), -2) == 10200


def test_paper_network_shapes_follow_table2():
    model = create_model("drsn_cw_paper").eval()
    h = model.stem(torch.zeros(1, 1, 2048))
    assert h.shape == (1, 4, 1024)
    shapes = []
    for stage in model.stages:
        h = stage(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes == [(4, 512), (8, 256), (16, 128)]
    assert sum(len(s) for s in model.stages) == 12


def _input(model, n=2):
    size = model.config.get("input_length", 256) if model.spatial_dims == 1 else 16  # WDCNN takes one length
    return torch.randn((n, model.in_channels) + (size,) * model.spatial_dims)


@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, in_channels=2, num_classes=5)
    x = _input(model)
    out = model(x)
    assert out.shape == (2, 5)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    feats = model.forward_features(x)
    members = model.config.get("ensemble", 1)  # an ensemble's members' features lie side by side
    if "input_length" not in model.config:  # WDCNN's head is FC layers on the flattened map, not a pool
        assert feats.shape[:2] == (2, model.num_features * members)
    assert model.forward_head(feats, pre_logits=True).shape == (2, model.num_features * members)


def test_registry_names_and_families():
    names = list_models()
    for family in FAMILIES:
        for suffix in ("_paper", "_paper6", "_paper9", "18_1d", "34_1d", "50_1d", "20_2d", "56_2d", "18_2d"):
            assert f"{family}{suffix}" in names
    assert list_models("drsn_cw*") == sorted(n for n in names if n.startswith("drsn_cw"))
    assert create_model("convnet_paper").stages[0][0].shortcut is None
    assert isinstance(create_model("drsn_cs_paper").stages[0][0].gate, deepshrink.Shrinkage)
    assert create_model("drsn_cs_paper").stages[0][0].gate.mode == "cs"
    assert isinstance(create_model("se_resnet_paper").stages[0][0].gate, deepshrink.SqueezeExcite)


def test_unknown_name_lists_closest_names():
    with pytest.raises(ConfigError, match=r"unknown model 'drsn_cw_papr'; did you mean drsn_cw_paper"):
        create_model("drsn_cw_papr")
    with pytest.raises(ConfigError, match="unknown model argument.*widht"):
        create_model("drsn_cw_paper", widht=3)
    with pytest.raises(ConfigError, match="gate"):
        create_model("drsn_cw_paper", gate="xx")


def test_overrides_and_rebuild_from_config():
    model = create_model("drsn_cw_paper", spatial_dims=2, in_channels=3, num_classes=4)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    clone = ResidualNet(**model.config)
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model(x), clone(x))


def test_wrong_input_rank_is_a_clear_error():
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, C, L\)"):
        create_model("resnet_paper")(torch.randn(4, 2048))
    with pytest.raises(ShapeError, match="C = 1, got shape"):
        create_model("resnet_paper")(torch.randn(4, 3, 256))


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels="1"), "'in_channels' must be an integer"),
    (dict(widths=(4, "a"), depths=(1, 1), strides=(1, 1)), "'widths' must be a list of integers"),
    (dict(drop_rate=5), r"'drop_rate' must be a number in \[0, 1\)"),
    (dict(stack=0), "'stack' must be an integer"),
])  # fmt: skip
def test_residualnet_built_directly_checks_its_arguments(kwargs, match):
    with pytest.raises(ConfigError, match="ResidualNet: model argument " + match):
        ResidualNet(**kwargs)


@pytest.mark.parametrize("family", FAMILIES)
def test_torch_export_matches_eager(family):
    model = create_model(f"{family}_paper6").eval()
    x = torch.randn(3, 1, 512)
    exported = torch.export.export(model, (x,))
    assert torch.allclose(exported.module()(x), model(x), atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_torch_compile_forward_and_backward_match_eager(family):
    # float64: soft thresholding has kinks, so float32 rounding differences between fused and
    # eager kernels flip a few elements across the threshold and change their gradients; in
    # float64 the compiled graph must reproduce eager autograd to rounding error.
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = create_model(f"{family}_paper6").double()
    x = torch.randn(4, 1, 256, dtype=torch.float64)
    eager = model(x)
    eager.square().mean().backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    out.square().mean().backward()
    assert torch.allclose(out, eager, atol=1e-10)
    assert all(torch.allclose(p.grad, g, atol=1e-10) for p, g in zip(model.parameters(), eager_grads))


def _convs(model):
    return [m for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d))]


def _fan_in(conv):
    return conv.weight[0].numel()  # in_channels / groups x kernel


@pytest.mark.parametrize("name", ["convnet_paper", "resnet_paper", "se_resnet_paper", "drsn_cs_paper",
                                  "drsn_cw_paper", "drsn_cw18_1d", "resnet20_2d", "drsn_cw20_2d"])
def test_default_init_is_pytorchs_uniform(name):
    # Decided by benchmarks/training_quality.py (docs/results.md, "Initialisation"): PyTorch's own
    # layer init, weights and biases uniform in +-1/sqrt(fan_in), std 1/sqrt(3 fan_in).
    torch.manual_seed(0)
    model = create_model(name)
    assert model.config["init"] == "torch"
    for conv in _convs(model):
        bound = 1 / _fan_in(conv) ** 0.5
        assert conv.weight.abs().max() <= bound * (1 + 1e-6)
        if conv.weight.numel() >= 200:
            assert conv.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.15)
        if conv.bias is not None:
            assert conv.bias.abs().max() <= bound * (1 + 1e-6) and conv.bias.abs().sum() > 0


@pytest.mark.parametrize("name", ["resnet_paper", "drsn_cw_paper", "drsn_cw20_2d"])
def test_he_normal_init_is_the_authors_scheme(name):
    torch.manual_seed(0)
    model = create_model(name, init="he_normal")
    for conv in _convs(model):
        std = (2 / _fan_in(conv)) ** 0.5
        if conv.weight.numel() >= 200:
            assert conv.weight.std().item() == pytest.approx(std, rel=0.15)
            assert conv.weight.abs().max() > 1 / _fan_in(conv) ** 0.5  # outside the uniform's support
        assert conv.bias is None or torch.count_nonzero(conv.bias) == 0
    rebuilt = ResidualNet(**model.config)
    assert rebuilt.config["init"] == "he_normal"


def test_unknown_init_is_a_config_error():
    with pytest.raises(ConfigError, match="init must be one of"):
        create_model("drsn_cw_paper", init="xavier")
