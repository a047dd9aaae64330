"""The layers of the package only look down, and no import inside a function hides a cycle.

Layers, lowest first (a module may import its own layer and those below it):

    base         errors, checks, settings, figures, fileio, folders, system, seeds, _lazy, _version   (standard library, numpy,
                 torch, filelock, yaml)
    functional   the soft threshold
    layers       Shrinkage, SqueezeExcite, residual units
    models       ResidualNet, the registry, stacked nets, serialization (save/load a model)
    noise        noise at an exact SNR
    data         datasets, formats, the simulator, splits
    predict      a saved model loaded, its outputs for a batch, its decision on a recording
    train        the Trainer, run folders, evaluation of a run
    apps         sklearn estimator, timm/torchvision conversion, export
    study        studies, their report, figures, threshold analysis
    cli          the command line (and the ``python -m`` entry points)
    package      deepshrink/__init__.py (the public names)

The check reads every module with :mod:`ast`, imports inside functions included, so a lazy
import cannot hide an upward one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("deepshrink.errors", "deepshrink.checks", "deepshrink.settings", "deepshrink.figures", "deepshrink.fileio", "deepshrink.folders", "deepshrink.system", "deepshrink.seeds", "deepshrink._lazy",
              "deepshrink._version")),
    ("functional", ("deepshrink.functional",)),
    ("layers", ("deepshrink.layers",)),
    ("models", ("deepshrink.models", "deepshrink.serialization")),
    ("noise", ("deepshrink.noise",)),
    ("data", ("deepshrink.data",)),
    ("predict", ("deepshrink.predict",)),
    ("train", ("deepshrink.train",)),
    ("apps", ("deepshrink.sklearn", "deepshrink.convert", "deepshrink.export")),
    ("study", ("deepshrink.study",)),
    ("cli", ("deepshrink.cli", "deepshrink.__main__", "deepshrink.train.__main__")),  # the -m entry points
    ("package", ("deepshrink",)),
]  # fmt: skip


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the longest matching prefix."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best is None:
        raise AssertionError(f"{module}: in no layer; add it to LAYERS in {__file__}")
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` for each ``deepshrink`` import of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    module_level = set()
    for node in tree.body:  # module level, also inside top-level if/try blocks
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                module_level.add(id(n))
            elif isinstance(n, (ast.If, ast.Try)):
                stack += n.body + n.orelse + getattr(n, "finalbody", []) + [s for h in getattr(n, "handlers", []) for s in h.body]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base]
        else:
            continue
        out += [(n, node.lineno, id(node) in module_level) for n in names if n.split(".")[0] == "deepshrink"]
    return out


def violations(root: Path) -> tuple[list[str], list[str]]:
    """Upward imports, and imports of the package's own modules inside functions."""
    upward, inner = [], []
    for path in sorted(root.rglob("*.py")):
        here = module_name(path, root)
        for target, line, top in imports(path, root):
            where = f"{path.relative_to(root)}:{line}"
            if layer_of(target) > layer_of(here):
                upward.append(f"{where}: {here} ({LAYERS[layer_of(here)][0]}) imports {target} "
                              f"({LAYERS[layer_of(target)][0]})")  # fmt: skip
            if not top:
                inner.append(f"{where}: {here} imports {target} inside a function")
    return upward, inner


def test_layers_only_look_down():
    upward, _ = violations(SRC)
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_of_the_package_inside_a_function():
    _, inner = violations(SRC)
    assert not inner, "function-level imports of deepshrink modules (import at the top):\n" + "\n".join(inner)


def test_the_check_catches_a_deliberate_upward_import(tmp_path):
    """The check can fail: a model importing the study runner, even lazily, is reported."""
    pkg = tmp_path / "deepshrink"
    (pkg / "models").mkdir(parents=True)
    (pkg / "study").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "study" / "__init__.py").write_text("")
    (pkg / "study" / "runner.py").write_text("from deepshrink.models import create_model\n")
    (pkg / "models" / "__init__.py").write_text("from .skeleton import ResidualNet\n")
    (pkg / "models" / "skeleton.py").write_text(
        "import torch\n\ndef build():\n    from deepshrink.study.runner import run_study\n    return run_study\n"
    )
    upward, inner = violations(tmp_path)
    assert upward == ["deepshrink/models/skeleton.py:4: deepshrink.models.skeleton (models) imports "
                      "deepshrink.study.runner (study)"]  # fmt: skip
    assert inner == ["deepshrink/models/skeleton.py:4: deepshrink.models.skeleton imports deepshrink.study.runner "
                     "inside a function"]  # fmt: skip


