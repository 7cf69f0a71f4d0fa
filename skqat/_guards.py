"""Warnings of fits that end with a model that is not yet useful.

A small table, few epochs or a tight budget can leave a model that scores
below a constant prediction on its own training rows, or a hidden layer
whose learned activation step has shrunk to its floor (every neuron then
saturates at a level near 0: the layer passes no signal). scikit-learn's
generic ``ConvergenceWarning`` says neither; these say what went wrong and
what to change.
"""

import warnings

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score

from ._qat import ACTIVATION_STEP_FLOOR

# A step within this factor of its floor has collapsed.
_COLLAPSE_FACTOR = 10.0


def collapsed_layers(activation_steps):
    """1-based indices of the hidden layers whose activation step is at its floor."""
    return [i + 1 for i, step in enumerate(activation_steps)
            if float(np.max(step)) <= ACTIVATION_STEP_FLOOR * _COLLAPSE_FACTOR]


def constant_score(y, sample_weight, *, regression):
    """The training score of always predicting one value: the mean (R2 0) or the majority."""
    if regression:
        return 0.0
    rows = np.zeros((len(y), 1))
    return float(DummyClassifier(strategy="most_frequent").fit(rows, y, sample_weight)
                 .score(rows, y, sample_weight))


def _fixes(est):
    budgets = [f"{name}={getattr(est, name):g}" for name in
               ("bit_budget", "activation_bit_budget", "size_budget", "flash_budget")
               if getattr(est, name, None) is not None]
    fixes = [f"more epochs (max_iter={est.max_iter} now)"]
    if budgets:
        fixes.append(f"a larger budget ({', '.join(budgets)} now)")
    fixes.append(f"a lower learning_rate_init (now {est.learning_rate_init:g})")
    return ", ".join(fixes[:-1]) + " or " + fixes[-1]


def warn_useless_fit(est, X, y, sample_weight):
    """Warn when ``est``, just fitted on ``(X, y)``, is no better than a constant there.

    Parameters
    ----------
    est : NMPQATClassifier or NMPQATRegressor
        Fitted.
    X, y, sample_weight
        The training rows it was fitted on (``y`` in the user's labels or units).
    """
    regression = est._task() == "regression"
    if sample_weight.sum() <= 0 or (regression and np.ptp(y, axis=0).max() == 0):
        return  # no score to compare (R2 of a constant target is not defined)
    collapsed = collapsed_layers(est.activation_steps_ or []) if est.quantize else []
    if collapsed:
        warnings.warn(
            f"The activation step of hidden layer(s) {collapsed} shrank to its floor during "
            "training: the layer's neurons saturate near 0 and pass no signal. Refit with "
            f"another random_state, or try {_fixes(est)}.", ConvergenceWarning)
    predicted = est._predict_validated(X)  # X was validated by fit: no second check
    score = float(r2_score(y, predicted, sample_weight=sample_weight) if regression
                  else accuracy_score(y, predicted, sample_weight=sample_weight))
    baseline = constant_score(y, sample_weight, regression=regression)
    if score < baseline:
        what = "R2" if regression else "accuracy"
        constant = "the mean" if regression else "the most frequent class"
        warnings.warn(
            f"The fitted model's training {what} is {score:.3g}, below the {baseline:.3g} of "
            f"always predicting {constant}: it has not learned the data yet. Try "
            f"{_fixes(est)}.", ConvergenceWarning)
