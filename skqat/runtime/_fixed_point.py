"""Fixed-point requantization: a real multiplier as an integer and a shift.

A positive real factor ``r`` is represented as ``M * 2**-k`` with integers
``M`` and ``k``. Requantizing an integer ``v`` is then

    ``floor((v * M + 2**(k - 1)) / 2**k)``   (``v * M`` when ``k = 0``),

that is ``v * r`` rounded to the nearest integer, **halves rounded up**
(towards plus infinity). In int64 the division by ``2**k`` is an arithmetic
right shift. ``M`` gets as many bits as the accumulator bound leaves room for
(at most 31), so that ``|v| * M + 2**k`` never reaches ``2**62``; when it
also stays below ``2**53``, the same integers are computed exactly, and
faster, in float64 (see :func:`multiplier_bits`).
"""

import math

import numpy as np


class GraphRangeError(ValueError):
    """A value of the graph is beyond what its integers and requantization can hold.

    Trained parameters that grew out of range (a training that diverged)
    end here; a malformed graph (shapes, bit-widths, the task) raises a plain
    ``ValueError``.

    Examples
    --------
    >>> from skqat.runtime import GraphRangeError, IntegerLayer
    >>> try:
    ...     IntegerLayer(weights=[[1]], weight_bits=[2], bias=[2**40], multiplier=[1], shift=[0])
    ... except GraphRangeError as err:
    ...     print(err)
    bias must hold integers in [-2147483647, 2147483647].
    """

#: Largest number of bits of a multiplier (it is stored as int32).
MAX_MULTIPLIER_BITS = 31
#: Largest right shift; with the product bound below, int64 never overflows.
MAX_SHIFT = 61
#: Every ``|v| * M + 2**k`` stays below ``2**PRODUCT_BITS``.
PRODUCT_BITS = 62
#: float64 holds every integer below ``2**FLOAT_EXACT_BITS`` exactly.
FLOAT_EXACT_BITS = 53
#: float32 holds every integer below ``2**FLOAT32_EXACT_BITS`` exactly.
FLOAT32_EXACT_BITS = 24
#: Bits a multiplier keeps below the last bit of the largest result it scales.
#: Training never sees the multiplier (its requantization is real-valued), so
#: a finer one only reproduces an unrounded scale more closely: 4 bits (a
#: relative error below 1/16 of a code) scored as 12 did on the shared tasks
#: with a byte less per neuron (``benchmarks/results/lean_fields.md``).
GUARD_BITS = 4
#: A hidden neuron's codes count as at most this many bits for its multiplier: a
#: wider code keeps the same relative precision (8 bits in all), since an
#: off-by-one code is then a small fraction of its range.
HIDDEN_CODE_BITS = 4
#: The float64 path is used when it leaves the multiplier at least this many
#: bits (the precision of the float32 steps it comes from).
FLOAT_MIN_MULTIPLIER_BITS = 24


def multiplier_bits(bound):
    """Bits a multiplier gets when the integers to requantize satisfy ``|v| <= bound``.

    Preferably ``bound * M < 2**52``: the whole requantization is then exact
    in float64 arithmetic, which the runtime uses because it is faster than
    int64 in numpy. That leaves at least :data:`FLOAT_MIN_MULTIPLIER_BITS`
    bits for all but very wide layers, which get up to 31 bits in int64.

    Parameters
    ----------
    bound : int
        Largest magnitude of the integers to requantize.

    Returns
    -------
    int

    Examples
    --------
    >>> multiplier_bits(64 * 127 * 255), multiplier_bits(2**40)
    (31, 20)
    """
    length = int(bound).bit_length()
    in_float = FLOAT_EXACT_BITS - 1 - length
    if in_float >= FLOAT_MIN_MULTIPLIER_BITS:
        return min(MAX_MULTIPLIER_BITS, in_float)
    return min(MAX_MULTIPLIER_BITS, PRODUCT_BITS - 1 - length)


