"""export_model and `deepshrink export`: ONNX (checked in onnxruntime) and TorchScript round trips.

ONNX export through torch.export takes ~10-20 s a model on 2 cores, so each model is exported
once (the 1-D one through the API, the 2-D one through the CLI) and checked several ways.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
import torch

from deepshrink import create_model, from_pretrained, save_pretrained
from deepshrink.cli import main
from deepshrink.export import ExportError, default_example_input, export_model

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")


def trained_like(name: str, length: int | None = None, **kwargs) -> torch.nn.Module:
    """A model whose BN statistics are not the defaults (one train-mode pass), in eval mode."""
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    x = default_example_input(model, length, batch_size=4) * 3 + 0.5
    with torch.no_grad():
        model.train()(x)
    return model.eval()


def run_onnx(path, x: torch.Tensor):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def input_dims(path) -> list:
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


@pytest.fixture(scope="module")
def onnx_1d(tmp_path_factory):
    model = trained_like("drsn_cw_paper", num_classes=8)
    path = tmp_path_factory.mktemp("onnx1d") / "paper.onnx"
    result = export_model(model, path, format="onnx")  # example input of batch 2
    return model, result


def test_onnx_1d_matches_pytorch_for_other_batch_sizes(onnx_1d):
    model, result = onnx_1d
    assert result.path.is_file() and result.input_shape == (2, 1, 2048)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    assert input_dims(result.path) == ["batch", 1, 2048]
    for batch in (1, 5):
        x = torch.randn(batch, 1, 2048)
        with torch.no_grad():
            expected = model(x)
        torch.testing.assert_close(run_onnx(result.path, x), expected, rtol=0, atol=1e-4)


def test_onnx_keeps_the_config_as_metadata(onnx_1d):
    _, result = onnx_1d
    meta = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    config = json.loads(meta["deepshrink.config"])
    assert config["model_name"] == "drsn_cw_paper" and config["model_args"]["gate"] == "cw"


def test_cli_exports_a_2d_saved_folder_to_onnx(tmp_path, capsys):
    model = trained_like("drsn_cw20_2d", 24, in_channels=3, num_classes=10)
    save_pretrained(model, tmp_path, label_names=[f"c{i}" for i in range(10)], input_spec={"length": 24})
    assert main(["export", str(tmp_path), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "model.onnx"
    assert f"wrote {path}" in out and "onnxruntime" in out and "(batch, 3, 24, 24)" in out
    assert input_dims(path) == ["batch", 3, 24, 24]  # the length of the saved input spec
    loaded = from_pretrained(tmp_path)
    for batch in (1, 4):
        x = torch.randn(batch, 3, 24, 24)
        with torch.no_grad():
            expected = loaded(x)
        torch.testing.assert_close(run_onnx(path, x), expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("drsn_cs_paper6", dict(num_classes=8), (1, 2048)),
        ("drsn_cw20_2d", dict(in_channels=3, num_classes=10), (3, 16, 16)),
    ],
)
def test_torchscript_round_trip(tmp_path, name, kwargs, shape):
    model = trained_like(name, shape[-1], **kwargs)
    path = tmp_path / "model.torchscript.pt"
    result = export_model(model, path, format="torchscript", length=shape[-1])
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        extra = {"config.json": ""}
        loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["config.json"])["model_name"] == name
    for batch in (1, 3):
        x = torch.randn(batch, *shape)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=1e-5)
    assert not model.training  # the model is left in its mode


def test_export_restores_training_mode_and_cli_options(tmp_path, capsys):
    model = create_model("drsn_cs_paper6").train()
    export_model(model, tmp_path / "a.pt", format="torchscript", length=512)
    assert model.training
    save_pretrained(model, tmp_path / "run", input_spec={"length": 1024, "normalize": "per_sample"})
    out_file = tmp_path / "exported.pt"
    argv = ["export", str(tmp_path / "run"), "--format", "torchscript", "--output", str(out_file), "--length", "256"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "(batch, 1, 256)" in out and "torch.jit.load" in out and "per_sample" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert torch.jit.load(str(out_file))(torch.randn(3, 1, 256)).shape == (3, 8)


def test_export_model_errors(tmp_path):
    model = create_model("drsn_cw_paper6")
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        export_model(model, tmp_path / "m", format="tflite")
    with pytest.raises(ExportError, match="does not exist"):
        export_model(model, tmp_path / "missing" / "m.onnx")
    with pytest.raises(ExportError, match="is a folder"):
        export_model(model, tmp_path, format="torchscript")
    with pytest.raises(ExportError, match="pass example_input"):
        export_model(torch.nn.Linear(3, 2), tmp_path / "m.pt", format="torchscript")
    with pytest.raises(ExportError, match="positive integer"):
        export_model(model, tmp_path / "m.pt", format="torchscript", length=0)
    result = export_model(
        torch.nn.Linear(3, 2), tmp_path / "m.pt", format="torchscript", example_input=torch.randn(2, 3)
    )
    assert result.input_shape == (2, 3)


class Noisy(torch.nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)


def test_export_check_catches_a_mismatch_and_removes_the_file(tmp_path):
    path = tmp_path / "noisy.pt"
    with pytest.raises(ExportError, match="differs from PyTorch"):
        export_model(Noisy(), path, format="torchscript", example_input=torch.zeros(2, 3))
    assert not path.exists()
    export_model(Noisy(), path, format="torchscript", example_input=torch.zeros(2, 3), check=False)
    assert path.is_file()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from deepshrink.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "{tmp}/no-such-run"], "no-such-run: no such folder"),
        (["export", "{tmp}", "--format", "tflite"], "invalid choice: 'tflite'"),
    ],
    ids=["missing-folder", "unknown-format"],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    proc = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("name", ["wdcnn", "fcn", "fawaz_resnet", "inception_time", "drsn_cw_garrote_paper6",
                                  "drsn_cw_mad_paper6", "drsn_ew_paper6", "aprelu_resnet_paper6"])
def test_onnx_of_the_arena_models_matches_pytorch(tmp_path, name):
    length = 1024 if name == "wdcnn" else 96
    model = trained_like(name, length, num_classes=3, **({"input_length": length} if name == "wdcnn" else {}))
    result = export_model(model, tmp_path / f"{name}.onnx", format="onnx", length=length)
    x = default_example_input(model, length, batch_size=5)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(run_onnx(result.path, x), expected, rtol=1e-4, atol=1e-4)
