"""Inference from a fitted estimator's numpy state (no torch).

The quantized forward pass works on integer codes held in float64 arrays:
every product of a weight code (at most 16 bits) and an input code (at most
16 bits), summed over a fan-in below 2^20, stays below 2^53, so float64
matrix products are exact integer arithmetic and still use BLAS.
"""

import numpy as np


def quantize_inputs(X, mean, scale, step, bits):
    """Standardize and quantize inputs into signed ``bits``-bit codes (float64).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    mean, scale : ndarray of shape (n_features,)
        Standardization statistics.
    step : ndarray of shape (n_features,)
        Step of one code in standardized units.
    bits : int

    Returns
    -------
    ndarray of shape (n_samples, n_features), integers in
    ``[-(2^(bits-1) - 1), 2^(bits-1) - 1]``; values beyond saturate.
    """
    qmax = 2 ** (bits - 1) - 1
    return np.clip(np.rint((X - mean) / (scale * step)), -qmax, qmax)


def integer_forward(codes, graph):
    """Output of the quantized network for input codes.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_features)
        Input codes from :func:`quantize_inputs`.
    graph : dict
        As built by ``QuantMLP.export_integer``.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
        Dequantized output (logits, or standardized regression targets).
    """
    n_layers = len(graph["weights"])
    for i in range(n_layers):
        acc = codes @ graph["weights"][i].T.astype(np.float64)
        y = (acc + graph["biases"][i]) * graph["weight_steps"][i]
        if i == n_layers - 1:
            return y
        qmax = 2.0 ** graph["activation_bits"][i] - 1.0
        codes = np.clip(np.rint(y / graph["activation_steps"][i]), 0.0, qmax)


def float_forward(Z, coefs, intercepts):
    """Output of the float reference network for standardized inputs ``Z``."""
    a = Z
    for i, (w, b) in enumerate(zip(coefs, intercepts)):
        a = a @ w + b
        if i < len(coefs) - 1:
            np.maximum(a, 0.0, out=a)
    return a
