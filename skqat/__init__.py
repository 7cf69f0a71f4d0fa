"""skqat: neuron-level mixed-precision quantization-aware training for scikit-learn."""

from ._classifier import NMPQATClassifier
from ._regressor import NMPQATRegressor
from .plotting import plot_bit_allocation, plot_tradeoff

__version__ = "0.1.0"

__all__ = ["NMPQATClassifier", "NMPQATRegressor", "plot_bit_allocation", "plot_tradeoff",
           "__version__"]
