"""Our paper networks against the naive port of benchmarks/training_quality.py (an independent reference).

The port is plain ``nn.Conv1d`` / ``nn.BatchNorm1d`` / ``nn.Linear`` with PyTorch's defaults and
``sign(x) * max(|x| - tau, 0)`` written out, sharing no code with deepshrink's layers. With the
default initialisation and the same seed, both draw the same weights, so forward and backward
must agree exactly; if the default initialisation changes, the weights differ and this fails.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

import deepshrink

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "training_quality.py"
_spec = importlib.util.spec_from_file_location("training_quality", _PATH)
tq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tq)


@pytest.mark.parametrize("family,gate", [("resnet", None), ("drsn_cs", "cs"), ("drsn_cw", "cw")])
@pytest.mark.parametrize("depth,suffix", [(4, "paper"), (2, "paper6")])
def test_default_model_equals_the_naive_port(family, gate, depth, suffix):
    torch.manual_seed(7)
    naive = tq.NaiveNet(2, 5, gate, depth).double()
    torch.manual_seed(7)
    ours = deepshrink.create_model(f"{family}_{suffix}", in_channels=2, num_classes=5).double()
    pn, po = list(naive.parameters()), list(ours.parameters())
    assert [p.shape for p in pn] == [p.shape for p in po]
    assert all(torch.equal(a, b) for a, b in zip(pn, po)), "default initialisation differs from PyTorch's"
    x = torch.randn(6, 2, 300, dtype=torch.float64)
    target = torch.randint(0, 5, (6,))
    for model in (naive, ours):
        torch.nn.functional.cross_entropy(model(x), target).backward()
    torch.testing.assert_close(ours(x), naive(x), rtol=1e-12, atol=1e-12)
    for a, b in zip(pn, po):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-10, atol=1e-12)


def test_he_normal_option_differs_from_the_naive_port():
    torch.manual_seed(7)
    naive = tq.NaiveNet(1, 2, "cw", 4)
    torch.manual_seed(7)
    ours = deepshrink.create_model("drsn_cw_paper", in_channels=1, num_classes=2, init="he_normal")
    conv_n = [m.weight for m in naive.modules() if isinstance(m, torch.nn.Conv1d)]
    conv_o = [m.weight for m in ours.modules() if isinstance(m, torch.nn.Conv1d)]
    ratio = torch.stack([o.std() / n.std() for n, o in zip(conv_n, conv_o)]).median()
    assert ratio.item() == pytest.approx(6**0.5, rel=0.15)  # sqrt(2/fan_in) against 1/sqrt(3 fan_in)
