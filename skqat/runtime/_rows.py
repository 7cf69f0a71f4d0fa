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
        If ``X`` is not two-dimensional with ``n_features`` columns, or holds
        NaN or an infinity: the model's features are finite, as the
        estimator's ``predict`` requires (a graph exported from a pipeline
        with an imputer takes raw rows instead, with their missing values).
    """
    X = X.tocsr() if is_sparse(X) else np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must have shape (n_samples, {n_features}), got {X.shape}.")
    values = X.data if is_sparse(X) else X
    # A finite sum proves every value finite in one pass, without a mask (as
    # scikit-learn checks); an overflowing sum falls back to the mask.
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum()
    if not np.isfinite(total) and not np.isfinite(values).all():
        rows = np.flatnonzero(~np.isfinite(X.toarray() if is_sparse(X) else X).all(axis=1))
        raise ValueError(
            f"Input X contains NaN or infinity (rows {rows[:10].tolist()}"
            f"{' and more' if rows.size > 10 else ''}): the model refuses them, as the "
            "estimator's predict does. Impute missing values before it (a SimpleImputer in "
            "the pipeline, exported with it), or drop those rows.")
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


def round_to_bfloat16(values):
    """``values`` rounded to the nearest bfloat16 (ties to even), as float32.

    A bfloat16 is the top half of a float32: the same exponent range, 8
    significant bits. Input steps rounded so take 2 bytes each in the model
    file (:func:`fits_bfloat16`) and compute as float32 exactly as before;
    their relative change, below ``2**-9``, is far below one input code.
    Values whose rounding would overflow are truncated instead.

    Examples
    --------
    >>> round_to_bfloat16([1.0, 1.00390625, 1.01171875, 0.1]).tolist()
    [1.0, 1.0, 1.015625, 0.10009765625]
    """
    v = np.asarray(values, dtype=np.float32)
    bits = v.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    overflow = ~np.isfinite(out) & np.isfinite(v)
    out[overflow] = (bits[overflow] & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return out


def fits_bfloat16(values):
    """Whether every value is a bfloat16 (its float32's low 16 bits are zero)."""
    v = np.asarray(values, dtype=np.float32)
    return not np.any(v.view(np.uint32) & 0xFFFF)


def input_codes(X, scale, offset, bits, *, finite=False, out=None):
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
    finite : bool, default=False
        ``X`` is known to hold no NaN (:func:`check_rows` has checked it), so
        no pass looks for one.
    out : ndarray of float64, shape (n_features, n_samples), optional
        Where to write the codes, feature by feature (the first layer's
        input, see :class:`~skqat.runtime._folded.FoldedLayers`).

    Returns
    -------
    ndarray of float64, shape (n_samples, n_features)
        A transposed view of the codes, which are computed feature by
        feature: each operation is then a pass over long rows with one scalar
        of ``scale`` or ``offset`` each, several times faster than a pass over
        short rows of ``n_features``.
    """
    qmax = np.float32(2 ** (bits - 1) - 1)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: +-inf, clipped below
        v = np.asarray(X).T.astype(np.float32)
        v *= np.asarray(scale, dtype=np.float32)[:, None]
        v += np.asarray(offset, dtype=np.float32)[:, None]
    np.clip(v, -qmax, qmax, out=v)
    if not finite:
        v[np.isnan(v)] = 0.0
    v += np.float32(0.5)
    if out is not None:
        return np.floor(v, out=out).T
    return np.floor(v, out=v).astype(np.float64).T


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


def binary_input_steps(scale, offset, binary, bits):
    """Input steps whose 0/1 features are their two codes: ``(c1 - c0, c0)``.

    For a feature that only takes 0 and 1, the codes ``c0`` and ``c1`` of
    those values under ``(scale, offset)`` (:func:`input_codes`) are all its
    steps say. ``x * (c1 - c0) + c0`` gives the same codes for 0 and 1, and
    the model file stores it as two int8 codes (2 bytes) instead of two
    bfloat16 values (4): :mod:`~skqat.runtime._input_steps_file`. Any other
    value of ``x`` is still encoded linearly, at an integer scale.

    Parameters
    ----------
    scale, offset : ndarray of shape (n_features,)
    binary : ndarray of bool, shape (n_features,)
        The 0/1 features.
    bits : int
        Input code bit-width; the codes fit int8 for ``bits <= 8`` only, so
        wider codes keep their steps.

    Returns
    -------
    scale, offset : ndarray of float32, shape (n_features,)

    Examples
    --------
    >>> s, c = binary_input_steps(np.array([30.7, 0.1]), np.array([-2.2, 0.0]),
    ...                           np.array([True, False]), 8)
    >>> s.tolist(), c.tolist()
    ([31.0, 0.10000000149011612], [-2.0, 0.0])
    """
    scale = np.asarray(scale, dtype=np.float32).copy()
    offset = np.asarray(offset, dtype=np.float32).copy()
    binary = np.asarray(binary, dtype=bool)
    if bits > 8 or not binary.any():
        return scale, offset
    zero, one = input_codes(np.array([[0.0], [1.0]]) * np.ones(binary.sum()),
                            scale[binary], offset[binary], bits)
    scale[binary], offset[binary] = one - zero, zero
    return scale, offset
