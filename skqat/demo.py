"""The main job: choose a bit budget for a telecom QoE model by cross-validation.

Run ``python -m skqat.demo`` (or ``make demo``). It reads the YouTube QoE data
from the data home (``SKQAT_DATA_HOME``), searches ``bit_budget`` with
``GridSearchCV`` in a pipeline that imputes and one-hot encodes, prints per
budget the cross-validated accuracy, mean weight and activation bits and
model size, then the chosen model's held-out accuracy.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from . import NMPQATClassifier
from .datasets import fetch_yt_qoe

BUDGETS = [1.0, 1.5, 2.0, 3.0, None]


def _model_attribute(name):
    def scorer(pipeline, X, y):
        return float(getattr(pipeline[-1], name))
    return scorer


def build_search(budgets=BUDGETS, hidden_layer_sizes=(32,), max_iter=15, cv=3, n_jobs=2,
                 random_state=0):
    """The demo's search: a preprocessing pipeline and a grid over ``bit_budget``.

    Parameters
    ----------
    budgets : list of float or None
        Values of ``bit_budget`` to try.
    hidden_layer_sizes : tuple of int
    max_iter : int
    cv : int
        Number of stratified folds.
    n_jobs : int
        Parallel fits.
    random_state : int

    Returns
    -------
    GridSearchCV
        Scores accuracy, and records mean weight bits, mean activation bits
        and model size of each fitted candidate; refits on accuracy.

    Examples
    --------
    >>> from skqat.demo import build_search
    >>> build_search(budgets=[2.0]).param_grid
    {'nmpqatclassifier__bit_budget': [2.0]}
    """
    pre = make_column_transformer(
        (SimpleImputer(strategy="median", add_indicator=True),
         make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         make_column_selector(dtype_include=["object", "string", "bool"])),
    )
    model = make_pipeline(pre, NMPQATClassifier(hidden_layer_sizes=hidden_layer_sizes,
                                                max_iter=max_iter, activation_bit_budget=8,
                                                random_state=random_state))
    scoring = {"accuracy": "accuracy",
               "weight_bits": _model_attribute("mean_weight_bits_"),
               "activation_bits": _model_attribute("mean_activation_bits_"),
               "size_bytes": _model_attribute("model_size_bytes_")}
    return GridSearchCV(model, {"nmpqatclassifier__bit_budget": list(budgets)},
                        scoring=scoring, refit="accuracy",
                        cv=StratifiedKFold(cv, shuffle=True, random_state=random_state),
                        n_jobs=n_jobs)


def main(argv=None):
    """Run the demo and print the trade-off table and the chosen model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="folder with yt_qoe/ (default: "
                        "SKQAT_DATA_HOME, else ~/skqat_data)")
    parser.add_argument("--max-iter", type=int, default=15)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    data = fetch_yt_qoe(args.data_home)
    X_tr, X_te, y_tr, y_te = train_test_split(data.data, data.target, test_size=0.25,
                                              random_state=0, stratify=data.target)
    print(f"YouTube QoE (stall prediction): {len(X_tr)} training and {len(X_te)} test sessions, "
          f"{X_tr.shape[1]} raw columns")
    with warnings.catch_warnings():
        # A short, fixed training budget per candidate is the demo's choice.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = build_search(max_iter=args.max_iter, n_jobs=args.n_jobs).fit(X_tr, y_tr)
    r = search.cv_results_
    print(f"\n{'bit_budget':>10} {'cv accuracy':>14} {'weight bits':>12} {'act bits':>9} "
          f"{'size (B)':>9}")
    for i, params in enumerate(r["params"]):
        budget = params["nmpqatclassifier__bit_budget"]
        print(f"{'None' if budget is None else budget:>10} "
              f"{r['mean_test_accuracy'][i]:>8.4f}±{r['std_test_accuracy'][i]:.3f} "
              f"{r['mean_test_weight_bits'][i]:>12.2f} {r['mean_test_activation_bits'][i]:>9.2f} "
              f"{r['mean_test_size_bytes'][i]:>9.0f}")
    best = search.best_estimator_[-1]
    print(f"\nChosen: bit_budget={search.best_params_['nmpqatclassifier__bit_budget']}, "
          f"test accuracy {search.score(X_te, y_te):.4f}, mean weight bits "
          f"{best.mean_weight_bits_:.2f}, mean activation bits {best.mean_activation_bits_:.2f}, "
          f"{best.model_size_bytes_} bytes "
          f"({4 * sum(c.size + c.shape[1] for c in best.coefs_)} as float32 weights and biases)")
    print(f"Weight bits per layer: "
          f"{[{int(k): int(v) for k, v in zip(*np.unique(b, return_counts=True))} for b in best.weight_bits_]}")
    print(f"Done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