def needed_multiplier_bits(bound, real, max_result=None):
    """Bits a multiplier needs: :data:`GUARD_BITS` below the last bit of the largest result.

    A multiplier of ``n`` bits has a relative error below ``2**-n``, so a
    result up to ``R`` in magnitude is off by less than ``R * 2**-n``: with
    ``n = GUARD_BITS + bit_length(R)`` the rounded result differs from the
    exactly scaled one only within ``2**-GUARD_BITS`` of a rounding tie.
    Narrower multipliers keep the model file small (and the
    requantization in 32 bits on a microcontroller more often).

    Parameters
    ----------
    bound : int
        Largest magnitude of the integers to requantize.
    real : float
        The requantization factor.
    max_result : int or None
        Largest result that matters (a hidden neuron's largest code, counted
        at most :data:`HIDDEN_CODE_BITS` wide); None: ``bound * real``, an
        output neuron's largest value.

    Returns
    -------
    int
        At most :func:`multiplier_bits` of ``bound``.

    Examples
    --------
    >>> needed_multiplier_bits(5000, 0.01, max_result=3), needed_multiplier_bits(5, 8080.0, 3)
    (6, 14)
    """
    if max_result is None:
        result_bits = (math.ceil(int(bound) * float(real)) + 1).bit_length()
    else:
        result_bits = min(int(max_result).bit_length(), HIDDEN_CODE_BITS)
    need = GUARD_BITS + max(1, result_bits)
    # A factor of 2**(e - 1) or more needs e bits with no shift, and one more in
    # case its rounding carries (a neuron whose one accumulator unit is worth
    # many codes, as a dead or saturated one can be).
    need = max(need, math.frexp(float(real))[1] + 1)
    return min(need, multiplier_bits(bound))


def exact_in_float64(bound, multiplier, shift):
    """Whether ``|v| * M + 2**k`` stays below ``2**53`` (float64 computes it exactly)."""
    return exact_in_float(bound, multiplier, shift, significand_bits=FLOAT_EXACT_BITS)


def exact_in_float(bound, multiplier, shift, *, significand_bits):
    """Whether ``|v| * M + 2**k`` stays below ``2**significand_bits``.

    24 for float32, 53 for float64: a requantization within that bound is
    computed without rounding in that precision (:class:`~skqat.runtime._folded.FoldedLayers`).
    """
    return int(bound) * int(multiplier) + (1 << int(shift)) < 1 << int(significand_bits)


def quantize_multiplier(real, n_bits):
    """The integer multiplier ``M`` and shift ``k`` with ``M * 2**-k`` closest to ``real``.

    Parameters
    ----------
    real : float
        Positive, finite factor.
    n_bits : int
        Bits of ``M``: ``2**(n_bits - 1) <= M < 2**n_bits`` unless the shift
        reaches :data:`MAX_SHIFT` (very small factors), where ``M`` is smaller.

    Returns
    -------
    (int, int)
        ``(M, k)`` with ``0 <= k <= MAX_SHIFT`` and ``0 <= M < 2**n_bits``.

    Raises
    ------
    ValueError
        If ``real`` is not positive and finite, or needs ``M >= 2**n_bits``
        with no shift left to give (a factor above ``2**(n_bits - 1)``).
    """
    if not (math.isfinite(real) and real > 0):
        raise GraphRangeError(
            f"A requantization factor must be positive and finite, got {real!r}.")
    frac, exp = math.frexp(real)  # real = frac * 2**exp, 0.5 <= frac < 1
    shift = n_bits - exp
    m = round(frac * 2**n_bits)
    if m == 2**n_bits:  # rounding carried into a new bit
        m //= 2
        shift -= 1
    if shift > MAX_SHIFT:
        m = (m + (1 << (shift - MAX_SHIFT - 1))) >> (shift - MAX_SHIFT)
        shift = MAX_SHIFT
    if shift < 0:
        raise GraphRangeError(
            f"The requantization factor {real!r} is too large for a {n_bits}-bit multiplier."
        )
    return int(m), int(shift)


def requantize(v, multiplier, shift):
    """``v * M * 2**-k`` rounded half up, in int64 (the graph's rounding rule).

    Parameters
    ----------
    v : ndarray of int64, shape (n_samples, n_neurons)
    multiplier, shift : ndarray of int64, shape (n_neurons,)

    Returns
    -------
    ndarray of int64, same shape as ``v``.

    Examples
    --------
    >>> import numpy as np
    >>> requantize(np.array([[5, -5, 6]]), np.array([1, 1, 1]), np.array([1, 1, 1]))
    array([[ 3, -2,  3]])
    """
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    return np.right_shift(v * multiplier + half, shift)
