"""Shrinkage / SE gates and residual units against PAPER.md, written out by hand."""

import pytest
import torch
import torch.nn.functional as F

from deepshrink import BasicBlock, Shrinkage, SqueezeExcite, record_thresholds
from deepshrink.errors import ConfigError


def _bn(x, bn, training):
    return F.batch_norm(x, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias, training, 0.1, bn.eps)


def reference_rsbu(x, block, mode, stride, in_ch, out_ch, training):
    """PAPER.md's RSBU, line by line, from torch primitives and the block's own weights."""
    p = dict(block.named_parameters())
    bufs = dict(block.named_modules())
    conv = F.conv1d if x.dim() == 3 else F.conv2d
    # 1. residual branch: BN -> ReLU -> Conv(k3, stride s) -> BN -> ReLU -> Conv(k3, stride 1)
    r = F.relu(_bn(x, bufs["branch.0"], training))
    r = conv(r, p["branch.2.weight"], p["branch.2.bias"], stride=stride, padding=1)
    r = F.relu(_bn(r, bufs["branch.3"], training))
    r = conv(r, p["branch.5.weight"], p["branch.5.bias"], stride=1, padding=1)
    # 2. a = GAP(|x|) per channel
    a = r.abs().mean(dim=tuple(range(2, r.dim())))
    # 3. FC(C->C) -> BN -> ReLU -> FC(C->C or C->1) -> sigmoid
    h = F.linear(a, p["gate.gate.fc1.weight"], p["gate.gate.fc1.bias"])
    h = F.relu(_bn(h, bufs["gate.gate.norm"], training))
    alpha = torch.sigmoid(F.linear(h, p["gate.gate.fc2.weight"], p["gate.gate.fc2.bias"]))
    # 4. tau = alpha * a (CW); alpha * mean_c(a) (CS)
    tau = alpha * a if mode == "cw" else alpha * a.mean(dim=1, keepdim=True)
    tau = tau.reshape(tau.shape + (1,) * (r.dim() - 2))
    # 5. soft thresholding
    y = torch.sign(r) * torch.clamp(r.abs() - tau, min=0)
    # 6. shortcut: subsample by the stride, zero-pad channels half on each side
    s = x[(slice(None), slice(None)) + (slice(None, None, stride),) * (x.dim() - 2)]
    if out_ch > in_ch:
        left = (out_ch - in_ch) // 2
        zeros = lambda n: torch.zeros((s.shape[0], n) + s.shape[2:])  # noqa: E731
        s = torch.cat([zeros(left), s, zeros(out_ch - in_ch - left)], dim=1)
    # 7. output = y + shortcut, no ReLU
    return y + s


def _randomise(block, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for prm in block.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g) * 0.5)
        for name, buf in block.named_buffers():
            if "running_mean" in name:
                buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
            elif "running_var" in name:
                buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)


@pytest.mark.parametrize("mode", ["cw", "cs"])
@pytest.mark.parametrize("stride,in_ch,out_ch", [(1, 4, 4), (2, 4, 4), (2, 4, 8), (1, 3, 8)])
@pytest.mark.parametrize("training", [False, True])
def test_rsbu_matches_hand_built_reference_1d(mode, stride, in_ch, out_ch, training):
    block = BasicBlock(in_ch, out_ch, stride, gate_layer=lambda c: Shrinkage(c, mode=mode))
    _randomise(block, seed=stride * 10 + out_ch)
    block.train(training)
    x = torch.randn(6, in_ch, 37)
    expected = reference_rsbu(x, block, mode, stride, in_ch, out_ch, training)
    assert torch.allclose(block(x), expected, atol=1e-5)


@pytest.mark.parametrize("mode", ["cw", "cs"])
def test_rsbu_matches_hand_built_reference_2d(mode):
    block = BasicBlock(4, 8, 2, spatial_dims=2, gate_layer=lambda c: Shrinkage(c, mode=mode)).eval()
    _randomise(block, seed=5)
    x = torch.randn(3, 4, 9, 10)
    assert torch.allclose(block(x), reference_rsbu(x, block, mode, 2, 4, 8, False), atol=1e-5)


def test_rsbu_output_can_be_negative():
    block = BasicBlock(4, 4, gate_layer=Shrinkage).eval()
    out = block(torch.randn(8, 4, 64))
    assert (out < 0).any() and (out > 0).any()


