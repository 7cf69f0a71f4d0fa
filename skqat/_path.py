"""The budget path: one training, a fitted model for every budget of a list.

As :func:`sklearn.linear_model.lasso_path` fits a whole path of L1 penalties
warm-started from one another, :func:`budget_path` trains once at the
largest budget, then walks down: each lower budget projects the model above
it onto the new budgets and fine-tunes it briefly with the bits frozen. The
budgets may be mean bits or bytes (``size_budgets``: a path along bytes).
"""

import copy
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._base import BaseNMPQAT

_NO_BUDGET = np.inf


class BudgetPoint(NamedTuple):
    """The budgets of one point of a path (None: no cap)."""

    bit_budget: float | None
    activation_bit_budget: float | None
    size_budget: float | None


def _as_list(name, values, n):
    if values is None or isinstance(values, Real):
        return [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(
            f"{name} has {len(values)} values, but the path has {n} points: give one value "
            f"per point, or a single value for all (bit_budgets=None with size_budgets, "
            "for a path along bytes alone).")
    return values


def path_points(bit_budgets=None, activation_bit_budgets=None, size_budgets=None):
    """The budget points of a path, from the largest to the smallest.

    Parameters
    ----------
    bit_budgets : sequence of float or None, or None
        Weight budgets; None in it (no cap) is the largest.
    activation_bit_budgets : float, None or sequence, default=None
        One activation budget for every point, or one per point.
    size_budgets : float, None or sequence, default=None
        Size budgets in bytes: one for every point, or one per point (a path
        along bytes when ``bit_budgets`` is None).

    Returns
    -------
    list of BudgetPoint
        Sorted by weight, activation then size budget, largest first; each
        point once.

    Examples
    --------
    >>> path_points([1, None, 2], 8)
    [BudgetPoint(bit_budget=None, activation_bit_budget=8, size_budget=None), \
BudgetPoint(bit_budget=2, activation_bit_budget=8, size_budget=None), \
BudgetPoint(bit_budget=1, activation_bit_budget=8, size_budget=None)]
    >>> [p.size_budget for p in path_points(size_budgets=[512, 2048, 1024])]
    [2048, 1024, 512]
    """
    lengths = {len(list(v)) for v in (bit_budgets, size_budgets)
               if v is not None and not isinstance(v, Real)}
    if not lengths:
        raise ValueError("A path needs a list of budgets: give bit_budgets or size_budgets "
                         "(None in bit_budgets is no cap).")
    n = max(lengths)
    if n == 0:
        raise ValueError("bit_budgets and size_budgets are empty: give at least one budget.")
    bits = _as_list("bit_budgets", bit_budgets, n)
    points = [BudgetPoint(*p) for p in zip(
        bits, _as_list("activation_bit_budgets", activation_bit_budgets, n),
        _as_list("size_budgets", size_budgets, n))]

    def key(point):
        return tuple(_NO_BUDGET if b is None else float(b) for b in point)

    return sorted(dict.fromkeys(points), key=key, reverse=True)


def fine_tune_epochs(first):
    """Epochs of each step down the path: a tenth of the epochs the first point trained.

    As the frozen phase that ends a fit, relative to how long the fit ran: a
    path of five budgets then costs about 1.4 fits, however early the first
    one converged.
    """
    return max(1, first.n_iter_ // 10)


def budget_path(estimator, X, y, *, bit_budgets=None, activation_bit_budgets=None,
                size_budgets=None, sample_weight=None):
    """Fit ``estimator`` at every budget of a list for about the cost of one fit.

    The first point (the largest budget; None is no cap) is a full ``fit``.
    Each lower point starts from the point above it, projects it onto its
    budgets (pruning neurons for a size budget), raises the bits where its
    budgets leave room, and fine-tunes its weights with the bits frozen, at a fifth of
    the learning rate, for a tenth of the epochs the first fit ran, keeping
    its epoch of lowest training loss. Every
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
    bit_budgets : sequence of float or None, default=None
        Weight budgets of the path, in any order.
    activation_bit_budgets : float, None or sequence, default=None
        One activation budget for every point, or one per point.
    size_budgets : float, None or sequence, default=None
        Size budgets in bytes (``size_budget``), one for every point or one
        per point: with ``bit_budgets=None``, a path along bytes ("the best
        model in 512 B, 1 KB, 2 KB"). With ``hidden_layer_sizes="auto"``
        the first point starts as wide as the largest size budget can spend.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    list of estimators
        One fitted copy per point, from the largest budget to the smallest
        (the order of :func:`path_points`); each has its ``bit_budget``,
        ``activation_bit_budget`` and ``size_budget`` set to its point.

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
    >>> by_size = budget_path(NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=20,
    ...                                        random_state=0), X, y, size_budgets=[400, 250])
    >>> [int(est.model_size_bytes_ <= est.size_budget) for est in by_size]
    [1, 1]
    """
    if not isinstance(estimator, BaseNMPQAT):
        raise TypeError(f"budget_path takes an NMPQATClassifier or NMPQATRegressor, got "
                        f"{type(estimator).__name__}. In a Pipeline, fit the preprocessing "
                        "first and pass its output.")
    if not estimator.quantize:
        raise ValueError("quantize=False trains a float network, which has no bits to budget.")
    points = path_points(bit_budgets, activation_bit_budgets, size_budgets)
    first, rest = points[0], points[1:]
    # With early stopping every point holds out the same rows: an int
    # random_state draws them the same way each time; otherwise one seed does.
    split_seed = None
    if estimator.early_stopping and not isinstance(estimator.random_state, Integral):
        split_seed = check_random_state(estimator.random_state).randint(np.iinfo(np.int32).max)
    model = clone(estimator).set_params(**first._asdict())
    model._validate_params()
    path = [model._fit(X, y, sample_weight, incremental=False, split_seed=split_seed)]
    n_epochs = fine_tune_epochs(model)
    for point in rest:
        model = copy.deepcopy(model)
        model.set_params(**point._asdict())
        model._validate_params()
        model._fit(X, y, sample_weight, incremental=False, refine_epochs=n_epochs,
                   split_seed=split_seed)
        path.append(model)
    return path
