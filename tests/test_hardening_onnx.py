"""ONNX export with grad mode on, both exporters, checked against onnxruntime (issue 14).

``torch.onnx.export(model, x, f, dynamo=False)`` is the default exporter of torch 2.4-2.8; it
traces, and could not record the custom autograd Functions of the shrinkage layers ("Couldn't
export operator aten::neg"). They now step aside while a graph is traced or exported.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from deepshrink import create_model, soft_threshold
from deepshrink.export import ExportError, export_model

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FAMILIES = ("convnet_paper6", "resnet_paper6", "se_resnet_paper6", "drsn_cs_paper6", "drsn_cw_paper6")
LENGTH = 512  # the paper's presets take any length; a shorter one keeps the test fast


def _trained_like(name: str) -> torch.nn.Module:
    """A model with non-trivial BatchNorm statistics (as after training), in eval mode."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=5)
    with torch.no_grad():
        model.train()
        for _ in range(2):
            model(torch.randn(8, 1, LENGTH))
    return model.eval()


def _run_onnx(source, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


@pytest.mark.parametrize("name", FAMILIES)
def test_torch_onnx_export_with_grad_mode_on_matches_eager(tmp_path, name):
    model = _trained_like(name)
    assert torch.is_grad_enabled()
    x = torch.randn(2, 1, LENGTH)
    check = torch.randn(3, 1, LENGTH)  # another batch size than the example: the batch dim is dynamic
    with torch.no_grad():
        expected = model(check).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' own deprecation notes
        legacy = tmp_path / "legacy.onnx"
        torch.onnx.export(model, (x,), str(legacy), dynamo=False, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})  # fmt: skip
        program = torch.onnx.export(model, (x,), None, dynamo=True, input_names=["input"], output_names=["output"],
                                    dynamic_shapes=({0: torch.export.Dim("batch")},))  # fmt: skip
    dynamo = tmp_path / "dynamo.onnx"
    program.save(str(dynamo))
    for path in (legacy, dynamo):
        np.testing.assert_allclose(_run_onnx(str(path), check), expected, rtol=1e-4, atol=1e-5, err_msg=str(path))
    # the eager model still trains through the memory-lean autograd nodes afterwards
    model.train()
    out = model(torch.randn(4, 1, LENGTH, requires_grad=True))
    assert out.grad_fn is not None
    out.sum().backward()


def test_soft_threshold_steps_aside_only_while_tracing():
    x = torch.randn(4, 3, 16, requires_grad=True)
    tau = torch.rand(4, 3, 1, requires_grad=True)
    assert "SoftThreshold" in type(soft_threshold(x, tau).grad_fn).__name__  # eager: the lean node

    def traced(a, b):
        y = soft_threshold(a, b)
        assert "SoftThreshold" not in type(y.grad_fn).__name__ if y.grad_fn is not None else True
        return y

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = torch.jit.trace(traced, (x, tau), check_trace=False)
    torch.testing.assert_close(fn(x, tau), soft_threshold(x, tau))


def test_export_model_opsets(tmp_path):
    model = create_model("drsn_cs_paper6", num_classes=3)
    result = export_model(model, tmp_path / "m13.onnx", opset=13, length=256)  # below 18: TorchScript exporter
    import onnx

    proto = onnx.load(str(result.path))
    assert [op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")] == [13]
    assert any(p.key == "deepshrink.config" for p in proto.metadata_props)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    for bad, phrase in ((999, "opset 999 is not one this onnx can write"), (0, "opset 0"), ("18", "must be an integer")):
        with pytest.raises(ExportError, match=phrase):
            export_model(model, tmp_path / "bad.onnx", opset=bad, length=256)
    assert not (tmp_path / "bad.onnx").exists()
