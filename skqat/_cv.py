"""NMPQATClassifierCV and NMPQATRegressorCV: the budget chosen in one fit per fold and penalty."""

from ._budget_search import BudgetSearchMixin, search_constraints
from ._classifier import NMPQATClassifier
from ._regressor import NMPQATRegressor


class NMPQATClassifierCV(BudgetSearchMixin, NMPQATClassifier):
    """NMP-QAT classifier whose budget (and penalty) is chosen by cross-validated budget paths.

    For each fold, one :func:`~skqat.budget_path` gives a model at every
    budget for about the cost of one fit; every point is scored on the
    fold's held-out rows. The chosen budget (the best mean score, or the
    smallest model within ``tolerance`` of it) is refitted on all rows with a
    fit of its own, as in ``LassoCV``, and that model is this estimator's: ``predict``,
    ``predict_proba``, ``score``, ``to_integer`` and
    ``quantization_report`` are its.

    Parameters
    ----------
    bit_budgets : array-like of float or None, or None, default=(1, 1.5, 2, 3, 4, None)
        The weight budgets to choose from (None: no cap), in any order; the
        path runs from the largest down.
    activation_bit_budgets : float, array-like or None, default=None
        One activation budget for every point, or one per weight budget
        (paired with ``bit_budgets``); None sets no activation cap.
    size_budgets : float, array-like or None, default=None
        Size budgets in bytes (``size_budget``): one for every point, or one
        per point. For a choice along bytes alone, set ``bit_budgets=None``
        and give the sizes, e.g. ``size_budgets=[512, 1024, 2048]``. With
        ``hidden_layer_sizes="auto"`` the path starts as wide as its largest
        size budget can spend.
    alphas : array-like of float or None, default=None
        L2 penalties to choose from with the budget, as ``ElasticNetCV``
        chooses ``l1_ratio``: each gets its own path per fold, so the search
        costs ``len(alphas)`` times as much. None keeps ``alpha``. Over-fitting
        is what a larger size budget risks on a small or shifting table; a
        grid such as ``[1e-4, 1e-2, 1]`` lets the folds say how much
        penalty the budget needs.
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV`` (None: 5 folds, stratified). Pass ``groups`` to
        ``fit`` for a grouped splitter (rows of one trace together).
    scoring : str, callable or None, default=None
        The score to cross-validate (higher is better); None is the
        estimator's ``score`` (accuracy).
    tolerance : float, default=0.0
        How much mean test score may be given up for a smaller model: 0 picks
        the best score; more picks the smallest model (mean size in bytes)
        within that much of the best, as
        :class:`~skqat.model_selection.smallest_within_tolerance` does.
    n_jobs : int or None, default=None
        Folds (and penalties) run in parallel (joblib; None is 1). Results do
        not depend on it.
    hidden_layer_sizes, alpha, batch_size, learning_rate_init, max_iter, shuffle, random_state, tol, verbose, warm_start, early_stopping, validation_fraction, n_iter_no_change, bit_price, activation_bit_price, weight_bits, activation_bits, input_bits, input_clip, granularity, quantize, strength_learning_rate, gate_temperature, device, n_threads
        As in :class:`NMPQATClassifier` (same defaults), for every fit of the search.
        ``warm_start`` has no effect: every path trains afresh.

    Attributes
    ----------
    bit_budget_, activation_bit_budget_, size_budget_ : float or None
        The chosen budgets.
    alpha_ : float
        The chosen penalty (``alpha`` when ``alphas`` is None).
    cv_results_ : dict of ndarray
        One entry per penalty and budget point: for each of ``alphas`` in
        turn, the points from the largest budget to the smallest
        (``pandas.DataFrame(cv_results_)`` gives a table):
        ``param_alpha``, ``param_bit_budget``, ``param_activation_bit_budget``,
        ``param_size_budget``, ``params``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, and the means (and stds) over folds of
        ``mean_test_weight_bits``, ``mean_test_activation_bits`` and
        ``mean_test_size`` (model bytes); ``mean_fit_time`` is a fold's
        whole path time divided by its points, averaged over the folds (the
        points share one training, so it is not one point's own fit time).
    best_index_ : int
        Index of the chosen penalty and point in ``cv_results_``.
    n_splits_ : int
        Number of folds.
    weight_bits_, activation_bits_, mean_weight_bits_, mean_activation_bits_, model_size_bytes_
        The refitted model's, as in :class:`NMPQATClassifier`, and every other
        fitted attribute of it (``classes_``, ``coefs_``, ``integer_weights_``, ...).

    See Also
    --------
    NMPQATClassifier : One fit at one budget.
    skqat.budget_path : The path behind each fold.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifierCV
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = NMPQATClassifierCV(hidden_layer_sizes=(16,), bit_budgets=[1, 2, None], cv=3,
    ...                          max_iter=20, random_state=0).fit(X, y)
    >>> clf.bit_budget_ in (1, 2, None)
    True
    >>> len(clf.cv_results_["mean_test_score"])
    3
    """

    _plain = NMPQATClassifier
    _parameter_constraints = search_constraints()


