"""
Tuning the bit budget with GridSearchCV
=======================================

``bit_budget`` is an ordinary hyperparameter. A multi-metric search records
every candidate's accuracy next to its size, and
:class:`~skqat.model_selection.smallest_within_tolerance` refits the smallest
model whose accuracy is within a tolerance of the best. Here: will a YouTube
session stall, from the network shaping and the video's properties?
"""

# %%
# The data: 4,000 sessions, stratified train and test split.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline

from skqat import NMPQATClassifier, plot_tradeoff
from skqat.datasets import fetch_yt_qoe
from skqat.model_selection import (
    mean_weight_bits_scorer,
    model_size_scorer,
    smallest_within_tolerance,
)
from skqat.preprocessing import make_tabular_preprocessor

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

qoe = fetch_yt_qoe()
X, _, y, _ = train_test_split(qoe.data, qoe.target, train_size=4000, stratify=qoe.target,
                              random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

# %%
# The search: three weight budgets, two activation budgets, three folds.
pipe = make_pipeline(make_tabular_preprocessor(),
                     NMPQATClassifier(hidden_layer_sizes=(16,), batch_size=64, max_iter=25,
                                      random_state=0))
grid = {"nmpqatclassifier__bit_budget": [1, 2, None],
        "nmpqatclassifier__activation_bit_budget": [4, 8]}
search = GridSearchCV(
    pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0),
    scoring={"accuracy": "accuracy", "weight_bits": mean_weight_bits_scorer,
             "size": model_size_scorer},
    refit=smallest_within_tolerance(0.01, score="accuracy", size="size"),
).fit(X_train, y_train)

# With a callable ``refit``, the search has no single scorer of its own:
# score the refitted pipeline directly.
chosen = search.best_estimator_[-1]
print(f"chosen: {search.best_params_}")
print(f"test accuracy {search.best_estimator_.score(X_test, y_test):.3f}, "
      f"{chosen.mean_weight_bits_:.2f} weight bits, {chosen.model_size_bytes_} bytes")

# %%
# The trade-off: accuracy against mean weight bits, one line per activation
# budget; the circled point is the refitted model. On this easy data the
# budgets are close, so the search keeps a small model.
fig = plot_tradeoff(search.cv_results_, score="accuracy", size="weight_bits",
                   group_by="nmpqatclassifier__activation_bit_budget",
                   chosen=search.best_index_)

fig.axes[0].set_title("YouTube QoE: cross-validated accuracy against mean weight bits")
best = np.max(search.cv_results_["mean_test_accuracy"])
print(f"best cross-validated accuracy {best:.3f}")
plt.show()
