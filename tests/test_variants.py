"""Shrinkage variants: hard / garrote / firm, the MAD threshold, element-wise thresholds, APReLU.

Values against PyWavelets (an independent implementation; test-only), numpy and hand-written
formulas; gradients by gradcheck in float64; stacked networks against separate ones; and what
each autograd Function keeps for backward.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepshrink import ResidualNet, record_thresholds
from deepshrink.errors import ConfigError
from deepshrink.functional import (
    HARD_SURROGATE_WIDTH,
    firm_threshold,
    garrote_threshold,
    hard_threshold,
    mad_sigma,
    parametric_relu,
    shrink,
    universal_threshold,
)
from deepshrink.layers import APReLU, BasicBlock, Shrinkage
from deepshrink.models.skeleton import check_model_args, check_model_config
from deepshrink.models.stacked import stack_inputs, stack_models, unstack_model

KINDS = ["hard", "garrote", "firm"]
KAPPA = 2.5


def _apply(kind, x, tau, residual=None):
    return shrink(x, tau, kind, firm_ratio=KAPPA, residual=residual)


def _pywt(kind, x, tau):
    pywt = pytest.importorskip("pywt")
    if kind == "firm":
        return pywt.threshold_firm(x, tau, KAPPA * tau)
    return pywt.threshold(x, tau, mode=kind)


def _away_from_kinks(x, tau, margin=2e-2):
    """Move entries near |x| = tau and |x| = KAPPA*tau, where finite differences straddle a kink."""
    for edge in (tau, KAPPA * tau, (1 - HARD_SURROGATE_WIDTH) * tau, (1 + HARD_SURROGATE_WIDTH) * tau):
        near = (x.abs() - edge).abs() < margin
        x = torch.where(near, x + 3 * margin * torch.sign(x + 1e-12), x)
    return x


# ---------------------------------------------------------------- values against pywt
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tau_shape", [(), (5, 1, 1), (5, 3, 1)])
def test_values_equal_pywt_slice_by_slice(kind, tau_shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, 40, generator=g, dtype=torch.float64) * 2
    tau = torch.rand(tau_shape, generator=g, dtype=torch.float64) + 0.2
    x = _away_from_kinks(x, tau)  # pywt keeps |x| == tau for hard; we say |x| > tau
    y = _apply(kind, x, tau)
    taus = tau.expand(5, 3, 1)
    for n in range(5):
        for c in range(3):
            ref = _pywt(kind, x[n, c].numpy(), float(taus[n, c, 0]))
            assert np.allclose(y[n, c].numpy(), ref, atol=1e-6, rtol=0), (n, c)
    # the float32 Function (grad) path and the plain (no-grad) path give the same values
    xf, tf = x.float().requires_grad_(), tau.float().requires_grad_()
    with torch.no_grad():
        plain = _apply(kind, xf, tf)
    assert torch.equal(_apply(kind, xf, tf).detach(), plain)
    assert np.allclose(plain.double().numpy(), y.numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_named_functions_and_fused_residual(kind):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 9, generator=g)
    tau = torch.rand(4, 3, 1, generator=g)
    named = {"hard": hard_threshold(x, tau), "garrote": garrote_threshold(x, tau), "firm": firm_threshold(x, tau, KAPPA)}
    assert torch.equal(named[kind], _apply(kind, x, tau))
    r = torch.randn(4, 3, 9, generator=g)
    assert torch.equal(_apply(kind, x, tau, r), _apply(kind, x, tau) + r)
    xg, tg, rg = (t.clone().requires_grad_() for t in (x, tau, r))
    assert torch.equal(_apply(kind, xg, tg, rg).detach(), _apply(kind, x, tau) + r)


def test_firm_formula_by_hand_and_limits():
    x = torch.tensor([-3.0, -1.5, -0.5, 0.0, 0.7, 1.0, 1.5, 2.0, 2.5, 4.0], dtype=torch.float64)
    tau, k = 1.0, 2.0  # tau2 = 2
    expected = [-3.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.5, 4.0]  # 2*(1.5-1)/(2-1) = 1
    assert torch.allclose(firm_threshold(x, tau, k), torch.tensor(expected, dtype=torch.float64))
    assert torch.equal(garrote_threshold(torch.tensor([2.0]), 1.0), torch.tensor([1.5]))
    assert torch.equal(hard_threshold(torch.tensor([-2.0, 0.5, 1.5]), 1.0), torch.tensor([-2.0, 0.0, 1.5]))


def test_bad_shrink_arguments():
    x = torch.randn(2, 3, 4)
    with pytest.raises(ConfigError, match="kind"):
        shrink(x, 0.1, "medium")
    with pytest.raises(ConfigError, match="firm_ratio"):
        firm_threshold(x, 0.1, 1.0)
    with pytest.raises(ConfigError, match="width"):
        hard_threshold(x, 0.1, width=1.5)


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", ["soft", "garrote", "firm"])
@pytest.mark.parametrize("tau_shape", [(4, 1, 1), (4, 3, 1), (4, 3, 11)])  # the last: element-wise
def test_gradcheck_exact_gradients(kind, tau_shape):
    g = torch.Generator().manual_seed(2)
    tau = (torch.rand(tau_shape, generator=g, dtype=torch.float64) * 0.8 + 0.2).requires_grad_()
    x = _away_from_kinks(torch.randn(4, 3, 11, generator=g, dtype=torch.float64) * 1.5, tau.detach()).requires_grad_()
    r = torch.randn(4, 3, 11, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: _apply(kind, a, b), (x, tau))
    assert torch.autograd.gradcheck(lambda a, b, c: _apply(kind, a, b, c), (x, tau, r))


def test_garrote_and_firm_gradients_by_formula():
    x = torch.tensor([-3.0, -1.5, 0.3, 1.2, 2.6], dtype=torch.float64, requires_grad=True)
    tau = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    gx, gt = torch.autograd.grad(garrote_threshold(x, tau).sum(), (x, tau))
    xd = x.detach()
    keep = xd.abs() > 1
    assert torch.allclose(gx, torch.where(keep, 1 + 1 / xd**2, torch.zeros_like(xd)))
    assert torch.allclose(gt, torch.where(keep, -2 / xd, torch.zeros_like(xd)).sum())
    gx, gt = torch.autograd.grad(firm_threshold(x, tau, 2.0).sum(), (x, tau))
    ramp = keep & (xd.abs() <= 2)
    assert torch.equal(gx, torch.where(ramp, 2.0, torch.where(xd.abs() > 2, 1.0, 0.0)).double())
    assert torch.allclose(gt, (-2.0 * torch.sign(xd) * ramp).sum())  # -sign(x) k/(k-1) on the ramp


@pytest.mark.parametrize("tau_shape", [(4, 1, 1), (4, 3, 1)])
def test_hard_x_gradient_exact_and_tau_surrogate_as_stated(tau_shape):
    g = torch.Generator().manual_seed(3)
    w = HARD_SURROGATE_WIDTH
    tau = (torch.rand(tau_shape, generator=g, dtype=torch.float64) * 0.8 + 0.2).requires_grad_()
    x = _away_from_kinks(torch.randn(4, 3, 25, generator=g, dtype=torch.float64), tau.detach()).requires_grad_()
    # dy/dx = 1(|x| > tau) is the true derivative away from the kink: gradcheck it
    assert torch.autograd.gradcheck(lambda a: hard_threshold(a, tau.detach()), (x,))
    # dy/dtau is the stated surrogate: -sign(x)(1 - w^2)/(2w) inside ((1-w)tau, (1+w)tau]
    x2 = (tau.detach() * (1 + (torch.rand(4, 3, 25, generator=g, dtype=torch.float64) - 0.5) * 0.5))
    x2 = (x2 * torch.sign(torch.randn(4, 3, 25, generator=g, dtype=torch.float64))).requires_grad_()
    weight = torch.randn(4, 3, 25, generator=g, dtype=torch.float64)
    gx, gt = torch.autograd.grad((hard_threshold(x2, tau) * weight).sum(), (x2, tau))
    a, t = x2.detach().abs(), tau.detach()
    band = (a > (1 - w) * t) & (a <= (1 + w) * t)
    assert band.any() and (~band).any()
    per_elem = weight * -torch.sign(x2.detach()) * band * (1 - w * w) / (2 * w)
    assert torch.allclose(gt, per_elem.sum(dim=tuple(i for i, n in enumerate(tau_shape) if n == 1), keepdim=True))
    assert torch.equal(gx, weight * (a > t))
    # the surrogate is the tau-gradient of firm thresholding with tau1 = (1-w)tau, tau2 = (1+w)tau
    s = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    xin = torch.tensor([1.02], dtype=torch.float64)  # inside the band around 1
    (firm_grad,) = torch.autograd.grad(firm_threshold(xin, s * (1 - w), (1 + w) / (1 - w)).sum(), s)
    (hard_grad,) = torch.autograd.grad(hard_threshold(xin, s).sum(), s)
    assert torch.allclose(hard_grad, firm_grad)


# ---------------------------------------------------------------- memory kept for backward
def _saved(fn, *inputs):
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        fn(*inputs)
    ptrs = {i.data_ptr() for i in inputs if isinstance(i, torch.Tensor)}
    new = [t for t in saved if t.data_ptr() not in ptrs]
    return saved, new


@pytest.mark.parametrize("kind", ["hard", "firm"])
@pytest.mark.parametrize("fused", [False, True])
def test_hard_and_firm_keep_one_int8_per_element(kind, fused):
    x = torch.randn(8, 4, 64, requires_grad=True)
    tau = torch.rand(8, 4, 1, requires_grad=True)
    r = torch.randn(8, 4, 64, requires_grad=True)
    args = (x, tau, r) if fused else (x, tau)
    saved, _ = _saved(lambda *a: _apply(kind, *a), *args)
    assert len(saved) == 1 and saved[0].dtype == torch.int8 and saved[0].numel() == x.numel()


@pytest.mark.parametrize("fused", [False, True])
def test_garrote_keeps_only_its_inputs(fused):
    x = torch.randn(8, 4, 64, requires_grad=True)
    tau = torch.rand(8, 4, 1, requires_grad=True)
    r = torch.randn(8, 4, 64, requires_grad=True)
    args = (x, tau, r) if fused else (x, tau)
    saved, new = _saved(lambda *a: _apply("garrote", *a), *args)
    assert len(saved) == 2 and not new  # x and tau themselves, no new buffer


def test_parametric_relu_and_mad_keep_no_full_size_buffer():
    x = torch.randn(8, 4, 64, requires_grad=True)
    alpha = torch.rand(8, 4, 1, requires_grad=True)
    saved, new = _saved(parametric_relu, x, alpha)
    assert len(saved) == 2 and not new
    naive = _saved(lambda a, b: torch.relu(a) + b * torch.clamp(a, max=0), x, alpha)[1]
    assert sum(t.numel() for t in naive) >= 2 * x.numel()
    saved, new = _saved(mad_sigma, x)
    assert sum(t.numel() for t in new) <= 8 * 4 * 2 * 2  # indices and values of the middle pair


# ---------------------------------------------------------------- MAD threshold
@pytest.mark.parametrize("length", [33, 40])
def test_mad_sigma_equals_numpy_median(length):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(5, 3, length, generator=g, dtype=torch.float64) * torch.rand(5, 3, 1, generator=g, dtype=torch.float64)
    ref = np.median(np.abs(x.numpy()), axis=-1) / 0.6745
    assert np.allclose(mad_sigma(x).numpy(), ref, atol=1e-12)
    assert np.allclose(universal_threshold(x).numpy(), ref * math.sqrt(2 * math.log(length)), atol=1e-12)
    x.requires_grad_()
    assert torch.autograd.gradcheck(mad_sigma, (x,))
    y = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    assert np.allclose(mad_sigma(y).numpy(), np.median(np.abs(y.numpy()).reshape(2, 3, -1), -1) / 0.6745)


@pytest.mark.parametrize("mode", ["cw", "cs"])
def test_mad_gate_threshold_is_alpha_times_universal_threshold(mode):
    torch.manual_seed(5)
    layer = Shrinkage(4, mode=mode, threshold="mad").double().eval()
    x = torch.randn(6, 4, 30, dtype=torch.float64) * torch.rand(6, 4, 1, dtype=torch.float64)
    alpha = layer.gate(x.abs().mean(-1)).detach().numpy()
    mag = np.abs(x.numpy())
    if mode == "cw":
        scale = np.median(mag, axis=-1) / 0.6745 * math.sqrt(2 * math.log(30))
    else:
        scale = np.median(mag.reshape(6, -1), axis=-1, keepdims=True) / 0.6745 * math.sqrt(2 * math.log(120))
    assert np.allclose(layer.thresholds(x).detach().numpy(), alpha * scale, atol=1e-12)


# ---------------------------------------------------------------- element-wise thresholds
@pytest.mark.parametrize("spatial", [(40,), (6, 7), (3, 4, 5)])
@pytest.mark.parametrize("stack", [1, 2])
@pytest.mark.parametrize("threshold", ["mean", "mad"])
def test_elementwise_thresholds_shape_positive_and_bounded(spatial, stack, threshold):
    torch.manual_seed(6)
    layer = Shrinkage(3, mode="ew", stack=stack, threshold=threshold).train()
    x = torch.randn((8, 3 * stack) + spatial) * (torch.rand(8, 3 * stack, *([1] * len(spatial))) * 4 + 0.1)
    with record_thresholds(layer) as layers:
        y = layer(x)
        rec = layers[""].last_record
    assert y.shape == x.shape
    assert rec.tau_map.shape == x.shape and rec.tau.shape == (8, 3 * stack)
    assert torch.allclose(rec.tau, rec.tau_map.flatten(2).mean(-1))
    flat = x.abs().flatten(2)
    scale = flat.mean(-1) if threshold == "mean" else mad_sigma(x) * math.sqrt(2 * math.log(flat.shape[-1]))
    assert (rec.tau_map > 0).all()
    assert (rec.tau_map.flatten(2) < scale.unsqueeze(-1)).all()  # below the channel's mean magnitude
    assert (rec.tau_map.flatten(2).std(-1) > 0).all()  # it does vary with position
    assert ((rec.zero_fraction > 0) & (rec.zero_fraction < 1)).all()
    expected = torch.sign(x) * torch.clamp(x.abs() - rec.tau_map, min=0)
    assert torch.allclose(y, expected, atol=1e-6)


def test_elementwise_head_by_hand():
    torch.manual_seed(7)
    layer = Shrinkage(4, mode="ew").eval()
    x = torch.randn(3, 4, 5, 6)
    h = layer.gate
    v = x.abs().flatten(2)
    hid = F.relu(F.batch_norm(F.conv1d(v, h.conv1.weight, h.conv1.bias), h.norm.running_mean, h.norm.running_var,
                              h.norm.weight, h.norm.bias, False, 0.0, h.norm.eps))  # fmt: skip
    alpha = torch.sigmoid(torch.einsum("oc,ncp->nop", h.conv2.weight[:, :, 0], hid) + h.conv2.bias[:, None])
    tau = (alpha * v.mean(-1, keepdim=True)).reshape(x.shape)
    assert torch.allclose(layer.thresholds(x).reshape(x.shape), tau, atol=1e-6)


# ---------------------------------------------------------------- gates: gradcheck
def _gate_input(seed, channels=3, length=14):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(5, channels, length, generator=g, dtype=torch.float64) * 1.5).requires_grad_()


@pytest.mark.parametrize("mode", ["cw", "cs", "ew"])
@pytest.mark.parametrize("kind", ["soft", "garrote", "firm"])
@pytest.mark.parametrize("threshold", ["mean", "mad"])
def test_gradcheck_gates(mode, kind, threshold):
    torch.manual_seed(8)
    layer = Shrinkage(3, mode=mode, shrink=kind, firm_ratio=KAPPA, threshold=threshold).double().train()
    x = _gate_input(9)
    r = torch.randn(5, 3, 14, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: layer(a), (x,))
    assert torch.autograd.gradcheck(lambda a, b: layer(a, residual=b), (x, r))


def _hard_reference(x, tau):
    """Hard thresholding with the stated surrogate tau-gradient, from plain autograd ops."""
    w = HARD_SURROGATE_WIDTH
    a, t = x.detach().abs(), tau.detach()
    band = ((a > (1 - w) * t) & (a <= (1 + w) * t)).to(x.dtype)
    slope = -torch.sign(x.detach()) * band * (1 - w * w) / (2 * w)
    return x * (a > t) + (slope * tau - (slope * tau).detach())


@pytest.mark.parametrize("mode", ["cw", "cs", "ew"])
@pytest.mark.parametrize("threshold", ["mean", "mad"])
def test_hard_gate_gradients_equal_the_stated_surrogate(mode, threshold):
    torch.manual_seed(10)
    layer = Shrinkage(3, mode=mode, shrink="hard", threshold=threshold).double().train()
    x = _gate_input(11, length=40)
    weight = torch.randn(5, 3, 40, dtype=torch.float64)
    params = [x] + list(layer.parameters())
    got = torch.autograd.grad((layer(x) * weight).sum(), params)
    tau = layer.thresholds(x)
    if mode == "cs":
        ref = _hard_reference(x.reshape(5, 1, -1), tau.reshape(5, 1, 1)).reshape(x.shape)
    elif mode == "cw":
        ref = _hard_reference(x, tau.unsqueeze(-1))
    else:
        ref = _hard_reference(x, tau)
    want = torch.autograd.grad((ref * weight).sum(), params)
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(got, want))
    assert want[1].abs().sum() > 0  # the surrogate reaches the sub-network


def test_gradcheck_parametric_relu_and_aprelu():
    g = torch.Generator().manual_seed(12)
    x = torch.randn(4, 3, 9, generator=g, dtype=torch.float64)
    x = torch.where(x.abs() < 1e-2, x + 0.05, x).requires_grad_()
    alpha = torch.rand(4, 3, 1, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(parametric_relu, (x, alpha))
    torch.manual_seed(13)
    act = APReLU(3).double().train()
    assert torch.autograd.gradcheck(lambda a: act(a), (x,))


# ---------------------------------------------------------------- APReLU
def _np_bn(v, bn, training):
    if training:
        mean, var = v.mean(0), v.var(0)  # biased, as BatchNorm normalises
    else:
        mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    return (v - mean) / np.sqrt(var + bn.eps) * bn.weight.detach().numpy() + bn.bias.detach().numpy()


def _np_aprelu(x, act, training):
    """Zhao et al. (2021) written out in numpy with the layer's weights."""
    x = x.numpy()
    pos, neg = np.maximum(x, 0), np.minimum(x, 0)
    axes = tuple(range(2, x.ndim))
    v = np.concatenate([neg.mean(axes), pos.mean(axes)], axis=1)
    h = v @ act.fc1.weight.detach().numpy().T + act.fc1.bias.detach().numpy()
    h = np.maximum(_np_bn(h, act.norm1, training), 0)
    h = h @ act.fc2.weight.detach().numpy().T + act.fc2.bias.detach().numpy()
    alpha = 1 / (1 + np.exp(-_np_bn(h, act.norm2, training)))
    alpha = alpha.reshape(alpha.shape + (1,) * len(axes))
    return pos + alpha * neg


