"""Stacked training: S networks as one grouped network give exactly S separate networks."""

import pytest
import torch

from deepshrink import create_model
from deepshrink.errors import ConfigError
from deepshrink.models.stacked import stack_inputs, stack_models, stacked_cross_entropy, unstack_model


def _separate_step(models, xs, ys, lr=0.05):
    outs, grads = [], []
    for model, x, y in zip(models, xs, ys):
        model.zero_grad()
        out = model(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        outs.append(out.detach())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    return outs, grads


@pytest.mark.parametrize("name", ["drsn_cw_paper6", "drsn_cs_paper6", "se_resnet_paper6", "resnet_paper6", "convnet_paper6"])
@pytest.mark.parametrize("training", [True, False])
def test_stacked_forward_and_gradients_equal_separate_models(name, training):
    torch.manual_seed(0)
    models = [create_model(name, in_channels=2, num_classes=5).double().train(training) for _ in range(3)]
    xs = [torch.randn(6, 2, 128, dtype=torch.float64) for _ in models]
    ys = [torch.randint(0, 5, (6,)) for _ in models]
    stacked = stack_models(models)
    assert stacked.stack == 3 and sum(p.numel() for p in stacked.parameters()) == 3 * models[0].num_parameters()
    out = stacked(stack_inputs(xs))
    assert out.shape == (6, 3, 5)
    stacked_cross_entropy(out, torch.stack(ys, 1)).backward()
    sep_out, sep_grads = _separate_step(models, xs, ys)
    for i in range(3):
        assert torch.allclose(out[:, i].detach(), sep_out[i], atol=1e-10)
    stacked_grads = unstack_grads(stacked)
    for i in range(3):
        for key, g in sep_grads[i].items():
            assert torch.allclose(stacked_grads[i][key], g, atol=1e-10), key


def unstack_grads(stacked):
    """Per-slice gradients, by unstacking a copy whose parameters hold the gradients."""
    holder = stack_models(unstack_model(stacked))
    with torch.no_grad():
        for p, q in zip(holder.parameters(), stacked.parameters()):
            p.copy_(q.grad)
    return [dict(m.named_parameters()) for m in unstack_model(holder)]


def test_stack_unstack_round_trip_and_training_steps_match():
    torch.manual_seed(1)
    models = [create_model("drsn_cw_paper6", num_classes=4).double() for _ in range(2)]
    copies = unstack_model(stack_models(models))
    for a, b in zip(models, copies):
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    # three SGD steps with momentum and weight decay: stacked == separate
    stacked = stack_models(models)
    opt_s = torch.optim.SGD(stacked.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4) for m in models]
    for step in range(3):
        xs = [torch.randn(8, 1, 128, dtype=torch.float64) for _ in models]
        ys = [torch.randint(0, 4, (8,)) for _ in models]
        opt_s.zero_grad()
        stacked_cross_entropy(stacked(stack_inputs(xs)), torch.stack(ys, 1)).backward()
        opt_s.step()
        for m, o, x, y in zip(models, opts, xs, ys):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    for a, b in zip(models, unstack_model(stacked)):
        for k, v in a.state_dict().items():
            assert torch.allclose(v.double(), b.state_dict()[k].double(), atol=1e-9), k


def test_stacked_2d_and_conv_shortcut():
    torch.manual_seed(2)
    models = [create_model("drsn_cw20_2d", in_channels=1, num_classes=3, shortcut="conv").eval() for _ in range(2)]
    xs = [torch.randn(2, 1, 12, 12) for _ in models]
    out = stack_models(models).eval()(stack_inputs(xs))
    for i, m in enumerate(models):
        assert torch.allclose(out[:, i], m(xs[i]), atol=1e-5)


def test_stacking_different_models_is_refused():
    with pytest.raises(ConfigError, match="different configuration"):
        stack_models([create_model("drsn_cw_paper"), create_model("drsn_cs_paper")])
