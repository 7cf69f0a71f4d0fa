"""skqat: neuron-level mixed-precision quantization-aware training for scikit-learn.

The top-level names load lazily (PEP 562): ``import skqat.runtime`` and
``skqat.runtime.load(path).predict(X)`` need numpy alone, while
``skqat.NMPQATClassifier`` brings in torch and scikit-learn when first used.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "NMPQATClassifier": "._classifier",
    "NMPQATRegressor": "._regressor",
    "NMPQATClassifierCV": "._cv",
    "NMPQATRegressorCV": "._cv",
    "budget_path": "._path",
    "to_integer": "._fold",
    "plot_bit_allocation": ".plotting",
    "plot_tradeoff": ".plotting",
}

__all__ = ["NMPQATClassifier", "NMPQATClassifierCV", "NMPQATRegressor", "NMPQATRegressorCV",
           "budget_path", "plot_bit_allocation", "plot_tradeoff", "to_integer", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
