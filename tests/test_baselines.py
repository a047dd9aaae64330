"""The field's baselines (models/baselines/): layer shapes and parameter counts of the papers and
reference code, the ResidualNet protocol, and stack=S as exactly S separate networks."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from deepshrink.errors import ConfigError, ShapeError
from deepshrink.models.baselines import (
    BASELINES,
    FCN,
    WDCNN,
    FawazResNet,
    InceptionTime,
    check_config,
    check_wdcnn_config,
    wdcnn_output_length,
)
from deepshrink.models.stacked import stack_inputs, stack_state_dicts, unstack_state_dict


def conv(k, cin, cout, bias=True):
    return k * cin * cout + (cout if bias else 0)


def bn(c):
    return 2 * c  # gamma and beta (running statistics are buffers)


def fc(cin, cout):
    return cin * cout + cout


def args_of(model):
    return {k: v for k, v in model.config.items() if k != "arch"}


# ------------------------------------------------------------------- counts and layer shapes
@pytest.mark.parametrize("in_channels, k", [(1, 10), (3, 5)])
def test_fcn_parameter_count(in_channels, k):
    # Wang et al. 2017 / Ismail Fawaz et al. 2019 (dl-4-tsc classifiers/fcn.py): Conv1D with biases,
    # 128/256/128 filters of kernels 8/5/3, each + BN; GAP; Dense(K).
    expected = (
        conv(8, in_channels, 128) + bn(128) + conv(5, 128, 256) + bn(256) + conv(3, 256, 128) + bn(128) + fc(128, k)
    )
    assert FCN(in_channels, k).num_parameters() == expected
    if (in_channels, k) == (1, 10):
        assert expected == 265_994


@pytest.mark.parametrize("in_channels, k", [(1, 10), (3, 5)])
def test_fawaz_resnet_parameter_count(in_channels, k):
    # dl-4-tsc classifiers/resnet.py: three blocks of Conv(8)-BN-ReLU, Conv(5)-BN-ReLU, Conv(3)-BN, all
    # convolutions with biases; shortcut Conv(1)+BN in blocks 1 and 2, BN only in block 3 (64 -> 128 -> 128).
    def block(cin, cout):
        body = conv(8, cin, cout) + conv(5, cout, cout) + conv(3, cout, cout) + 3 * bn(cout)
        return body + (bn(cout) if cin == cout else conv(1, cin, cout) + bn(cout))

    expected = block(in_channels, 64) + block(64, 128) + block(128, 128) + fc(128, k)
    assert FawazResNet(in_channels, k).num_parameters() == expected
    if (in_channels, k) == (1, 10):
        assert expected == 505_290


def inception_time_count(in_channels, k, depth=6, f=32, b=32, kernel=40):
    # Ismail Fawaz et al. 2020 (hfawaz/InceptionTime classifiers/inception.py): no biases in the
    # convolutions; bottleneck only when the module input has more than one channel; kernels
    # 40/20/10 on the bottleneck, max-pool + 1x1 on the input; BN on the 4f concatenation; a
    # Conv(1)+BN shortcut after modules 3 and 6.
    total, cin, res = 0, in_channels, in_channels
    for d in range(depth):
        inner = b if cin > 1 else cin
        total += (conv(1, cin, b, bias=False) if cin > 1 else 0)
        total += sum(conv(kernel // 2**i, inner, f, bias=False) for i in range(3))
        total += conv(1, cin, f, bias=False) + bn(4 * f)
        cin = 4 * f
        if d % 3 == 2:
            total += conv(1, res, 4 * f, bias=False) + bn(4 * f)
            res = 4 * f
    return total + fc(4 * f, k)


@pytest.mark.parametrize("in_channels, k", [(1, 10), (3, 5)])
def test_inception_time_parameter_count(in_channels, k):
    model = InceptionTime(in_channels, k)
    assert model.num_parameters() == inception_time_count(in_channels, k)
    if (in_channels, k) == (1, 10):
        assert model.num_parameters() == 421_482
    # the reference skips the bottleneck on a 1-channel input, not on a multichannel one
    assert isinstance(model.blocks[0].bottleneck, nn.Identity) == (in_channels == 1)
    assert not isinstance(model.blocks[1].bottleneck, nn.Identity)
    assert [c.kernel_size[0] for c in model.blocks[0].convs] == [40, 20, 10]
    # the published classifier: 5 members
    assert InceptionTime(in_channels, k, ensemble=5).num_parameters() == 5 * inception_time_count(in_channels, k)


def test_wdcnn_count_and_table1_shapes():
    # Zhang et al. 2017, Table 1 (input 2048): conv1 64/16 -> 128x16, pool -> 64x16, conv2 -> 64x32,
    # pool -> 32x32, conv3 -> 32x64, pool -> 16x64, conv4 -> 16x64, pool -> 8x64, conv5 ('valid')
    # -> 6x64, pool -> 3x64, FC 100, softmax 10. The paper states no parameter count; this is
    # Table 1 with conv biases, BN after every conv and after the FC-100 layer.
    model = WDCNN(1, 10)
    expected = (
        conv(64, 1, 16) + bn(16) + conv(3, 16, 32) + bn(32) + conv(3, 32, 64) + bn(64)
        + 2 * (conv(3, 64, 64) + bn(64)) + fc(3 * 64, 100) + bn(100) + fc(100, 10)
    )  # fmt: skip
    assert model.num_parameters() == expected == 54_510
    assert WDCNN(1, 10, hidden_norm=False).num_parameters() == expected - bn(100)
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
             for m in model.modules() if isinstance(m, (nn.Conv1d, nn.MaxPool1d))]  # fmt: skip
    model.eval()(torch.randn(2, 1, 2048))
    for h in hooks:
        h.remove()
    assert shapes == [(16, 128), (16, 64), (32, 64), (32, 32), (64, 32), (64, 16), (64, 16), (64, 8), (64, 6), (64, 3)]
    assert model.stem[0].padding == (24, 24)  # Keras 'same' for 2048, kernel 64, stride 16


# ---------------------------------------------------------------------------- input shapes
@pytest.mark.parametrize("length", [1, 7, 64, 333])
@pytest.mark.parametrize("cls", [FCN, FawazResNet, InceptionTime])
def test_any_length_output_shapes(cls, length):
    model = cls(2, 5, **({"filters": 4, "bottleneck": 4} if cls is InceptionTime else {"widths": [4, 8, 8]})).eval()
    assert model(torch.randn(3, 2, length)).shape == (3, 5)
    assert model.forward_features(torch.randn(3, 2, length)).shape[-1] == length


@pytest.mark.parametrize("length", [1009, 1024, 2048, 4096, 6000])
def test_wdcnn_lengths(length):
    model = WDCNN(1, 4, input_length=length).eval()
    assert model(torch.randn(2, 1, length)).shape == (2, 4)
    assert model.feature_length == wdcnn_output_length(length) >= 1
    with pytest.raises(ShapeError, match=f"admits input length {length} only.*got {length + 16}"):
        model(torch.randn(2, 1, length + 16))


def test_wdcnn_too_short_is_a_config_error():
    with pytest.raises(ConfigError, match="'input_length' 1008 .* at least 1009"):
        WDCNN(input_length=1008)
    with pytest.raises(ConfigError, match="input_length"):
        check_wdcnn_config({"input_length": 100, "first_stride": 16, "widths": [32, 64, 64, 64], "kernel_size": 3})
    check_wdcnn_config({"input_length": 100})  # a subset: rules across arguments need them all


@pytest.mark.parametrize("cls", [WDCNN, FCN, FawazResNet, InceptionTime])
def test_wrong_input_shape(cls):
    model = cls(2, 3, stack=2)
    length = 2048 if cls is WDCNN else 16
    with pytest.raises(ShapeError, match="C = 4"):
        model(torch.randn(2, 2, length))
    with pytest.raises(ShapeError, match="3 dims"):
        model(torch.randn(4, length))
    with pytest.raises(ShapeError, match="floating-point"):
        model(torch.zeros(2, 4, length, dtype=torch.long))
    if cls is not WDCNN:
        with pytest.raises(ShapeError, match="any input length >= 1"):
            model(torch.randn(2, 4, 0))


# ------------------------------------------------------------------------------- stacking
SMALL = {
    WDCNN: dict(input_length=1024, first_channels=4, widths=[4, 8, 8, 8], hidden_features=6),
    FCN: dict(widths=[6, 8, 6], kernel_sizes=[8, 5, 3]),
    FawazResNet: dict(widths=[4, 6, 6]),
    InceptionTime: dict(depth=6, filters=3, bottleneck=4, kernel_size=12),
}
CASES = [
    (WDCNN, {}), (FCN, {}), (FawazResNet, {}), (InceptionTime, {}), (InceptionTime, {"ensemble": 2}),
    (FawazResNet, {"gate": "cw"}), (InceptionTime, {"gate": "cw"}), (InceptionTime, {"gate": "cs", "ensemble": 2}),
]  # fmt: skip


@pytest.mark.parametrize("cls, extra", CASES)
@pytest.mark.parametrize("training", [True, False])
def test_stack_equals_separate_networks(cls, extra, training):
    kwargs = dict(SMALL[cls], **extra)
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(cls(2, 5, **kwargs).double())
    stacked = cls(**{**args_of(models[0]), "stack": 3}).double()
    stacked.load_state_dict(stack_state_dicts([m.state_dict() for m in models], stacked))
    for m in [*models, stacked]:
        m.train(training)
    length = kwargs.get("input_length", 50)
    xs = [torch.randn(6, 2, length, dtype=torch.float64) for _ in models]
    out = stacked(stack_inputs(xs))
    assert out.shape == (6, 3, 5)
    for i, m in enumerate(models):
        torch.testing.assert_close(out[:, i], m(xs[i]), atol=1e-6, rtol=0)
    # after the step the running statistics of each slice are its network's
    singles = unstack_state_dict(stacked.state_dict(), 3, models[0].state_dict())
    for m, single in zip(models, singles):
        for key, value in m.state_dict().items():
            torch.testing.assert_close(single[key], value, atol=1e-6, rtol=0)


def test_inception_ensemble_is_log_mean_probability():
    torch.manual_seed(0)
    model = InceptionTime(2, 4, ensemble=3, **SMALL[InceptionTime]).double().eval()
    members = [InceptionTime(2, 4, **SMALL[InceptionTime]).double().eval() for _ in range(3)]
    for m, state in zip(members, unstack_state_dict(model.state_dict(), 3, members[0].state_dict())):
        m.load_state_dict(state)
    x = torch.randn(5, 2, 30, dtype=torch.float64)
    probs = torch.stack([m(x).softmax(-1) for m in members]).mean(0)
    torch.testing.assert_close(model(x), probs.log())
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (5, 3 * 12)


# ------------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("cls, extra", CASES)
def test_gradient_reaches_every_parameter(cls, extra):
    torch.manual_seed(0)
    model = cls(2, 5, stack=2, **SMALL[cls], **extra).train()
    x = torch.randn(4, 4, SMALL[cls].get("input_length", 40))
    model(x).logsumexp(-1).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if p.dim() > 1:  # weights (a bias right before BN gets a zero gradient by design)
            assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("cls", [WDCNN, FCN, FawazResNet, InceptionTime])
def test_rebuilt_from_config(cls, tmp_path):
    torch.manual_seed(0)
    model = cls(3, 4, **SMALL[cls]).eval()
    assert model.config["arch"] == cls.arch and BASELINES[cls.arch][0] is cls
    assert json.loads(json.dumps(model.config)) == model.config  # plain values, lists not tuples
    assert model.spatial_dims == 1 and model.in_channels == 3 and model.num_classes == 4 and model.stack == 1
    again = cls(**args_of(model))
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    check_config(model.config, "config.json")
    # save_pretrained: config.json + model.safetensors rebuild the same network
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_args"] == model.config
    again.load_state_dict(load_file(tmp_path / "model.safetensors"))
    x = torch.randn(2, 3, SMALL[cls].get("input_length", 20))
    torch.testing.assert_close(again.eval()(x), model(x))


@pytest.mark.parametrize("cls, extra", [(WDCNN, {}), (FCN, {}), (InceptionTime, {"ensemble": 2})])
def test_reset_classifier(cls, extra):
    model = cls(1, 4, stack=2, **SMALL[cls], **extra).eval()
    model.reset_classifier(7)
    assert model.config["num_classes"] == 7 and model.num_classes == 7
    x = torch.randn(2, 2, SMALL[cls].get("input_length", 20))
    assert model(x).shape == (2, 2, 7)
    with pytest.raises(ConfigError, match="num_classes"):
        model.reset_classifier(0)


def test_fawaz_block_shortcuts_and_relu_after_addition():
    model = FawazResNet(1, 3).eval()
    kinds = [[type(m).__name__ for m in block.shortcut] for block in model.blocks]
    assert kinds == [["Conv1d", "BatchNorm1d"], ["Conv1d", "BatchNorm1d"], ["BatchNorm1d"]]
    assert isinstance(model.blocks[0].branch[-1], nn.BatchNorm1d)  # no ReLU before the addition
    assert (model.forward_features(torch.randn(2, 1, 30)) >= 0).all()  # ReLU after it


@pytest.mark.parametrize("stack", [1, 3])
def test_glorot_uniform_init_uses_one_slice_fans(stack):
    model = FCN(1, 5, init="glorot_uniform", stack=stack)
    c = model.features[3]  # 128 -> 256, kernel 5
    bound = math.sqrt(6 / (5 * 128 + 5 * 256))
    assert c.weight.abs().max() <= bound and c.weight.abs().max() > 0.9 * bound and not c.bias.any()
    assert model.fc.weight.abs().max() <= math.sqrt(6 / (128 + 5))


@pytest.mark.parametrize(
    "cls, kwargs, name",
    [
        (FCN, {"widths": [128, 0, 128]}, "widths"),
        (FCN, {"kernel_sizes": [8, 5]}, "kernel_sizes"),
        (FCN, {"drop_rate": 1.0}, "drop_rate"),
        (FawazResNet, {"widths": (64.0, 128)}, "widths"),
        (FawazResNet, {"init": "he"}, "init"),
        (InceptionTime, {"kernel_size": 3}, "kernel_size"),
        (InceptionTime, {"residual": 1}, "residual"),
        (InceptionTime, {"ensemble": 0}, "ensemble"),
        (InceptionTime, {"bottleneck": -1}, "bottleneck"),
        (FawazResNet, {"gate": "shrinkage"}, "gate"),
        (InceptionTime, {"gate": "CW"}, "gate"),
        (InceptionTime, {"gate_reduction": 0}, "gate_reduction"),
        (WDCNN, {"input_length": 500}, "input_length"),
        (WDCNN, {"hidden_norm": "yes"}, "hidden_norm"),
        (WDCNN, {"stack": 0}, "stack"),
    ],
)
def test_bad_argument_is_a_config_error_naming_it(cls, kwargs, name):
    with pytest.raises(ConfigError, match=f"'{name}'"):
        cls(**kwargs)


def test_check_config_dispatch():
    with pytest.raises(ConfigError, match="'arch'"):
        check_config({"widths": [4]}, "config.json")
    with pytest.raises(ConfigError, match="config.json: unknown model argument 'width'; did you mean widths"):
        check_config({"arch": "fcn", "width": [4]}, "config.json")
    check_config({"arch": "inception_time", "depth": 3})


# ------------------------------------------------------------------------ shrinkage dropped in
def _soft(x, tau):
    return torch.sign(x) * torch.clamp(x.abs() - tau, min=0)


def test_fawaz_block_with_shrinkage_is_relu_of_thresholded_branch_plus_shortcut():
    torch.manual_seed(0)
    block = FawazResNet(2, 3, widths=[6], gate="cw").double().train().blocks[0]
    x = torch.randn(5, 2, 40, dtype=torch.float64)
    out = block(x)
    # the reference, from the block's own parts: tau = alpha * mean|r| per sample and channel
    r = block.branch(x)
    mean_abs = r.abs().mean(-1)
    alpha = block.gate.gate(mean_abs)
    expected = torch.relu(_soft(r, (alpha * mean_abs).unsqueeze(-1)) + block.shortcut(x))
    torch.testing.assert_close(out, expected)
    assert 0 < (out == 0).double().mean() < 1


def test_inception_module_with_shrinkage_thresholds_between_norm_and_relu():
    torch.manual_seed(0)
    module = InceptionTime(1, 3, depth=1, filters=2, bottleneck=0, kernel_size=8, residual=False, gate="cs").blocks[0]
    module = module.double().eval()
    x = torch.randn(4, 1, 30, dtype=torch.float64)
    branches = [c(x) for c in module.convs] + [module.pool_conv(module.pool(x))]
    z = module.norm(torch.cat(branches, 1))
    mean_abs = z.abs().mean(-1)
    tau = module.gate.gate(mean_abs) * mean_abs.mean(1, keepdim=True)  # CS: one threshold per sample
    torch.testing.assert_close(module(x), torch.relu(_soft(z, tau.unsqueeze(-1))))


def test_gate_se_and_none_keep_the_reference():
    torch.manual_seed(0)
    plain = FawazResNet(1, 3, widths=[4, 6, 6])
    torch.manual_seed(0)
    gated = FawazResNet(1, 3, widths=[4, 6, 6], gate="se")
    assert all(isinstance(b.gate, nn.Identity) for b in plain.blocks)
    assert [type(b.gate).__name__ for b in gated.blocks] == ["SqueezeExcite"] * 3
    extra = sum(p.numel() for p in gated.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == sum(2 * fc(c, c) + bn(c) for c in (4, 6, 6))  # FC-BN-ReLU-FC, C -> C (reduction 1)
