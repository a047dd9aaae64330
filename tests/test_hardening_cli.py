"""The CLI under bad input and a failing machine (issue 14): one line, exit 2, nothing lost.

Every case must end with status 2, exactly one line on stderr and no traceback, unless it is
valid input that used to be refused. One case of each family, and every full-disk case, runs
the real console script in a subprocess (at most 4 at a time: 2 cores, each mostly importing
torch); the others call ``main()`` in-process, the same code path, to keep the suite fast. A full disk is simulated by an
``os.fsync`` that raises ENOSPC for the files whose path holds a given name (every write of a
file that must survive goes through fsync before its rename).
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_train_support import cli_command, fast_train_args, subprocess_env, write_npz

from deepshrink import create_model
from deepshrink.cli import EXIT_BROKEN_PIPE, main
from deepshrink.train.checkpoint import load_checkpoint
from deepshrink.train.runfolder import read_metrics

# Runs the CLI with os.fsync failing (ENOSPC) on files whose path contains ENOSPC_MATCH,
# after ENOSPC_SKIP such calls have succeeded.
ENOSPC_WRAPPER = textwrap.dedent(
    """
    import errno, os, sys
    pattern, skip = os.environ["ENOSPC_MATCH"], int(os.environ.get("ENOSPC_SKIP", "0"))
    real_fsync, seen = os.fsync, [0]
    def fsync(fd):
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            name = ""
        if pattern in os.path.basename(name):
            seen[0] += 1
            if seen[0] > skip:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)
    os.fsync = fsync
    from deepshrink.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the ENOSPC wrapper finds paths in /proc")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    data = write_npz(root / "data.npz")
    run = root / "run"
    assert main([str(a) for a in fast_train_args(data, run, epochs=2, batch_size=16)] + ["--progress", "off"]) == 0
    saved = root / "saved"
    create_model("resnet_paper6", num_classes=3).save_pretrained(str(saved), label_names=["a", "b", "c"])
    (root / "wrapper.py").write_text(ENOSPC_WRAPPER)
    return root, data, run, saved


def _run_all(cases: dict, cwd) -> dict:
    """Run ``{name: (argv, extra_env)}`` as subprocesses, 4 at a time; ``{name: (code, out, err)}``."""
    env = subprocess_env()
    pending, procs, results = list(cases.items()), {}, {}
    try:
        while pending or procs:
            while pending and len(procs) < 4:
                name, (argv, extra) = pending.pop(0)
                command = [sys.executable, str(cwd / "wrapper.py")] if "ENOSPC_MATCH" in extra else cli_command()
                procs[name] = subprocess.Popen(command + [str(a) for a in argv], stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True, env={**env, **extra}, cwd=cwd)  # fmt: skip
            name = next(iter(procs))
            out, err = procs[name].communicate(timeout=180)
            results[name] = (procs.pop(name).returncode, out, err)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.communicate()
    return results


SUBPROCESS_CASES = (
    "model-arg not a number", "snr 1e9", "yaml duplicate key", "set lr=1e-3", "tampered checkpoint",
    "full disk: train", "full disk: predict",
)  # fmt: skip


def _run_in_process(cases: dict) -> dict:
    """``{name: argv}`` through ``main()`` in this process; ``{name: (code, out, err)}``."""
    import contextlib
    import io

    results = {}
    for name, argv in cases.items():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
        results[name] = (code, out.getvalue(), err.getvalue())
    return results


def _one_line_failures(cases: dict, results: dict) -> list[str]:
    failures = []
    for name, expected in cases.items():
        code, out, err = results[name]
        lines = err.strip().splitlines()
        if code != 2 or len(lines) != 1 or "Traceback" in err or expected not in err:
            failures.append(f"{name}: exit {code}, stderr {err.strip()[-500:]!r}")
    return failures