class NMPQATRegressorCV(BudgetSearchMixin, NMPQATRegressor):
    """NMP-QAT regressor whose budget (and penalty) is chosen by cross-validated budget paths.

    For each fold, one :func:`~skqat.budget_path` gives a model at every
    budget for about the cost of one fit; every point is scored on the
    fold's held-out rows. The chosen budget (the best mean score, or the
    smallest model within ``tolerance`` of it) is refitted on all rows with a
    fit of its own, as in ``LassoCV``, and that model is this estimator's: ``predict``,
    ``score``, ``to_integer`` and
    ``quantization_report`` are its.

    Parameters
    ----------
    bit_budgets : array-like of float or None, or None, default=(1, 1.5, 2, 3, 4, None)
        The weight budgets to choose from (None: no cap), in any order; the
        path runs from the largest down.
    activation_bit_budgets : float, array-like or None, default=None
        One activation budget for every point, or one per weight budget
        (paired with ``bit_budgets``); None sets no activation cap.
    size_budgets : float, array-like or None, default=None
        Size budgets in bytes (``size_budget``): one for every point, or one
        per point. For a choice along bytes alone, set ``bit_budgets=None``
        and give the sizes, e.g. ``size_budgets=[512, 1024, 2048]``. With
        ``hidden_layer_sizes="auto"`` the path starts as wide as its largest
        size budget can spend.
    alphas : array-like of float or None, default=None
        L2 penalties to choose from with the budget, as ``ElasticNetCV``
        chooses ``l1_ratio``: each gets its own path per fold, so the search
        costs ``len(alphas)`` times as much. None keeps ``alpha``. Over-fitting
        is what a larger size budget risks on a small or shifting table; a
        grid such as ``[1e-4, 1e-2, 1]`` lets the folds say how much
        penalty the budget needs.
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV`` (None: 5 folds). Pass ``groups`` to
        ``fit`` for a grouped splitter (rows of one trace together).
    scoring : str, callable or None, default=None
        The score to cross-validate (higher is better); None is the
        estimator's ``score`` (R2).
    tolerance : float, default=0.0
        How much mean test score may be given up for a smaller model: 0 picks
        the best score; more picks the smallest model (mean size in bytes)
        within that much of the best, as
        :class:`~skqat.model_selection.smallest_within_tolerance` does.
    n_jobs : int or None, default=None
        Folds (and penalties) run in parallel (joblib; None is 1). Results do
        not depend on it.
    hidden_layer_sizes, alpha, batch_size, learning_rate_init, max_iter, shuffle, random_state, tol, verbose, warm_start, early_stopping, validation_fraction, n_iter_no_change, bit_price, activation_bit_price, weight_bits, activation_bits, input_bits, input_clip, granularity, quantize, strength_learning_rate, gate_temperature, device, n_threads
        As in :class:`NMPQATRegressor` (same defaults), for every fit of the search.
        ``warm_start`` has no effect: every path trains afresh.

    Attributes
    ----------
    bit_budget_, activation_bit_budget_, size_budget_ : float or None
        The chosen budgets.
    alpha_ : float
        The chosen penalty (``alpha`` when ``alphas`` is None).
    cv_results_ : dict of ndarray
        One entry per penalty and budget point: for each of ``alphas`` in
        turn, the points from the largest budget to the smallest
        (``pandas.DataFrame(cv_results_)`` gives a table):
        ``param_alpha``, ``param_bit_budget``, ``param_activation_bit_budget``,
        ``param_size_budget``, ``params``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, and the means (and stds) over folds of
        ``mean_test_weight_bits``, ``mean_test_activation_bits`` and
        ``mean_test_size`` (model bytes); ``mean_fit_time`` is a fold's
        whole path time divided by its points, averaged over the folds (the
        points share one training, so it is not one point's own fit time).
    best_index_ : int
        Index of the chosen penalty and point in ``cv_results_``.
    n_splits_ : int
        Number of folds.
    weight_bits_, activation_bits_, mean_weight_bits_, mean_activation_bits_, model_size_bytes_
        The refitted model's, as in :class:`NMPQATRegressor`, and every other
        fitted attribute of it (``coefs_``, ``integer_weights_``, ...).

    See Also
    --------
    NMPQATRegressor : One fit at one budget.
    skqat.budget_path : The path behind each fold.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skqat import NMPQATRegressorCV
    >>> X, y = make_regression(n_samples=300, random_state=0)
    >>> reg = NMPQATRegressorCV(hidden_layer_sizes=(16,), bit_budgets=[1, 2, None], cv=3,
    ...                          max_iter=20, random_state=0).fit(X, y)
    >>> reg.bit_budget_ in (1, 2, None)
    True
    >>> len(reg.cv_results_["mean_test_score"])
    3
    """

    _plain = NMPQATRegressor
    _parameter_constraints = search_constraints()
