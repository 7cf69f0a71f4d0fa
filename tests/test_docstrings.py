"""Every public name has a numpydoc docstring with a runnable Examples section."""

import ast
import importlib
import inspect

import pytest

PUBLIC_MODULES = ["skqat", "skqat.runtime", "skqat.datasets", "skqat.model_selection",
                  "skqat.preprocessing", "skqat.plotting", "skqat.onnx"]


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


def _parameter_docs(cls):
    """Each documented parameter's block (its line and description) in ``cls``'s docstring."""
    section = inspect.getdoc(cls).split("Parameters\n----------\n", 1)[1]
    section = section.split("\n\nAttributes\n", 1)[0]
    blocks, name = {}, None
    for line in section.splitlines():
        if line and not line.startswith(" "):
            name = line.split(" : ")[0]
            blocks[name] = []
        blocks[name].append(line)
    return {k: "\n".join(v).strip() for k, v in blocks.items()}


# Shared parameters whose description names the task (MLPClassifier or
# MLPRegressor, accuracy or R2).
_TASK_WORDED = {"tol", "early_stopping"}


def test_shared_parameters_read_the_same_in_both_estimators():
    from skqat import NMPQATClassifier, NMPQATRegressor
    docs = [_parameter_docs(c) for c in (NMPQATClassifier, NMPQATRegressor)]
    signatures = [inspect.signature(c).parameters for c in (NMPQATClassifier, NMPQATRegressor)]
    for doc, sig in zip(docs, signatures):
        assert list(doc) == list(sig), "document every parameter, in signature order"
    assert list(signatures[0]) == list(signatures[1])
    for name in signatures[0]:
        assert signatures[0][name].default == signatures[1][name].default, name
        if name not in _TASK_WORDED:
            assert docs[0][name] == docs[1][name], name
        # The documented default is the signature's.
        documented = docs[0][name].splitlines()[0].split("default=", 1)[1]
        assert ast.literal_eval(documented) == signatures[0][name].default, name
