"""Cross-validation along budget paths: what NMPQATClassifierCV and NMPQATRegressorCV share.

As ``LassoCV`` cross-validates along ``lasso_path``, the CV estimators fit one
budget path per fold (:func:`skqat.budget_path`: one training, then a short
projection and fine-tuning per lower budget), score every point of it on the
fold's held-out rows, pick a budget, and refit it on all rows with a fit of
its own, as ``LassoCV`` refits its chosen alpha. The refitted model becomes
the estimator's fitted state, so
``predict``, ``score``, ``to_integer`` and ``quantization_report`` are those
of the plain estimator.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import indexable
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import validate_data

from ._base import BaseNMPQAT
from ._path import budget_path, path_points
from ._sklearn_private import (Interval, _check_sample_weight, _fit_context, _safe_indexing,
                               available_if)
from .model_selection import smallest_within_tolerance

#: The parameters of the CV estimators that the plain estimator does not have.
SEARCH_PARAMETERS = ("bit_budgets", "activation_bit_budgets", "size_budgets", "alphas", "cv",
                     "scoring", "tolerance", "n_jobs")

_BUDGETS = ("bit_budget", "activation_bit_budget", "size_budget")


def search_constraints():
    """The CV estimators' ``_parameter_constraints``: the plain ones, budgets swapped for lists."""
    # A path runs along bits or model bytes: the CV estimators take no flash budget.
    plain = {k: v for k, v in BaseNMPQAT._parameter_constraints.items()
             if k not in (*_BUDGETS, "flash_budget")}
    return {
        **plain,
        "bit_budgets": ["array-like", None],
        "size_budgets": ["array-like", Interval(Real, 0, None, closed="neither"), None],
        "activation_bit_budgets": ["array-like", Interval(Real, 0, None, closed="neither"),
                                   None],
        "alphas": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "tolerance": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
    }


def _path_scores(template, X, y, sample_weight, train, test, points, scorer, fold):
    """Fit a path on the rows ``train``; score each point on ``test``, with its bits and size.

    ``fold`` is ``(k, n_splits)``, for the ``verbose`` labels.
    """
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    weights = None if sample_weight is None else _safe_indexing(sample_weight, train)
    if template.verbose:
        print(f"[fold {fold[0] + 1}/{fold[1]}] budget path over {len(points)} points, "
              f"alpha={template.alpha:g}, {len(train)} training rows", flush=True)
    start = time.perf_counter()
    path = _path_through(template, X_train, y_train, weights, points)
    seconds = (time.perf_counter() - start) / len(points)
    X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
    scores = [dict(score=scorer(est, X_test, y_test), weight_bits=est.mean_weight_bits_,
                   activation_bits=est.mean_activation_bits_, size=est.model_size_bytes_,
                   fit_time=seconds)
              for est in path]
    if template.verbose:
        for point, s in zip(points, scores):
            print(f"[fold {fold[0] + 1}/{fold[1]}] {_label(point)}: score {s['score']:.4g}, "
                  f"{s['weight_bits']:.2f} weight bits, {s['size']} bytes", flush=True)
    return scores


def _label(point):
    """``bit_budget=2, size_budget=1024``: a point's budgets that are set."""
    return ", ".join(f"{k}={v:g}" for k, v in point._asdict().items() if v is not None) or (
        "no budget")


def _probe_rows(y, classifier):
    """A few rows holding every class: enough for a fit to run its checks."""
    n = len(y)
    rows = set(range(min(n, 16)))
    if classifier and np.ndim(y) == 1:
        rows |= set(np.unique(np.asarray(y), return_index=True)[1].tolist())
    return np.array(sorted(rows))