def test_bad_input_and_a_full_disk_give_one_line_and_exit_2(workspace):
    root, data, run, saved = workspace
    (root / "dup.yaml").write_text("epochs: 3\nnoise: none\nepochs: 4\n")
    (root / "lr.yaml").write_text("lr: 1e-3\nnoise: none\n")
    (root / "report.txt").write_text("not a folder\n")
    (root / "predictions.csv").write_text("previous predictions\n")
    tampered = root / "tampered"
    shutil.copytree(run, tampered)
    (tampered / "last.ckpt").write_bytes(pickle.dumps({"format": "deepshrink.checkpoint", "x": np.int64(1)}, protocol=4))
    base = [str(a) for a in fast_train_args(data, root / "full", epochs=3, batch_size=16)] + ["--progress", "off"]
    bad = {  # name: (argv, extra env, expected text on stderr)
        # values that reached torch unchecked
        "model-arg not a number": (["train", "--model-arg", "drop_rate=abc", "--print-config"], {}, "'drop_rate' must be a finite number"),
        "model-arg out of range": (["train", "--model-arg", "drop_rate=5", "--print-config"], {}, "'drop_rate' must be a number in [0, 1)"),
        "model-arg in_channels": (["train", "--model-arg", "in_channels=3", "--print-config"], {}, "must not set in_channels"),
        "model-arg stages": (["train", "--model-arg", "widths=[4, 8]", "--print-config"], {}, "one entry per stage"),
        "data-arg unknown": (["train", "--data", "simulator", "--data-arg", "windw=512", "--epochs", "1", "--output", root / "never"],
                             {}, "the simulator has no argument 'windw'; did you mean window?"),  # fmt: skip
        "models bad length": (["models", "--summary", "drsn_cw_paper", "--length", "-1"], {}, "--length must be in [1,"),
        # nonsense that used to be accepted
        "snr 1e9": (["train", "--snr", "1e9", "--print-config"], {}, "outside [-200, 200] dB"),
        "snr -1e9": (["train", "--snr=-1e9", "--print-config"], {}, "outside [-200, 200] dB"),
        "evaluate snr": (["evaluate", run, "--snr=-1e9"], {}, "outside [-200, 200] dB"),
        "thresholds snr": (["thresholds", run, "--snr=-1e9,0"], {}, "outside [-200, 200] dB"),
        "benchmark snr": (["benchmark", "--snr=1e9", "--dry-run"], {}, "outside [-200, 200] dB"),
        "evaluate batch 0": (["evaluate", run, "--batch-size", "0"], {}, "--batch-size must be >= 1"),
        "evaluate data-arg alone": (["evaluate", run, "--data-arg", "window=64"], {}, "--data-arg applies to --data"),
        "snr without noise": (["train", "--noise", "none", "--snr", "5", "--print-config"], {}, "--snr needs a noise kind"),
        "resume with output": (["train", "--resume", run, "--output", root / "elsewhere"], {}, "--output cannot be combined"),
        "thresholds max-signals": (["thresholds", run, "--max-signals", "-5"], {}, "--max-signals must be >= 0"),
        "export huge length": (["export", saved, "--length", "1000000000"], {}, "too large to export for"),
        "export opset for torchscript": (["export", saved, "--format", "torchscript", "--opset", "13"], {}, "opset applies to ONNX only"),
        "evaluate bad device": (["evaluate", run, "--device", "potato"], {}, "--device: 'potato' is not a device"),
        "num-threads huge": (["train", "--threads", "99999999999", "--print-config"], {}, "'num_threads' must be in [1, 4096]"),
        "evaluate output is a file": (["evaluate", run, "--output", root / "report.txt"], {}, "report.txt is an existing file"),
        "yaml duplicate key": (["train", "--config", root / "dup.yaml", "--print-config"], {}, "dup.yaml: not valid YAML (line 3: duplicate key 'epochs'"),
        "opset 999": (["export", saved, "--opset", "999"], {}, "opset 999 is not one this onnx can write"),
        # the right path named, no warning before the error
        "tampered checkpoint": (["train", "--resume", tampered], {}, "refused to load"),
        # the machine failing under us
        "full disk: train": (base, {"ENOSPC_MATCH": "last.ckpt", "ENOSPC_SKIP": "1"}, "last.ckpt: No space left on device"),
        "full disk: predict": (["predict", run, data, "--output", root / "predictions.csv"],
                               {"ENOSPC_MATCH": "predictions.csv"}, "predictions.csv: No space left on device"),  # fmt: skip
    }
    good = {  # valid input that used to be refused: exit 0, text on stdout
        "lr 1e-3 in yaml": (["train", "--config", root / "lr.yaml", "--print-config"], {}, "lr: 0.001"),
        "set lr=1e-3": (["train", "--set", "lr=1e-3", "--noise", "none", "--print-config"], {}, "lr: 0.001"),
    }
    in_subprocess = {k: v[:2] for k, v in {**bad, **good}.items() if k in SUBPROCESS_CASES}
    assert len(in_subprocess) == len(SUBPROCESS_CASES)
    results = _run_all(in_subprocess, root)
    results.update(_run_in_process({k: v[0] for k, v in {**bad, **good}.items() if k not in SUBPROCESS_CASES}))
    failures = _one_line_failures({k: v[2] for k, v in bad.items()}, results)
    for name, (_, _, expected) in good.items():
        code, out, err = results[name]
        if code != 0 or expected not in out or err.strip():
            failures.append(f"{name}: exit {code}, stdout {out[-200:]!r}, stderr {err[-300:]!r}")
    assert not failures, "\n".join(failures)
    assert ".tmp" not in results["full disk: train"][2]  # the user's path, not the hidden temporary file

    # nothing already written was lost: the first checkpoint of the full-disk run still loads,
    # no temporary file is left as if complete, the previous predictions are intact
    full = root / "full"
    assert load_checkpoint(full / "last.ckpt")["epoch"] == 1
    assert not [p for p in os.listdir(full) if p.endswith(".tmp")]
    assert (root / "predictions.csv").read_text() == "previous predictions\n"
    assert not (root / "never").exists() and not (root / "elsewhere").exists()
    assert load_checkpoint(tampered.parent / "run" / "last.ckpt")["epoch"] == 2

    # --resume on the full disk: the same one line, the checkpoint untouched; then space again
    before = (full / "last.ckpt").read_bytes()
    resume = {"full disk: resume": (["train", "--resume", full], {"ENOSPC_MATCH": "last.ckpt"})}
    results = _run_all(resume, root)
    assert not _one_line_failures({"full disk: resume": "last.ckpt: No space left on device"}, results)
    assert (full / "last.ckpt").read_bytes() == before
    assert main(["train", "--resume", str(full), "--progress", "off"]) == 0
    assert [row["epoch"] for row in read_metrics(full)] == [1, 2, 3]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_closed_pipe_ends_quietly(workspace):
    root = workspace[0]
    proc = subprocess.Popen(cli_command() + ["models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=subprocess_env(), cwd=root)  # fmt: skip
    proc.stdout.close()  # like `deepshrink models | head -0`: nobody reads
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == EXIT_BROKEN_PIPE and err == b""


def test_any_os_error_is_one_line_naming_the_path(workspace, monkeypatch, capsys):
    import errno

    root, data, run, saved = workspace

    def refuse(path, data):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr("deepshrink.train.evaluation.atomic_write", refuse)  # where predict writes its CSV
    code = main(["predict", str(run), str(data), "--output", str(root / "denied.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines() == [f"error: {root / 'denied.csv'}: Permission denied"]
    assert not (root / "denied.csv").exists()


def test_torchscript_export_warns_nothing(workspace, tmp_path):
    import warnings

    from deepshrink.export import export_model
    from deepshrink.serialization import from_pretrained

    model = from_pretrained(workspace[3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_model(model, tmp_path / "m.pt", format="torchscript", length=256)
    assert [str(w.message) for w in caught] == []


def _settings_text():
    import dataclasses

    from hypothesis import strategies as st

    from deepshrink.train.config import TrainConfig

    keys = st.sampled_from([f.name for f in dataclasses.fields(TrainConfig)] + ["epoch", "snr_db", "model_args.x"])
    values = st.one_of(st.text(max_size=12), st.sampled_from(["1e-3", "-1e9", "[1, 2]", "{a: 1}", "&a [*a]", "null",
                                                              "nan", ".inf", "0x10", "'5'", "yes", "{drop_rate: abc}"]))  # fmt: skip
    return st.lists(st.tuples(keys, values), min_size=1, max_size=3)


def test_property_any_set_override_is_accepted_or_one_line_exit_2(capsys):
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(pairs=_settings_text())
    def check(pairs):
        argv = ["train", "--print-config"] + [a for k, v in pairs for a in ("--set", f"{k}={v}")]
        code = main(argv)
        captured = capsys.readouterr()
        if code == 0:
            assert captured.err == "" and "model:" in captured.out
        else:
            assert code == 2 and len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("error: ")

    check()


@pytest.mark.parametrize(
    "error",
    [MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                                 "you tried to allocate 800000000000 bytes."),
     RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")],
)  # fmt: skip
def test_exhausted_memory_is_one_line(monkeypatch, capsys, error):
    import deepshrink.cli.models as models_cli

    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(models_cli, "model_summary", explode)
    assert main(["models", "--summary", "drsn_cw_paper"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: out of memory")


def test_other_runtime_errors_are_not_hidden(monkeypatch):
    import deepshrink.cli.models as models_cli

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(models_cli, "model_summary", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["models", "--summary", "drsn_cw_paper"])


def test_output_to_a_full_disk_is_one_line(monkeypatch, capsys):
    import errno
    import io

    class FullDisk(io.TextIOBase):  # stdout redirected to a file on a full disk (like > /dev/full)
        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: cannot write the output: No space left on device"]


def test_benchmark_bad_counts_and_study_files_are_one_line(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: x\nmodels: [resnet_paper6]\nmodels: [drsn_cw_paper6]\n")
    big = tmp_path / "big.yaml"
    big.write_text("name: y\nmodels: [resnet_paper6]\nnoises: [gaussian]\nsnrs: [1e9]\n")
    out = tmp_path / "study"
    cases = {
        "max-runs -1": (["benchmark", "quick", "--max-runs", "-1", "-o", out], "--max-runs: must be in [1,"),
        "folds huge": (["benchmark", "quick", "--folds", "99999999999999999999", "-o", out], "--folds: must be in [0, 1000]"),
        "jobs 0": (["benchmark", "quick", "--jobs", "0", "-o", out], "--jobs/-j: must be in [1,"),
        "study duplicate key": (["benchmark", str(dup), "-o", out], "duplicate key 'models'"),
        "study snr 1e9": (["benchmark", str(big), "-o", out], "outside [-200, 200] dB"),
    }
    results = _run_in_process({name: argv for name, (argv, _) in cases.items()})
    for name, (_, needle) in cases.items():
        code, _, err = results[name]
        assert code == 2, name
        assert len(err.strip().splitlines()) == 1 and needle in err, (name, err)
    assert not out.exists()  # nothing was started
