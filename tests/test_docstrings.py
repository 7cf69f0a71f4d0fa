"""Every public name has a numpydoc docstring with a runnable Examples section."""

import importlib
import inspect

import pytest

PUBLIC_MODULES = ["skqat", "skqat.runtime", "skqat.datasets", "skqat.model_selection",
                  "skqat.preprocessing", "skqat.plotting"]


def _public_objects():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize("name,obj", list(_public_objects()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_name_has_examples(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert "\nExamples\n--------\n" in doc, f"{name} has no Examples section"
    examples = doc.split("\nExamples\n--------\n", 1)[1]
    assert ">>> " in examples, f"{name}'s Examples section has no doctest"
    assert "+SKIP" not in examples, f"{name}'s example is skipped: make it run"
