"""skqat: neuron-level mixed-precision quantization-aware training for scikit-learn."""

from ._classifier import NMPQATClassifier
from ._regressor import NMPQATRegressor

__version__ = "0.1.0"

__all__ = ["NMPQATClassifier", "NMPQATRegressor", "__version__"]