@pytest.mark.parametrize("module, layer", [("deepshrink.models.stacked", "models"), ("deepshrink.serialization", "models"),
                                           ("deepshrink.study.spec", "study"), ("deepshrink", "package"),
                                           ("deepshrink.data.simulate", "data")])  # fmt: skip
def test_layer_of(module, layer):
    assert LAYERS[layer_of(module)][0] == layer


def private_imports(root: Path) -> list[str]:
    """``from deepshrink.x import _name``: a private name used outside its module."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "deepshrink":
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {node.module}.{alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another():
    found = private_imports(SRC)
    assert not found, "private names imported across modules (make them public where they live):\n" + "\n".join(found)


def test_data_never_imports_models_or_what_is_built_on_them():
    """Loading signals needs no network: the data floor sits beside the models, not on them."""
    banned = ("deepshrink.layers", "deepshrink.functional", "deepshrink.models", "deepshrink.serialization", "deepshrink.export")
    found = [f"{path.relative_to(SRC)}:{line}: imports {target}"
             for path in sorted((SRC / "deepshrink" / "data").rglob("*.py"))
             for target, line, _ in imports(path, SRC) if target.startswith(banned)]  # fmt: skip
    assert not found, "\n".join(found)


def test_the_private_name_check_can_fail(tmp_path):
    pkg = tmp_path / "deepshrink"
    pkg.mkdir()
    (pkg / "a.py").write_text("from deepshrink.b import _helper, public\nfrom deepshrink.c import __version__\n")
    assert private_imports(tmp_path) == ["deepshrink/a.py:1: deepshrink.b._helper"]


def private_module_imports(root: Path) -> list[str]:
    """A ``_module`` imported from outside the package it belongs to (its internals are that package's)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        here = module_name(path, root)
        for target, line, _ in imports(path, root):
            parts = target.split(".")
            for k, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:k])
                    if k > 1 and not (here == owner or here.startswith(owner + ".")):
                        found.append(f"{path.relative_to(root)}:{line}: {here} imports {target}")
                    break
    return found


def test_internal_modules_stay_in_their_package():
    found = private_module_imports(SRC)
    assert not found, "internal (_-prefixed) modules imported from another package:\n" + "\n".join(found)


MAX_CLASS, MAX_MODULE, MAX_FUNCTION = 400, 600, 80
"""Lines of a class, of a module, and of a function outside its docstring: a room read in one sitting."""


def _docstring_lines(node: ast.AST) -> int:
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[0].end_lineno - body[0].lineno + 1
    return 0


def oversized(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(root)
        if len(text.splitlines()) > MAX_MODULE:
            found.append(f"{where}: module of {len(text.splitlines())} lines (at most {MAX_MODULE})")
        for node in ast.walk(ast.parse(text)):
            size = node.end_lineno - node.lineno + 1 if hasattr(node, "end_lineno") else 0
            if isinstance(node, ast.ClassDef) and size > MAX_CLASS:
                found.append(f"{where}:{node.lineno}: class {node.name} of {size} lines (at most {MAX_CLASS})")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and size - _docstring_lines(node) > MAX_FUNCTION:
                found.append(f"{where}:{node.lineno}: function {node.name} of {size - _docstring_lines(node)} lines "
                             f"besides its docstring (at most {MAX_FUNCTION})")  # fmt: skip
    return found


def test_rooms_are_small_enough_to_read_in_one_sitting():
    found = oversized(SRC)
    assert not found, "\n".join(found)


def test_the_size_and_internal_module_checks_can_fail(tmp_path):
    pkg = tmp_path / "deepshrink"
    (pkg / "data").mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION + 1))  # with the def and the return: 83 lines
    (pkg / "data" / "big.py").write_text(f'def f():\n    """Doc."""\n{body}    return 0\n')
    (pkg / "data" / "_inner.py").write_text("A = 1\n")
    (pkg / "data" / "fine.py").write_text("from deepshrink.data._inner import A\n")
    (pkg / "train.py").write_text("from deepshrink.data._inner import A\n")
    assert oversized(tmp_path) == [f"deepshrink/data/big.py:1: function f of {MAX_FUNCTION + 3} lines besides its "
                                   f"docstring (at most {MAX_FUNCTION})"]  # fmt: skip
    assert private_module_imports(tmp_path) == ["deepshrink/train.py:1: deepshrink.train imports deepshrink.data._inner"]
