"""
The best model that fits in 2 KB: a size budget
===============================================

A device has bytes, not "mean bits per weight". ``size_budget`` caps
``model_size_bytes_`` (never exceeded) and lets training trade neurons for
bits within it: a 0-bit candidate is added, and a pruned neuron costs nothing.
The network starts as wide as the budget can spend (the default
``hidden_layer_sizes="auto"``: the budget held at 2 bits per weight).
:class:`~skqat.NMPQATRegressorCV` with ``size_budgets`` chooses along bytes,
one budget path per fold. The honest comparison is the one an edge engineer
makes first: is this better than simply training a smaller uniform 4- or
8-bit network of the same size? Here on California housing (median house
value from raw census columns, missing values and a categorical column
included).
"""

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skqat import NMPQATRegressor, NMPQATRegressorCV
from skqat.datasets import fetch_california_housing_raw
from skqat.preprocessing import make_tabular_preprocessor

# Few epochs and rows on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

housing = fetch_california_housing_raw()
X, _, y, _ = train_test_split(housing.data, housing.target, train_size=4000, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
common = dict(max_iter=40, random_state=0)

# %%
# Cross-validate three sizes along one path per fold (``bit_budgets=None``:
# the path runs along bytes alone). ``tolerance=0`` keeps the best mean score.
model = make_pipeline(make_tabular_preprocessor(),
                      NMPQATRegressorCV(bit_budgets=None, size_budgets=[512, 1024, 2048],
                                        cv=3, **common)).fit(X_train, y_train)
search = model[-1]
print(f"chosen size_budget={search.size_budget_} B: {search.model_size_bytes_} bytes, "
      f"{sum(int((b > 0).sum()) for b in search.weight_bits_[:-1])} living hidden neurons, "
      f"{search.mean_weight_bits_:.2f} mean weight bits, "
      f"test R2 {model.score(X_test, y_test):.3f}")
pd.DataFrame(search.cv_results_)[["param_size_budget", "mean_test_score", "std_test_score",
                                  "mean_test_size", "mean_test_weight_bits"]]

# %%
# The same bytes spent uniformly: a narrower network at 4 or 8 bits (8-bit
# activations), as a practitioner would sweep it.
rows = []
for bits in (4, 8):
    for width in (8, 16, 32):
        uniform = make_pipeline(make_tabular_preprocessor(), NMPQATRegressor(
            hidden_layer_sizes=(width,), weight_bits=(bits,), activation_bits=(8,),
            **common)).fit(X_train, y_train)
        rows.append(dict(model=f"uniform {bits}-bit, width {width}",
                         bytes=uniform[-1].model_size_bytes_,
                         test_r2=uniform.score(X_test, y_test)))
for size in (512, 1024, 2048):
    fitted = make_pipeline(make_tabular_preprocessor(),
                           NMPQATRegressor(size_budget=size, **common)).fit(X_train, y_train)
    rows.append(dict(model=f"NMP-QAT, size_budget={size}", bytes=fitted[-1].model_size_bytes_,
                     test_r2=fitted.score(X_test, y_test)))
table = pd.DataFrame(rows)
table

# %%
# Score against bytes: at each size, the best model of each family that fits.
fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
for family, group in table.groupby(table.model.str.split(",").str[0]):
    group = group.sort_values("bytes")
    ax.plot(group.bytes, group.test_r2, "o-" if family.startswith("NMP") else "o",
            label=family)
ax.set_xscale("log")
ax.set_xlabel("model_size_bytes_")
ax.set_ylabel("test R2")
ax.set_title("California housing: R2 against model bytes")
ax.legend()
plt.show()
