"""The estimators' input step: standardization statistics and codes, dense or sparse.

The statistics are weighted by ``sample_weight`` (a sample of weight k counts
as k copies). Sparse columns give them without densifying the matrix: the
non-zeros of each column contribute their own terms, the implicit zeros one
term each for their total weight.
"""

import numpy as np
import scipy.sparse as sp

from .runtime._rows import encode_rows, row_blocks

_OVERFLOW_HELP = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed: {what} of feature(s) {cols} overflow float64. Rescale "
    "them before this estimator (a log transform, or a MaxAbsScaler in the pipeline)."
)


def _sparse_moments(X, w):
    X = sp.csc_matrix(X)
    counts = np.diff(X.indptr)
    cols = np.repeat(np.arange(X.shape[1]), counts)
    wn = w[X.indices]
    total = w.sum()
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.bincount(cols, wn * X.data, minlength=X.shape[1]) / total
        zero_weight = total - np.bincount(cols, wn, minlength=X.shape[1])
        sq = np.bincount(cols, wn * (X.data - mean[cols]) ** 2, minlength=X.shape[1])
        var = (sq + zero_weight.clip(min=0) * mean**2) / total
    return mean, var


def _dense_moments(X, w):
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.average(X, axis=0, weights=w)
        var = np.average((X - mean) ** 2, axis=0, weights=w)
    return mean, var


def is_constant(mean, var):
    """Columns whose spread is below float64 resolution at their mean (boolean array)."""
    return np.sqrt(var) < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)


def rounding_free_variance(mean, var, n_rows):
    """``var`` with the columns whose variance is only rounding error set to 0.

    The mean of ``n_rows`` copies of a value that float64 cannot hold is off
    by up to about ``n_rows`` ulps, and so are the deviations from it: a
    constant column then has a tiny non-zero variance, which would become a
    scale that multiplies its codes by 1e14. The bound is scikit-learn's
    (``StandardScaler``'s test for constant features).
    """
    eps = np.finfo(np.float64).eps
    bound = n_rows * eps * var + (n_rows * mean * eps) ** 2
    return np.where(var <= bound, 0.0, var)


def scale_of(mean, var):
    """Standard deviations from variances; 1 for a (numerically) constant column."""
    return np.where(is_constant(mean, var), 1.0, np.sqrt(var))


def binary_columns(X):
    """Columns of ``X`` whose every value is 0 or 1 (boolean array): one-hot, indicators.

    Their input steps are stored as two int8 codes
    (:func:`~skqat.runtime._rows.binary_input_steps`). Implicit zeros of a
    sparse matrix count as 0.

    Examples
    --------
    >>> binary_columns(np.array([[0.0, 1.0, 0.5], [1.0, 1.0, 1.0]])).tolist()
    [True, True, False]
    """
    if not sp.issparse(X):
        X = np.asarray(X)
        return np.all((X == 0) | (X == 1), axis=0)
    # The stored values' columns, without a converted copy of a CSR matrix.
    if X.format == "csr":
        cols = X.indices
    else:
        X = sp.csc_matrix(X)
        cols = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
    other = (X.data != 0) & (X.data != 1)
    return np.bincount(cols[other], minlength=X.shape[1]) == 0


def input_statistics(X, sample_weight, raw_variance=False):
    """Weighted mean and standard deviation of every column of ``X``.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
        Non-negative; all zeros counts every sample once.
    raw_variance : bool, default=False
        Return the variances themselves (for running moments) instead of
        the scales.

    Returns
    -------
    mean, scale : ndarray of float64, shape (n_features,)
        A constant column gets scale 1 (with ``raw_variance``: the variance).

    Raises
    ------
    ValueError
        If a statistic overflows float64 (values near the float64 maximum).
    """
    w = sample_weight if sample_weight.sum() > 0 else np.ones_like(sample_weight)
    mean, var = _sparse_moments(X, w) if sp.issparse(X) else _dense_moments(X, w)
    for what, stat in (("the mean", mean), ("the variance", var)):
        bad = np.flatnonzero(~np.isfinite(stat))
        if bad.size:
            raise ValueError(_OVERFLOW_HELP.format(what=what, cols=bad[:10].tolist()))
    var = rounding_free_variance(mean, var, X.shape[0])
    return (mean, var) if raw_variance else (mean, scale_of(mean, var))


def float_forward(X, *, coefs, intercepts, scale, offset):
    """Outputs of the float network for dense or sparse rows, a block at a time."""
    n_out = intercepts[-1].shape[0]
    out = np.empty((X.shape[0], n_out))
    for rows, block in row_blocks(X):
        a = encode_rows(block, scale=scale, offset=offset, bits=None)
        for i, (w, b) in enumerate(zip(coefs, intercepts)):
            a = a @ w + b
            if i < len(coefs) - 1:
                np.maximum(a, 0.0, out=a)
        out[rows] = a
    return out
