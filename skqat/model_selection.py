"""Choosing a budget: size scorers, a smallest-within-tolerance refit, a width for a size.

One ``GridSearchCV`` with multi-metric scoring gives the whole trade-off:
the task score next to the model's size for every candidate. The refit
callable then picks the smallest model whose score is within a tolerance of
the best::

    from sklearn.model_selection import GridSearchCV
    from skqat.model_selection import (mean_weight_bits_scorer, model_size_scorer,
                                       smallest_within_tolerance)

    search = GridSearchCV(
        pipeline, {"nmpqatregressor__bit_budget": [1, 2, 3, None]},
        scoring={"score": "r2", "weight_bits": mean_weight_bits_scorer,
                 "size": model_size_scorer},
        refit=smallest_within_tolerance(0.01, score="score", size="size"),
    )

The size "scorers" report the fitted model's own attribute (the data are not
used), averaged over the folds like any score; smaller is better for them,
which only the refit callable needs to know.

With a callable refit and several metrics, scikit-learn sets no
``best_score_`` and ``search.score`` raises a ``KeyError``: score the chosen
model by name, ``search.scorer_["score"](search.best_estimator_, X, y)``,
and read its cross-validated score from
``search.cv_results_["mean_test_score"][search.best_index_]``.
"""

import numpy as np

from ._size_budget import starting_width

__all__ = ["mean_weight_bits_scorer", "mean_activation_bits_scorer", "model_size_scorer",
           "smallest_within_tolerance", "starting_width"]


def _final(estimator):
    # A Pipeline's last step, or the estimator itself.
    return getattr(estimator, "_final_estimator", estimator)


def mean_weight_bits_scorer(estimator, X=None, y=None):
    """The fitted model's mean weight bits (fan-in weighted); a scorer for ``scoring=``.

    Parameters
    ----------
    estimator : fitted NMP-QAT estimator, or a Pipeline ending in one
    X, y : ignored
        Present for the scorer signature.

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, max_iter=5,
    ...                        random_state=0).fit(X, y)
    >>> mean_weight_bits_scorer(clf) <= 2
    True
    """
    return float(_final(estimator).mean_weight_bits_)


def mean_activation_bits_scorer(estimator, X=None, y=None):
    """The fitted model's mean activation bits over hidden neurons; a scorer.

    Parameters
    ----------
    estimator : fitted NMP-QAT estimator, or a Pipeline ending in one
    X, y : ignored

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(8,), activation_bit_budget=8, max_iter=5,
    ...                        random_state=0).fit(X, y)
    >>> mean_activation_bits_scorer(clf) <= 8
    True
    """
    return float(_final(estimator).mean_activation_bits_)


def model_size_scorer(estimator, X=None, y=None):
    """The fitted model's size in bytes (``model_size_bytes_``); a scorer.

    Parameters
    ----------
    estimator : fitted NMP-QAT estimator, or a Pipeline ending in one
    X, y : ignored

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, max_iter=5,
    ...                        random_state=0).fit(X, y)
    >>> model_size_scorer(clf) == clf.model_size_bytes_
    True
    """
    return float(_final(estimator).model_size_bytes_)


class smallest_within_tolerance:  # noqa: N801 - used like a function, as refit=
    """Refit callable: the smallest candidate whose score is within ``tolerance`` of the best.

    Parameters
    ----------
    tolerance : float, default=0.01
        How much mean test score may be given up for a smaller model.
        ``0`` picks the best score (the smallest model among exact ties).
    score : str, default="score"
        Name of the task metric in ``scoring`` (higher is better).
    size : str, default="size"
        Name of the size metric in ``scoring`` (smaller is better), e.g. one
        computed by :func:`model_size_scorer` or :func:`mean_weight_bits_scorer`.
    relative : bool, default=False
        Read ``tolerance`` as a fraction of the best score's magnitude.

    Notes
    -----
    With this refit the search has no ``best_score_``, and its ``score``
    method raises a ``KeyError`` (scikit-learn's rule for a callable refit
    with several metrics). Score the chosen model by name instead:
    ``search.scorer_[score](search.best_estimator_, X, y)``, and
    ``search.cv_results_[f"mean_test_{score}"][search.best_index_]``.

    Examples
    --------
    >>> refit = smallest_within_tolerance(0.01)
    >>> refit({"mean_test_score": [0.90, 0.895, 0.80], "mean_test_size": [900, 500, 100]})
    1
    >>> smallest_within_tolerance(0)({"mean_test_score": [0.90, 0.895, 0.80],
    ...                               "mean_test_size": [900, 500, 100]})
    0
    """

    def __init__(self, tolerance=0.01, score="score", size="size", relative=False):
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {tolerance}.")
        self.tolerance = tolerance
        self.score = score
        self.size = size
        self.relative = relative

    def __call__(self, cv_results):
        """Index of the chosen candidate in ``cv_results``."""
        keys = (f"mean_test_{self.score}", f"mean_test_{self.size}")
        missing = [k for k in keys if k not in cv_results]
        if missing:
            raise KeyError(
                f"cv_results has no {missing}: pass scoring={{'{self.score}': ..., "
                f"'{self.size}': ...}} to the search, or name the metrics with "
                "smallest_within_tolerance(score=..., size=...)."
            )
        scores = np.asarray(cv_results[keys[0]], dtype=float)
        sizes = np.asarray(cv_results[keys[1]], dtype=float)
        finite = np.isfinite(scores)
        if not finite.any():
            raise ValueError("Every candidate failed: no finite score to choose from.")
        best = scores[finite].max()
        margin = self.tolerance * (abs(best) if self.relative else 1.0)
        eligible = np.flatnonzero(finite & (scores >= best - margin))
        # Smallest size first; among equal sizes, the higher score.
        order = np.lexsort((-scores[eligible], sizes[eligible]))
        return int(eligible[order[0]])

    def __repr__(self):
        return (f"smallest_within_tolerance(tolerance={self.tolerance!r}, score={self.score!r}, "
                f"size={self.size!r}, relative={self.relative!r})")
