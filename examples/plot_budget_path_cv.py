"""
The whole trade-off in one fit: NMPQATClassifierCV
==================================================

Choosing ``bit_budget`` is the package's main job. ``GridSearchCV`` pays one
full fit per budget and per fold. :class:`~skqat.NMPQATClassifierCV` fits one
budget path per fold instead (:func:`~skqat.budget_path`: one training at the
largest budget, then for each lower budget a projection and a short
fine-tuning), scores every point on the fold's held-out rows, and refits the
chosen budget on all rows, as ``LassoCV`` does along ``lasso_path``. Here:
will a YouTube session stall, from the network shaping and the video's
properties?
"""

# %%
import time
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skqat import NMPQATClassifier, NMPQATClassifierCV, plot_tradeoff
from skqat.datasets import fetch_yt_qoe
from skqat.preprocessing import make_tabular_preprocessor

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

qoe = fetch_yt_qoe()
X, _, y, _ = train_test_split(qoe.data, qoe.target, train_size=4000, stratify=qoe.target,
                              random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
budgets = [1, 1.5, 2, 3, None]
common = dict(hidden_layer_sizes=(32,), max_iter=40, random_state=0)

# %%
# One fit per fold: the path. ``tolerance=0`` picks the best mean score, as
# ``GridSearchCV`` does; a positive ``tolerance`` would pick the smallest model
# within that much of it.
start = time.perf_counter()
model = make_pipeline(make_tabular_preprocessor(),
                      NMPQATClassifierCV(bit_budgets=budgets, cv=3, tolerance=0.0,
                                         **common)).fit(X_train, y_train)
cv_seconds = time.perf_counter() - start
search = model[-1]
print(f"chosen bit_budget={search.bit_budget_}: {search.mean_weight_bits_:.2f} weight bits, "
      f"{search.model_size_bytes_} bytes, test accuracy {model.score(X_test, y_test):.3f}")
pd.DataFrame(search.cv_results_)[["param_bit_budget", "mean_test_score", "std_test_score",
                                  "mean_test_weight_bits", "mean_test_size"]]

# %%
# The same choice with GridSearchCV: one full fit per budget and fold.
start = time.perf_counter()
grid = GridSearchCV(make_pipeline(make_tabular_preprocessor(), NMPQATClassifier(**common)),
                    {"nmpqatclassifier__bit_budget": budgets}, cv=3).fit(X_train, y_train)
grid_seconds = time.perf_counter() - start
print(f"GridSearchCV chose bit_budget={grid.best_params_['nmpqatclassifier__bit_budget']} "
      f"(test accuracy {grid.score(X_test, y_test):.3f}) in {grid_seconds:.0f} s; "
      f"the path's CV took {cv_seconds:.0f} s ({cv_seconds / grid_seconds:.2f}x)")

# %%
# The trade-off the path measured, the chosen budget circled.
fig = plot_tradeoff(search.cv_results_, score="score", size="weight_bits",
                    chosen=search.best_index_)
fig.axes[0].set_title("Stall prediction: accuracy against mean weight bits (3-fold CV)")
plt.show()
