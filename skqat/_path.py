"""The budget path: one training, a fitted model for every budget of a list.

As :func:`sklearn.linear_model.lasso_path` fits a whole path of L1 penalties
warm-started from one another, :func:`budget_path` trains once at the
largest budget, then walks down: each lower budget projects the model above
it onto the new budgets and fine-tunes it briefly with the bits frozen.
"""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._base import BaseNMPQAT

_NO_BUDGET = np.inf


def _as_list(name, values, n):
    if values is None or isinstance(values, Real):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values, but bit_budgets has {n}: give one "
                         "activation budget per weight budget, or a single value for all.")
    return values


def path_points(bit_budgets, activation_bit_budgets=None):
    """The (weight, activation) budget pairs of a path, from the largest to the smallest.

    Parameters
    ----------
    bit_budgets : sequence of float or None
        Weight budgets; None (no cap) is the largest.
    activation_bit_budgets : float, None or sequence, default=None
        One activation budget for every point, or one per weight budget.

    Returns
    -------
    list of tuple (float or None, float or None)
        Sorted by weight budget, then activation budget, largest first; each
        pair once.

    Examples
    --------
    >>> path_points([1, None, 2], 8)
    [(None, 8), (2, 8), (1, 8)]
    """
    bit_budgets = list(bit_budgets)
    if not bit_budgets:
        raise ValueError("bit_budgets is empty: give at least one budget (None for no cap).")
    pairs = list(zip(bit_budgets, _as_list("activation_bit_budgets", activation_bit_budgets,
                                           len(bit_budgets))))

    def key(pair):
        return tuple(_NO_BUDGET if b is None else float(b) for b in pair)

    return sorted(dict.fromkeys(pairs), key=key, reverse=True)


def fine_tune_epochs(first):
    """Epochs of each step down the path: a tenth of the epochs the first point trained.

    As the frozen phase that ends a fit, relative to how long the fit ran: a
    path of five budgets then costs about 1.4 fits, however early the first
    one converged.
    """
    return max(1, first.n_iter_ // 10)


def budget_path(estimator, X, y, *, bit_budgets, activation_bit_budgets=None,
                sample_weight=None):
    """Fit ``estimator`` at every budget of a list for about the cost of one fit.

    The first point (the largest budget; None is no cap) is a full ``fit``.
    Each lower point starts from the point above it, projects it onto its
    budgets and fine-tunes its weights with the bits frozen, at a fifth of
    the learning rate, for a tenth of the epochs the first fit ran. Every
    point is a complete fitted estimator within its budgets: ``predict``,
    ``to_integer``, ``quantization_report``. With ``early_stopping=True``
    every point holds out the same validation rows and keeps the epoch of
    its best validation score.

    Parameters
    ----------
    estimator : NMPQATClassifier or NMPQATRegressor
        Unfitted template (it is cloned): its other parameters apply to every point.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    bit_budgets : sequence of float or None
        Weight budgets of the path, in any order.
    activation_bit_budgets : float, None or sequence, default=None
        One activation budget for every point, or one per weight budget.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    list of estimators
        One fitted copy per point, from the largest budget to the smallest
        (the order of :func:`path_points`); each has its ``bit_budget`` and
        ``activation_bit_budget`` set to its point.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier, budget_path
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> path = budget_path(NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=20,
    ...                                     random_state=0), X, y, bit_budgets=[1, 2, None])
    >>> [est.bit_budget for est in path]
    [None, 2, 1]
    >>> bool(path[-1].mean_weight_bits_ <= 1)
    True
    """
    if not isinstance(estimator, BaseNMPQAT):
        raise TypeError(f"budget_path takes an NMPQATClassifier or NMPQATRegressor, got "
                        f"{type(estimator).__name__}. In a Pipeline, fit the preprocessing "
                        "first and pass its output.")
    if not estimator.quantize:
        raise ValueError("quantize=False trains a float network, which has no bits to budget.")
    points = path_points(bit_budgets, activation_bit_budgets)
    first, rest = points[0], points[1:]
    # With early stopping every point holds out the same rows: an int
    # random_state draws them the same way each time; otherwise one seed does.
    split_seed = None
    if estimator.early_stopping and not isinstance(estimator.random_state, Integral):
        split_seed = check_random_state(estimator.random_state).randint(np.iinfo(np.int32).max)
    model = clone(estimator).set_params(bit_budget=first[0], activation_bit_budget=first[1])
    model._validate_params()
    path = [model._fit(X, y, sample_weight, incremental=False, split_seed=split_seed)]
    n_epochs = fine_tune_epochs(model)
    for bits, act_bits in rest:
        model = copy.deepcopy(model)
        model.set_params(bit_budget=bits, activation_bit_budget=act_bits)
        model._validate_params()
        model._fit(X, y, sample_weight, incremental=False, refine_epochs=n_epochs,
                   split_seed=split_seed)
        path.append(model)
    return path
