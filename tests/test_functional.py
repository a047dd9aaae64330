"""soft_threshold and abs_mean: values, gradients and the memory they keep for backward."""

import pytest
import torch

from deepshrink.functional import abs_mean, soft_threshold, soft_threshold_reference


def piecewise(x, tau):
    """The paper's three-case definition, written independently with torch.where."""
    return torch.where(x > tau, x - tau, torch.where(x < -tau, x + tau, torch.zeros_like(x)))


@pytest.mark.parametrize("tau_shape", [(), (6, 1, 1), (6, 3, 1), (6, 3, 17)])
def test_values_match_piecewise_and_sign_max(tau_shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 17, generator=g)
    tau = torch.rand(tau_shape, generator=g) * 1.5
    x[0, 0, :3] = tau.flatten()[0]  # exactly on the edge of the dead zone
    x[0, 0, 3:6] = -tau.flatten()[0]
    y = soft_threshold(x, tau)
    assert torch.equal(y, piecewise(x, tau))
    assert torch.equal(y, torch.sign(x) * torch.clamp(x.abs() - tau, min=0))
    assert torch.equal(y[0, 0, :6], torch.zeros(6))


def test_scalar_threshold_and_no_grad_path_agree():
    x = torch.randn(4, 2, 9)
    with torch.no_grad():
        y0 = soft_threshold(x, 0.3)
    y1 = soft_threshold(x.requires_grad_(), torch.tensor(0.3))
    assert torch.equal(y0, y1.detach())


def _away_from_kinks(x, tau, margin=1e-2):
    """Move entries of x that sit near ±tau, where finite differences straddle a kink."""
    near = (x.abs() - tau).abs() < margin
    return torch.where(near, x + 4 * margin * torch.sign(x + 1e-12), x)


@pytest.mark.parametrize("tau_shape", [(5, 1, 1), (5, 4, 1)])
def test_gradcheck_float64_reaches_x_and_tau(tau_shape):
    g = torch.Generator().manual_seed(1)
    tau = (torch.rand(tau_shape, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    x = _away_from_kinks(torch.randn(5, 4, 11, generator=g, dtype=torch.float64), tau.detach())
    x.requires_grad_()
    assert torch.autograd.gradcheck(soft_threshold, (x, tau))


def test_gradients_equal_autograd_of_the_formula():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 3, 33, generator=g, requires_grad=True)
    tau = (torch.rand(8, 3, 1, generator=g) * 0.7).requires_grad_()
    w = torch.randn(8, 3, 33, generator=g)
    gx, gt = torch.autograd.grad((soft_threshold(x, tau) * w).sum(), (x, tau))
    rx, rt = torch.autograd.grad((soft_threshold_reference(x, tau) * w).sum(), (x, tau))
    assert torch.allclose(gx, rx) and torch.allclose(gt, rt, atol=1e-5)
    # dy/dtau = -sign(x) outside the dead zone: checked by hand for one entry
    mask = x.detach().abs() > tau.detach()
    assert torch.allclose(gt[0, 0, 0], -(w[0, 0] * torch.sign(x.detach()[0, 0]) * mask[0, 0]).sum(), atol=1e-5)


def test_abs_mean_value_and_gradcheck():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 4, 5, 6, generator=g, dtype=torch.float64)
    x = torch.where(x.abs() < 1e-2, x + 0.05, x).requires_grad_()
    assert torch.allclose(abs_mean(x), x.detach().abs().mean(dim=(2, 3)))
    assert torch.autograd.gradcheck(abs_mean, (x,))


def _saved_bytes(fn, *inputs):
    """Bytes autograd keeps for the backward pass of fn(*inputs) (excluding the inputs' own storage)."""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    input_ptrs = {i.data_ptr() for i in inputs}
    return sum(t.numel() * t.element_size() for t in saved if t.data_ptr() not in input_ptrs)


def test_backward_keeps_one_byte_per_element():
    x = torch.randn(16, 8, 256, requires_grad=True)
    tau = torch.rand(16, 8, 1, requires_grad=True)
    lean = _saved_bytes(soft_threshold, x, tau)
    naive = _saved_bytes(soft_threshold_reference, x, tau)
    assert lean <= x.numel()  # one int8 per element
    assert naive >= 2 * 4 * x.numel()  # the formula keeps at least two float tensors
    assert _saved_bytes(abs_mean, x) <= x.numel()


def test_shrink_add_equals_threshold_plus_residual_with_gradients():
    from deepshrink.functional import shrink_add

    g = torch.Generator().manual_seed(4)
    tau = (torch.rand(4, 3, 1, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    x = _away_from_kinks(torch.randn(4, 3, 13, generator=g, dtype=torch.float64), tau.detach()).requires_grad_()
    r = torch.randn(4, 3, 13, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.equal(shrink_add(x, tau, r), soft_threshold_reference(x, tau) + r)
    assert torch.autograd.gradcheck(shrink_add, (x, tau, r))
    with torch.no_grad():
        assert torch.equal(shrink_add(x, tau, r), soft_threshold_reference(x, tau) + r)
    xf, tf, rf = (t.detach().float().requires_grad_() for t in (x, tau, r))
    assert _saved_bytes(shrink_add, xf, tf, rf) <= xf.numel()
