"""
Where the bits go: the allocation per layer and per neuron
==========================================================

Every neuron learns its own bit-width. Training starts every neuron at the
lowest candidate; a neuron's precision grows only where the loss gains more
than the price of its bits (``bit_price``), and the budget caps the mean. Covertype (7 forest cover classes from
cartographic variables) needs more precision than most tabular data, so the
allocation is far from uniform.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skqat import NMPQATClassifier, plot_bit_allocation
from skqat.datasets import fetch_covertype_sample

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

cover = fetch_covertype_sample(subsets=("validate",))
X, y = cover.data.iloc[:4000], cover.target.iloc[:4000]
encode = make_column_transformer(
    (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
     ["Wilderness_Area", "Soil_Type"]), remainder="passthrough")
model = make_pipeline(encode, NMPQATClassifier(hidden_layer_sizes=(32, 32), bit_budget=3,
                                               activation_bit_budget=8, max_iter=30,
                                               random_state=0)).fit(X, y)

clf = model[-1]
print(f"mean weight bits {clf.mean_weight_bits_:.2f}, "
      f"mean activation bits {clf.mean_activation_bits_:.2f}")

# %%
# The per-layer report: neurons at each bit-width, bytes, compression.
clf.quantization_report()

# %%
# Neurons per bit-width in each layer (weights left, activations right).
plot_bit_allocation(clf)

# %%
# Neuron by neuron: each column is one neuron of the first hidden layer,
# sorted by its weight bit-width; the bars show its activation bit-width.
order = np.argsort(clf.weight_bits_[0], kind="stable")
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.bar(np.arange(len(order)), clf.weight_bits_[0][order], label="weight bits")
ax.plot(np.arange(len(order)), clf.activation_bits_[0][order], "k.", label="activation bits")
ax.set_xlabel("neuron of hidden layer 1 (sorted)")
ax.set_ylabel("bits")
ax.legend()
plt.show()