def check_points(search, template, X, y, points):
    """Run every point's checks on a few rows before any real fit.

    A budget that no model reaches (below what the input steps and the
    smallest layers need) would otherwise surface after the first fold's
    whole fit; here it is reported under the CV estimator's own parameter.
    """
    rows = _probe_rows(y, is_classifier(template))
    X_few, y_few = _safe_indexing(X, rows), _safe_indexing(y, rows)
    for point in points:
        probe = clone(template).set_params(**point._asdict(), max_iter=1,
                                           early_stopping=False, verbose=False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probe.fit(X_few, y_few)
        except ValueError as err:
            raise ValueError(f"{_where(search, point)}: {err}") from err


def _where(search, point):
    """``size_budgets[1]=10``: the entries of the search's lists that make ``point``."""
    names = []
    for budget, value in point._asdict().items():
        given = getattr(search, budget + "s")
        if value is None or given is None:
            continue
        values = list(np.atleast_1d(np.asarray(given, dtype=object)))
        index = next((i for i, v in enumerate(values) if v is not None and v == value), None)
        names.append(f"{budget}s={value:g}" if np.ndim(given) == 0 or index is None
                     else f"{budget}s[{index}]={value:g}")
    return ", ".join(names) or "the point without budgets"


def _path_through(template, X, y, sample_weight, points):
    """:func:`budget_path` through exactly these points (largest first)."""
    return budget_path(template, X, y, sample_weight=sample_weight,
                       bit_budgets=[p.bit_budget for p in points],
                       activation_bit_budgets=[p.activation_bit_budget for p in points],
                       size_budgets=[p.size_budget for p in points])


def check_alphas(alphas, alpha):
    """The penalties to search: ``alphas`` as a list of floats, or ``[alpha]`` when None."""
    if alphas is None:
        return [float(alpha)]
    try:
        values = np.asarray(alphas, dtype=float)
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(
            values < 0):
        raise ValueError(f"alphas must be a non-empty list of finite penalties >= 0, such as "
                         f"[1e-4, 1e-2, 1]; got {alphas!r}. Use None to keep alpha={alpha}.")
    return values.tolist()


def _cv_results(points, alphas, folds):
    """``cv_results_``: one entry per (alpha, budget point), fold scores, means, stds, ranks.

    ``folds[a][k][i]`` holds the scores of point ``i`` on fold ``k`` with ``alphas[a]``.
    """
    grid = [(alpha, point) for alpha in alphas for point in points]
    results = {f"param_{name}": np.array([getattr(p, name) for _, p in grid], dtype=object)
               for name in _BUDGETS}
    results["param_alpha"] = np.array([alpha for alpha, _ in grid], dtype=object)
    results["params"] = [dict(alpha=alpha, **p._asdict()) for alpha, p in grid]
    for metric in ("score", "weight_bits", "activation_bits", "size", "fit_time"):
        values = np.array([[fold[i][metric] for fold in folds[a]]
                           for a in range(len(alphas)) for i in range(len(points))],
                          dtype=float)
        if metric == "score":
            for k in range(values.shape[1]):
                results[f"split{k}_test_score"] = values[:, k]
        name = "mean_fit_time" if metric == "fit_time" else f"mean_test_{metric}"
        results[name] = values.mean(1)
        if metric != "fit_time":
            results[name.replace("mean_", "std_")] = values.std(1)
    scores = results["mean_test_score"]
    # As GridSearchCV: rank 1 is the best mean score; ties share the lowest rank.
    results["rank_test_score"] = (np.searchsorted(np.sort(-scores), -scores) + 1).astype(int)
    return results


class BudgetSearchMixin:
    """The CV estimators' constructor and ``fit``; the plain estimator's class is ``_plain``.

    Both CV estimators take the same parameters (the plain estimators share
    theirs), so the one constructor here is each one's signature.
    """

    _plain = None

    def __init__(
        self,
        hidden_layer_sizes="auto",
        *,
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=0.0001,
        verbose=False,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        bit_price=0.02,
        activation_bit_price=0.002,
        weight_bits=(1, 2, 4, 8),
        activation_bits=(4, 8, 16),
        input_bits=8,
        input_clip="auto",
        granularity="neuron",
        quantize=True,
        strength_learning_rate=0.01,
        gate_temperature=0.1,
        device="cpu",
        n_threads=1,
        bit_budgets=(1, 1.5, 2, 3, 4, None),
        activation_bit_budgets=None,
        size_budgets=None,
        alphas=None,
        cv=None,
        scoring=None,
        tolerance=0.0,
        n_jobs=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.bit_price = bit_price
        self.activation_bit_price = activation_bit_price
        self.weight_bits = weight_bits
        self.activation_bits = activation_bits
        self.input_bits = input_bits
        self.input_clip = input_clip
        self.granularity = granularity
        self.quantize = quantize
        self.strength_learning_rate = strength_learning_rate
        self.gate_temperature = gate_temperature
        self.device = device
        self.n_threads = n_threads
        self.bit_budgets = bit_budgets
        self.activation_bit_budgets = activation_bit_budgets
        self.size_budgets = size_budgets
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.tolerance = tolerance
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate the budget path, choose a budget, refit it on all rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets as the plain estimator takes them (labels, an indicator
            matrix, or values).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows of every fit (scores are unweighted).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a grouped ``cv`` splitter.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._search_fit(X, y, sample_weight, groups)

    @available_if(lambda self: False)
    def partial_fit(self, X, y, *args, **kwargs):
        """Not available: a stream has no folds to choose a budget on."""

    def _template(self):
        """The plain estimator with this one's parameters (budgets set along the path)."""
        params = self.get_params(deep=False)
        return self._plain(**{k: v for k, v in params.items() if k not in SEARCH_PARAMETERS})

    def _search_fit(self, X, y, sample_weight, groups):
        if not self.quantize:
            raise ValueError("quantize=False trains a float network: there is no budget to "
                             "cross-validate. Use the plain estimator.")
        # Validated once, as the plain estimator does (the folds' fits see arrays).
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=self._y_numeric())
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
        X, y, groups = indexable(X, y, groups)
        template = self._template()
        points = path_points(self.bit_budgets, self.activation_bit_budgets, self.size_budgets)
        alphas = check_alphas(self.alphas, self.alpha)
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        scorer = check_scoring(template, scoring=self.scoring)
        check_points(self, template, X, y, points)
        splits = list(cv.split(X, y, groups))
        # One path per penalty and fold, as ElasticNetCV runs one per l1_ratio.
        runs = Parallel(n_jobs=self.n_jobs)(
            delayed(_path_scores)(clone(template).set_params(alpha=alpha), X, y, sample_weight,
                                  train, test, points, scorer, (k, len(splits)))
            for alpha in alphas for k, (train, test) in enumerate(splits)
        )
        n = len(splits)
        folds = [runs[a * n:(a + 1) * n] for a in range(len(alphas))]
        self.cv_results_ = _cv_results(points, alphas, folds)
        refit = smallest_within_tolerance(self.tolerance, score="score", size="size")
        self.best_index_ = refit(self.cv_results_)
        best_point = points[self.best_index_ % len(points)]
        self.alpha_ = alphas[self.best_index_ // len(points)]
        self.bit_budget_ = best_point.bit_budget
        self.activation_bit_budget_ = best_point.activation_bit_budget
        self.size_budget_ = best_point.size_budget
        self.n_splits_ = len(splits)
        # A fit of its own at the chosen budget, on every row: a path's points
        # trail such fits, a little along bits and most along bytes, where
        # the path prunes (benchmarks/results/budget_path.md, size_path.md).
        best = clone(template).set_params(alpha=self.alpha_, **best_point._asdict())
        best.fit(X, y, sample_weight=sample_weight)
        parameters = set(best.get_params(deep=False))
        for name, value in vars(best).items():
            if name not in parameters:
                setattr(self, name, value)
        return self