@pytest.mark.parametrize("spatial", [(20,), (5, 6), (3, 4, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_aprelu_equals_naive_formula(spatial, training):
    torch.manual_seed(14)
    act = APReLU(4).double()
    with torch.no_grad():
        for bn in (act.norm1, act.norm2):
            bn.running_mean.copy_(torch.randn(4) * 0.1)
            bn.running_var.copy_(torch.rand(4) + 0.5)
            bn.weight.copy_(torch.rand(4) + 0.5)
            bn.bias.copy_(torch.randn(4) * 0.1)
    x = torch.randn((6, 4) + spatial, dtype=torch.float64)
    expected = _np_aprelu(x, act, training)
    assert np.allclose(act.train(training)(x).detach().numpy(), expected, atol=1e-10)
    alpha = act.slopes(x)
    assert ((alpha > 0) & (alpha < 1)).all()


def test_aprelu_stacked_equals_separate_and_replaces_every_relu():
    torch.manual_seed(15)
    acts = [APReLU(3).double().train() for _ in range(2)]
    stacked = APReLU(3, stack=2).double().train()
    with torch.no_grad():
        for name, p in stacked.named_parameters():
            p.copy_(torch.stack([dict(a.named_parameters())[name] for a in acts]) if p.dim() > 1 or "fc" in name
                    else torch.cat([dict(a.named_parameters())[name] for a in acts]))  # fmt: skip
    xs = [torch.randn(5, 3, 11, dtype=torch.float64) for _ in acts]
    out = stacked(torch.cat(xs, 1))
    for i, a in enumerate(acts):
        assert torch.allclose(out[:, 3 * i : 3 * i + 3], a(xs[i]), atol=1e-12)
    model = ResidualNet(act="aprelu", depths=[1, 1, 1])
    modules = dict(model.named_modules())
    for name, m in modules.items():
        if isinstance(m, torch.nn.ReLU):  # only inside gate sub-networks and APReLU's own sub-network
            assert ".gate." in name or isinstance(modules[name.rsplit(".", 1)[0]], APReLU), name
    assert isinstance(model.final_act, APReLU)
    assert sum(isinstance(m, APReLU) for m in model.modules()) == 1 + 2 * 3  # head + two per unit


# ---------------------------------------------------------------- stacked networks
_OPTIONS = [
    dict(gate="ew"),
    dict(gate="cw", shrink="hard"),
    dict(gate="cw", shrink="garrote"),
    dict(gate="cs", shrink="firm", firm_ratio=3.0),
    dict(gate="cw", threshold="mad"),
    dict(gate="cs", threshold="mad"),
    dict(gate=None, act="aprelu"),
    dict(gate="ew", spatial_dims=2),
]


@pytest.mark.parametrize("options", _OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_stacked_equals_three_separate_networks(options):
    torch.manual_seed(16)
    cfg = dict(in_channels=2, num_classes=4, depths=[1, 1, 1], **options)
    models = [ResidualNet(**cfg).double().train() for _ in range(3)]
    shape = (6, 2) + ((64,) if cfg.get("spatial_dims", 1) == 1 else (12, 12))
    xs = [torch.randn(shape, dtype=torch.float64) for _ in models]
    ys = [torch.randint(0, 4, (6,)) for _ in models]
    stacked = stack_models(models)
    out = stacked(stack_inputs(xs))
    sum(F.cross_entropy(out[:, i], ys[i]) for i in range(3)).backward()
    holder = stack_models(unstack_model(stacked))
    with torch.no_grad():
        for p, q in zip(holder.parameters(), stacked.parameters()):
            p.copy_(q.grad)
    grads = [dict(m.named_parameters()) for m in unstack_model(holder)]
    for i, m in enumerate(models):
        y = m(xs[i])
        F.cross_entropy(y, ys[i]).backward()
        assert torch.allclose(out[:, i].detach(), y.detach(), atol=1e-6)
        for name, p in m.named_parameters():
            assert torch.allclose(grads[i][name], p.grad, atol=1e-6), name


# ---------------------------------------------------------------- model arguments
def test_defaults_leave_models_unchanged():
    torch.manual_seed(17)
    a = ResidualNet(depths=[1, 1, 1])
    torch.manual_seed(17)
    b = ResidualNet(depths=[1, 1, 1], shrink="soft", firm_ratio=2.0, threshold="mean", act="relu")
    assert list(a.state_dict()) == list(b.state_dict())
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    x = torch.randn(3, 1, 64)
    assert torch.equal(a.eval()(x), b.eval()(x))
    assert a.config["shrink"] == "soft" and a.config["threshold"] == "mean" and a.config["firm_ratio"] == 2.0


@pytest.mark.parametrize(
    "args,match",
    [
        (dict(gate="se", shrink="hard"), "needs a shrinkage gate"),
        (dict(gate=None, shrink="garrote"), "needs a shrinkage gate"),
        (dict(gate=None, threshold="mad"), "needs a shrinkage gate"),
        (dict(gate="cw", firm_ratio=3.0), "only applies to shrink='firm'"),
        (dict(gate="cw", shrink="firm", firm_ratio=1.0), "firm_ratio"),
        (dict(gate="cw", shrink="firm", firm_ratio=2000.0), "firm_ratio"),
        (dict(gate="cw", shrink="medium"), "shrink"),
        (dict(gate="cw", threshold="median"), "threshold"),
        (dict(gate="xy"), "gate"),
        (dict(act="aprelu2"), "act"),
    ],
)
def test_wrong_options_are_config_errors(args, match):
    with pytest.raises(ConfigError, match=match):
        ResidualNet(**args)


def test_argument_checks_cover_the_new_options():
    check_model_args({"shrink": "firm", "firm_ratio": 4.0, "threshold": "mad", "gate": "ew", "act": "aprelu"})
    for bad in ({"shrink": "Hard"}, {"threshold": 1}, {"firm_ratio": 1}, {"firm_ratio": "2"}):
        with pytest.raises(ConfigError, match="model argument"):
            check_model_args(bad, "test")
    with pytest.raises(ConfigError, match="needs a shrinkage gate"):
        check_model_config(dict(ResidualNet(gate="se").config, shrink="hard"), "test")


def test_bad_gate_options_are_one_line_config_errors():
    for kwargs in (dict(mode="pw"), dict(shrink="sof"), dict(threshold="max"), dict(firm_ratio=0.5), dict(firm_ratio=True)):
        with pytest.raises(ConfigError) as err:
            Shrinkage(4, **kwargs)
        assert "\n" not in str(err.value) and str(err.value).startswith("Shrinkage:")


@pytest.mark.parametrize("kind", ["hard", "garrote", "firm"])
def test_variant_unit_forward_backward_and_record(kind):
    block = BasicBlock(4, 8, 2, gate_layer=lambda c: Shrinkage(c, shrink=kind))
    x = torch.randn(4, 4, 32, requires_grad=True)
    with record_thresholds(block) as layers:
        y = block(x)
        rec = layers["gate"].last_record
    assert rec.tau.shape == (4, 8) and rec.tau_map is None
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in block.parameters())
    assert "shrink=" in repr(block.gate)


@pytest.mark.parametrize("length", [7, 8])
def test_mad_sigma_while_exporting_takes_the_same_median(monkeypatch, length):
    """ONNX has no kthvalue: while exporting, the median comes from topk, with the same value and gradient."""
    x = torch.randn(3, 4, length, dtype=torch.float64, requires_grad=True)
    eager = mad_sigma(x)
    (g_eager,) = torch.autograd.grad(eager.sum(), x)
    monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
    exported = mad_sigma(x)
    (g_exported,) = torch.autograd.grad(exported.sum(), x)
    expected = np.median(np.abs(x.detach().numpy()), axis=-1) / 0.6745
    np.testing.assert_allclose(exported.detach().numpy(), expected, rtol=1e-12)
    torch.testing.assert_close(exported, eager)
    torch.testing.assert_close(g_exported, g_eager)