@pytest.mark.parametrize("mode,spatial", [("cw", (50,)), ("cs", (50,)), ("cw", (7, 9)), ("cs", (4, 5, 6))])
@pytest.mark.parametrize("training", [True, False])
def test_thresholds_positive_and_below_mean_abs(mode, spatial, training):
    torch.manual_seed(0)
    layer = Shrinkage(6, mode=mode).train(training)
    x = torch.randn((10, 6) + spatial) * torch.rand(10, 6, *([1] * len(spatial))) * 5
    with record_thresholds(layer) as layers:
        layer(x)
        rec = layers[""].last_record
    mean_abs = x.abs().flatten(2).mean(-1)  # (N, C)
    max_abs = x.abs().flatten(2).amax(-1)
    if mode == "cw":
        assert rec.tau.shape == (10, 6)
        bound = mean_abs
    else:
        assert rec.tau.shape == (10, 1)
        bound = mean_abs.mean(1, keepdim=True)
    assert (rec.tau > 0).all() and (rec.tau < bound).all()
    assert (mean_abs <= max_abs).all()
    assert rec.zero_fraction.shape == (10,) and ((rec.zero_fraction > 0) & (rec.zero_fraction < 1)).all()
    assert layer.last_record is None  # released on exit


def test_thresholds_differ_per_sample_and_cs_shares_one_per_sample():
    torch.manual_seed(1)
    x = torch.randn(5, 3, 40) * torch.arange(1, 6).view(5, 1, 1)
    cs = Shrinkage(3, mode="cs").eval()
    tau = cs.thresholds(x)
    assert tau.shape == (5, 1) and len(set(tau.flatten().tolist())) == 5
    y = cs(x)
    # one shared threshold: every channel of a sample is shrunk by the same amount
    shrink = (x - y)[y != 0].abs().reshape(-1)
    per_sample = [(x[i] - y[i])[y[i] != 0].abs() for i in range(5)]
    assert shrink.numel() > 0 and all(torch.allclose(p, tau[i].expand_as(p), atol=1e-6) for i, p in enumerate(per_sample))


@pytest.mark.parametrize("gate", [lambda c: Shrinkage(c, mode="cw"), lambda c: Shrinkage(c, mode="cs"), SqueezeExcite])
def test_eval_output_independent_of_batch(gate):
    torch.manual_seed(2)
    block = BasicBlock(3, 6, 2, gate_layer=gate)
    block.train()(torch.randn(16, 3, 32))  # move running statistics away from defaults
    block.eval()
    x = torch.randn(7, 3, 32)
    together = block(x)
    alone = torch.cat([block(x[i : i + 1]) for i in range(7)])
    assert torch.allclose(together, alone, atol=1e-6)


def test_zero_input_gives_zero_output_and_finite_gradients():
    layer = Shrinkage(4, mode="cw")
    x = torch.zeros(3, 4, 20, requires_grad=True)
    y = layer(x)
    assert torch.equal(y, torch.zeros_like(y))
    y.sum().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("mode", ["cw", "cs"])
def test_bf16_autocast_forward_backward_finite(mode):
    block = BasicBlock(4, 8, 2, gate_layer=lambda c: Shrinkage(c, mode=mode))
    x = torch.randn(4, 4, 64, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
        assert block.gate(block.branch(x)).dtype == torch.bfloat16  # the gated branch runs in bf16
    assert torch.isfinite(y.float()).all()
    y.float().square().mean().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in block.parameters() if p.grad is not None)


def test_squeeze_excite_matches_reference():
    torch.manual_seed(3)
    se = SqueezeExcite(5, norm_layer=None, reduction=2.5).eval()
    x = torch.randn(4, 5, 11)
    g = se.gate
    w = torch.sigmoid(g.fc2(torch.relu(g.fc1(x.mean(-1)))))
    assert g.fc1.out_features == 2
    assert torch.allclose(se(x), x * w.unsqueeze(-1), atol=1e-6)


def test_gate_first_argument_is_channels_like_timm_attn_layer():
    assert Shrinkage(16).channels == 16 and SqueezeExcite(16).channels == 16
    assert Shrinkage(16, reduction=4).gate.fc1.out_features == 4
    assert Shrinkage(16, hidden_channels=3).gate.fc1.out_features == 3


def test_bad_gate_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="mode"):
        Shrinkage(4, mode="channelwise")
    with pytest.raises(ConfigError, match="reduction"):
        Shrinkage(4, reduction=0)
    with pytest.raises(ConfigError, match="shortcut='conv'"):
        BasicBlock(8, 4)


def test_conv_shortcut_projects():
    block = BasicBlock(4, 8, 2, shortcut="conv")
    assert isinstance(block.shortcut, torch.nn.Conv1d) and block(torch.randn(2, 4, 16)).shape == (2, 8, 8)


@pytest.mark.parametrize("mode", ["cw", "cs"])
def test_fused_unit_gradients_equal_reference(mode):
    # the unit fuses threshold + shortcut addition; its gradients must equal plain autograd
    block = BasicBlock(4, 8, 2, gate_layer=lambda c: Shrinkage(c, mode=mode)).double()
    _randomise(block, seed=11)
    x = torch.randn(5, 4, 30, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 8, 15, dtype=torch.float64)
    params = [x] + list(block.parameters())
    fused = torch.autograd.grad((block(x) * w).sum(), params)
    ref = torch.autograd.grad((reference_rsbu(x, block, mode, 2, 4, 8, True) * w).sum(), params)
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(fused, ref))
