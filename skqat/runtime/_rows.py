"""Input rows, dense or sparse, a block at a time, and their codes (numpy only).

Sparse inputs are recognised by their methods (``tocsr``, ``toarray``), so
that this path needs no scipy: a device without it never sees one.
"""

import numpy as np

# Elements densified at once: 4 Mi float64 values, 32 MiB.
_BLOCK_ELEMENTS = 2**22
_MAX_BLOCK_ROWS = 4096


def is_sparse(X):
    """Whether ``X`` is a scipy sparse matrix or array (duck-typed)."""
    return hasattr(X, "tocsr") and hasattr(X, "toarray") and not isinstance(X, np.ndarray)


def check_rows(X, n_features):
    """``X`` as a float64 array, or a CSR matrix, of shape (n_samples, n_features).

    Raises
    ------
    ValueError
        If ``X`` is not two-dimensional with ``n_features`` columns.
    """
    X = X.tocsr() if is_sparse(X) else np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must have shape (n_samples, {n_features}), got {X.shape}.")
    return X


def block_rows(n_features):
    """Rows per block: at most 4096 (intermediate arrays stay in cache) and 4 Mi values."""
    return max(1, min(_MAX_BLOCK_ROWS, _BLOCK_ELEMENTS // max(n_features, 1)))


def row_blocks(X):
    """``(rows, block)`` pairs: slices of ``X`` and their rows as dense float64.

    Sparse blocks are densified one at a time (see :func:`block_rows`).

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        As :func:`check_rows` returns it.
    """
    n, size = X.shape[0], block_rows(X.shape[1])
    for start in range(0, n, size):
        rows = slice(start, min(start + size, n))
        block = X[rows]
        yield rows, (block.toarray().astype(np.float64, copy=False) if is_sparse(X) else block)


def input_codes(X, scale, offset, bits):
    """Input codes as float64 integers: ``floor(clip(x * scale + offset, -Q, Q) + 1/2)`` in float32.

    ``Q = 2^(bits - 1) - 1``; NaN gives 0. Every step is one IEEE float32
    operation (``x`` rounded to float32, then the product, the sum and the
    ``+ 1/2`` each rounded to float32, no fused multiply-add), exactly as the
    C export computes it on a microcontroller without double precision.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    scale, offset : ndarray of shape (n_features,)
        Rounded to float32 (the graph stores them so).
    bits : int

    Returns
    -------
    ndarray of float64, shape (n_samples, n_features)
    """
    qmax = np.float32(2 ** (bits - 1) - 1)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: +-inf, clipped below
        v = np.asarray(X).astype(np.float32)
        v *= np.asarray(scale, dtype=np.float32)
        v += np.asarray(offset, dtype=np.float32)
    np.clip(v, -qmax, qmax, out=v)
    v[np.isnan(v)] = 0.0
    v += np.float32(0.5)
    return np.floor(v, out=v).astype(np.float64)


def encode_rows(X, *, scale, offset, bits):
    """Input codes (float64) of dense rows ``X``, as the first layer takes them.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    scale, offset : ndarray of float64, shape (n_features,)
        ``x * scale + offset`` is the input in units of one code (in float32
        when ``bits`` is given: :func:`input_codes`).
    bits : int or None
        Signed code bit-width (the graph's rounded and clipped input step),
        or None for the float network (standardized inputs, no rounding).
    """
    X = np.asarray(X, dtype=np.float64)
    if bits is None:
        return X * scale + offset
    return input_codes(X, scale, offset, bits)
