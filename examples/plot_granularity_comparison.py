"""
Neuron-level against layer-level and uniform precision
======================================================

The same network, data and training budget, three ways to spend the bits:

* uniform QAT: every neuron at one bit-width (``weight_bits=(b,)``);
* layer-level: one learned bit-width per layer (``granularity="layer"``);
* neuron-level (NMP-QAT): one learned bit-width per neuron.

The learned variants get the same ``bit_budget`` as the uniform width they
sit next to. Covertype is the dataset of the benchmarks where precision
matters most; see :doc:`/benchmarks` for three seeds and four datasets.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import OneHotEncoder

from skqat import NMPQATClassifier
from skqat.datasets import fetch_covertype_sample

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

train = fetch_covertype_sample(subsets=("validate",))
test = fetch_covertype_sample(subsets=("serving",))
encode = make_column_transformer(
    (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
     ["Wilderness_Area", "Soil_Type"]), remainder="passthrough")
X_train = encode.fit_transform(train.data.iloc[:6000])
y_train = train.target.iloc[:6000]
X_test, y_test = encode.transform(test.data.iloc[:3000]), test.target.iloc[:3000]

common = dict(hidden_layer_sizes=(32, 32), batch_size=100, max_iter=25, random_state=0)
results = {"uniform": [], "layer-level": [], "neuron-level": []}
for bits in (1, 2, 4):
    variants = {
        "uniform": NMPQATClassifier(weight_bits=(bits,), activation_bits=(8,), **common),
        "layer-level": NMPQATClassifier(granularity="layer", bit_budget=bits,
                                        activation_bit_budget=8, **common),
        "neuron-level": NMPQATClassifier(bit_budget=bits, activation_bit_budget=8, **common),
    }

    for name, clf in variants.items():
        clf.fit(X_train, y_train)
        results[name].append((clf.mean_weight_bits_, clf.score(X_test, y_test)))
        print(f"{name:12s} budget {bits}: {clf.mean_weight_bits_:.2f} bits, "
              f"accuracy {results[name][-1][1]:.3f}")
reference = NMPQATClassifier(quantize=False, **common).fit(X_train, y_train)
float_accuracy = reference.score(X_test, y_test)

# %%
# Accuracy against the mean weight bits each model actually uses.
fig, ax = plt.subplots(figsize=(6, 4))
for name, points in results.items():
    bits, acc = zip(*points)
    ax.plot(bits, acc, marker="o", label=name)
ax.axhline(float_accuracy, color="black", ls="--", lw=1, label="float reference")
ax.set_xscale("log", base=2)
ax.set_xlabel("mean weight bits")
ax.set_ylabel("test accuracy")
ax.set_title("Covertype, 6,000 rows, (32, 32), 25 epochs")
ax.legend()
plt.show()
