"""Quantizer math: small pure functions on torch tensors.

Nothing here holds state or parameters. The layers (``layers.py``) and the
straight-through autograd functions (``ste.py``) call these; the test suite
checks them exactly against an independent integer implementation.

Conventions
-----------
* A *neuron* owns one row of a weight matrix ``w`` of shape ``(n_out, n_in)``
  and one column of an activation matrix of shape ``(n_samples, n_out)``.
* ``K`` candidate bit-widths, sorted ascending, split the strength interval
  ``[0, 1]`` into ``K`` equal regions at the thresholds ``t_k = k / K``.
* Weights are quantized symmetrically per neuron: 1 bit is ``{-s, +s}``
  (sign), ``b >= 2`` bits are the integers ``[-(2^(b-1) - 1), 2^(b-1) - 1]``
  times a per-neuron step ``s``; 0 bits is the row of zeros (the neuron is
  pruned: its bias is 0 too, so its activation is 0).
* Activations (after ReLU) are quantized unsigned: integers ``[0, 2^b - 1]``
  times a step that the whole layer shares, so a neuron's bit-width sets its
  clipping level ``step * (2^b - 1)``. One step per layer keeps the next
  layer's input codes in one unit (see ``layers.QuantReLU`` for why).
"""

import functools
from typing import NamedTuple

import numpy as np
import torch

from .rows import WeightRows, weight_rows

# The smallest step (an all-zero row's).
_SCALE_FLOOR = 1e-12

@functools.lru_cache(maxsize=None)
def _thresholds(n_candidates, device, dtype):
    return torch.arange(1, n_candidates, device=device, dtype=dtype) / n_candidates


def thresholds(n_candidates, device=None, dtype=torch.float32):
    """Strength thresholds ``k / K`` for ``k = 1 .. K - 1``.

    Parameters
    ----------
    n_candidates : int
        Number ``K`` of candidate bit-widths.
    device : torch.device, default=None
        Device of the returned tensor.
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    torch.Tensor of shape (K - 1,)
        Cached: do not modify it in place.
    """
    return _thresholds(n_candidates, torch.device(device or "cpu"), dtype)


def strength_to_level(strength, n_candidates):
    """Index of the candidate bit-width that each strength selects.

    Parameters
    ----------
    strength : torch.Tensor
        Precision strengths in ``[0, 1]``.
    n_candidates : int
        Number ``K`` of candidates.

    Returns
    -------
    torch.Tensor of int64, same shape as ``strength``, values in ``[0, K)``.
    """
    # The number of thresholds at or below each strength.
    return torch.bucketize(strength.detach(),
                           thresholds(n_candidates, strength.device, strength.dtype), right=True)


def strength_level_numpy(strength, n_candidates):
    """:func:`strength_to_level` of a numpy array of strengths (the same comparisons)."""
    strength = np.asarray(strength)
    return np.searchsorted(_numpy_thresholds(n_candidates, strength.dtype), strength,
                           side="right")


@functools.lru_cache(maxsize=None)
def _numpy_thresholds(n_candidates, dtype):
    bounds = np.arange(1, n_candidates, dtype=dtype) / np.dtype(dtype).type(n_candidates)
    bounds.flags.writeable = False  # cached: shared by every caller
    return bounds


def level_center(level, n_candidates):
    """The strength in the middle of a level's region, ``(level + 0.5) / K``."""
    return (level + 0.5) / n_candidates


def expected_bits(strength, candidates, temperature):
    """Gate-weighted (soft, differentiable) bit-width of each strength.

    Parameters
    ----------
    strength : torch.Tensor
    candidates : sequence of int
        Candidate bit-widths, ascending.
    temperature : float

    Returns
    -------
    torch.Tensor, same shape as ``strength``.
    """
    k = len(candidates)
    if k == 1:
        return torch.full_like(strength, float(candidates[0]))
    t = thresholds(k, strength.device, strength.dtype)
    u = torch.sigmoid((strength.unsqueeze(-1) - t) / temperature)
    steps = _candidate_gaps(tuple(candidates), strength.dtype, strength.device)
    return candidates[0] + (u * steps).sum(-1)


def host_gate(strength, threshold, temperature):
    """The gate ``sigmoid((s - t) / T)`` on the host, in float64 (broadcast)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(strength, dtype=np.float64) - threshold)
                               / temperature))


def _host_gates(strength, candidates, temperature):
    # u_k at every threshold, (..., K - 1), and the gaps b_k - b_{k-1}.
    k = len(candidates)
    return (host_gate(np.asarray(strength)[..., None], np.arange(1, k) / k, temperature),
            np.diff(candidates))


def expected_bits_numpy(strength, candidates, temperature):
    """:func:`expected_bits` on the host: numpy strengths in, float64 out (no gradient)."""
    u, gaps = _host_gates(strength, candidates, temperature)
    return candidates[0] + (u * gaps).sum(-1)


def expected_bits_slope(strength, candidates, temperature):
    """Derivative of :func:`expected_bits` with respect to each strength, on the host.

    ``sum_k (b_k - b_{k-1}) u_k (1 - u_k) / T`` over every threshold ``k``:
    the training step adds the budget penalty's gradient with it directly.
    A few numbers per neuron: numpy's work, not tensor operations.

    Parameters
    ----------
    strength : ndarray
    candidates : sequence of int
    temperature : float

    Returns
    -------
    ndarray of float64, the shape of ``strength``
    """
    u, gaps = _host_gates(strength, candidates, temperature)
    return (gaps * u * (1.0 - u)).sum(-1) / temperature


@functools.lru_cache(maxsize=None)
def _candidate_gaps(candidates, dtype, device):
    # b_k - b_{k-1}: what crossing threshold k adds to the expected bits.
    return torch.tensor([b - a for a, b in zip(candidates[:-1], candidates[1:])],
                        dtype=dtype, device=device)


def _as_rows(w, bits, shape=None):
    if isinstance(bits, WeightRows):
        return bits
    bits = torch.as_tensor(bits, device=w.device)
    return weight_rows(bits.expand(shape if shape is not None else (w.shape[0],)), w.dtype)


class RowStats(NamedTuple):
    """Per-row statistics of a weight matrix ``w`` of shape (n_out, n_in).

    Attributes
    ----------
    abs_sum : torch.Tensor of shape (n_out,) or None
        Sum of magnitudes (``n_in`` times the 1-bit step).
    norm : torch.Tensor of shape (n_out,) or None
        Euclidean norm (``sqrt(n_in)`` times the root mean square).
    amax : torch.Tensor of shape (n_out,) or None
        Largest magnitude.
    fan_in : int
        ``n_in``.
    """

    abs_sum: torch.Tensor | None
    norm: torch.Tensor | None
    amax: torch.Tensor | None
    fan_in: int


def weight_row_stats(w, one_bit=True, multi_bit=True):
    """Per-row statistics that every weight step derives from.

    Computed once per weight matrix, they give the step of any bit-width
    (:func:`step_from_stats`): the training backward pass needs the steps of
    the bits beside each row's own, and this keeps it to one pass over the
    matrix.

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    one_bit, multi_bit : bool, default=True
        Whether some row is at 1 bit (which needs the sum of magnitudes),
        and some at more (the norm and the largest magnitude); what is not
        needed is None.

    Returns
    -------
    RowStats
    """
    # Plain reductions of one absolute value: torch's 1- and inf-norm kernels
    # along a row are several times slower on CPU.
    a = w.abs()
    abs_sum = a.sum(1) if one_bit else None
    if not multi_bit:
        return RowStats(abs_sum, None, None, w.shape[1])
    return RowStats(abs_sum, torch.linalg.vector_norm(w, 2, dim=1), a.amax(1), w.shape[1])


def row_stats_for(w, *rows):
    """:func:`weight_row_stats` of ``w`` with what the given :class:`WeightRows` need."""
    return weight_row_stats(w, one_bit=any(r.any_one_bit for r in rows),
                            multi_bit=not all(r.all_one_bit for r in rows))


def step_from_stats(stats, bits):
    """Per-neuron weight steps from :func:`weight_row_stats`.

    1 bit uses the mean absolute value (the L2-optimal level of a sign
    quantizer); more bits use the Gaussian-optimal clipping level (a multiple
    of the root mean square), never beyond the row's largest magnitude. The
    divisions are products by constants of the rows (:meth:`WeightRows.scales`),
    and a layer of mixed rows takes both rules in one sum (each row's other
    term is multiplied by 0): a row's step does not depend on the other rows.

    Parameters
    ----------
    stats : RowStats
    bits : WeightRows or torch.Tensor of int64
        Bit-widths that broadcast against ``(n_out,)``: one per row, or a
        column ``(K, 1)`` of candidates for a ``(K, n_out)`` result.

    Returns
    -------
    torch.Tensor, the broadcast shape of ``bits`` and ``(n_out,)``.
    """
    if not isinstance(bits, WeightRows):
        ref = stats.norm if stats.norm is not None else stats.abs_sum
        shape = torch.broadcast_shapes(torch.as_tensor(bits).shape, ref.shape)
        bits = _as_rows(ref, bits, shape)
    clip_per_norm, one_bit_scale = bits.scales(stats.fan_in)
    if bits.all_one_bit:
        return torch.mul(stats.abs_sum, one_bit_scale).clamp_min_(_SCALE_FLOOR)
    step = torch.minimum(stats.norm * clip_per_norm, stats.amax).mul_(bits.inv_qmax)
    if bits.any_one_bit:  # inv_qmax is 0 there, and one_bit_scale 0 elsewhere
        step = step.addcmul_(stats.abs_sum, one_bit_scale)
    return step.clamp_min_(_SCALE_FLOOR)


def weight_step(w, bits):
    """Per-neuron step of a symmetric quantizer for the rows of ``w``.

    See :func:`step_from_stats` for the rule.

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    bits : int or torch.Tensor of shape (n_out,) or (1,)
        One bit-width for all rows, or one per row.

    Returns
    -------
    torch.Tensor of shape (n_out,)
    """
    rows = _as_rows(w, bits)
    return step_from_stats(row_stats_for(w, rows), rows)


def quantize_weight_int(w, bits, step):
    """Integer codes of the rows of ``w`` for given bit-widths and steps.

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    bits : int, torch.Tensor or WeightRows
        Bit-widths per row, of shape (n_out,), (1,) or (K, 1) (a column of
        ``K`` candidates gives ``K`` stacked quantizations of ``w``), or
        (K, n_out) (a bit-width per candidate and row).
    step : torch.Tensor of shape (n_out,) or (K, n_out)
        Step of each row (and candidate).

    Returns
    -------
    torch.Tensor of shape ``step.shape + (n_in,)``, float dtype holding integers.
    """
    rows = _as_rows(w, bits, step.shape)
    if rows.all_one_bit:
        return sign_codes(w).expand(step.shape + w.shape[-1:]).clone()
    return _multi_bit_codes(w, rows, step.unsqueeze(-1))


def _rounded_codes(w, rows, divisor, out=None):
    # round(w / divisor), clipped to each row's largest code.
    codes = torch.div(w, divisor, out=out).round_()
    if rows.same_qmax is not None:
        return codes.clamp_(-rows.same_qmax, rows.same_qmax)
    # Two in-place passes: clamp with tensor bounds is several times slower on CPU.
    codes = torch.minimum(codes, rows.qmax, out=codes)
    return torch.maximum(codes, rows.neg_qmax, out=codes)


def _multi_bit_codes(w, rows, column):
    # Rows not all at 1 bit; ``column`` is the step as a column.
    codes = _rounded_codes(w, rows, column)
    if rows.any_one_bit:
        # lerp with a 0/1 weight selects exactly (and, like the sign below,
        # avoids boolean tensors, which are slow elementwise on CPU).
        codes = torch.lerp(codes, sign_codes(w), rows.one_bit_column)
    return codes


def training_codes(w, rows, step, out=None):
    """:func:`quantize_weight_int`'s codes in the training step's fewest tensor operations.

    A layer whose rows are not all at 1 bit rounds and clips every row in
    the same passes: a 1-bit row is divided by a step far below any weight
    (1e-30), and its clip at 1 leaves the sign. That spares the sign codes
    and their selection, two passes over the matrix, on every batch. The
    codes are :func:`quantize_weight_int`'s but at a weight within 1e-30 of 0
    in a 1-bit row (0 here, +1 or -1 there), which a trained layer does not
    hold; the exported graph takes :func:`quantize_weight_int`'s.

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    rows : WeightRows
        Of the shape of ``step``, not all at 1 bit.
    step : torch.Tensor of shape (n_out,)
        Step of each row.
    out : torch.Tensor of ``w``'s shape, default=None
        Where to write the codes (a temporary's memory); None makes a tensor.

    Returns
    -------
    torch.Tensor of shape (n_out, n_in), float dtype holding integers.
    """
    column = step.unsqueeze(-1)
    if not rows.any_one_bit:
        return _rounded_codes(w, rows, column, out)
    return _rounded_codes(w, rows, torch.lerp(column, _tiny(w.dtype, w.device),
                                              rows.one_bit_column), out)


@functools.lru_cache(maxsize=None)
def _tiny(dtype, device):
    # The 1-bit rows' divisor in training_codes (cached, never modified).
    return torch.full((), 1e-30, dtype=dtype, device=device)


def fake_quantize_rows(w, rows, step, signs=None):
    """``codes * step`` of the rows of ``w``, in ``w``'s units: what a dense layer multiplies by.

    :func:`training_codes` times each row's step, in the fewest tensor
    operations (the training step runs it on every batch).

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    rows : WeightRows
        Of shape (n_out,).
    step : torch.Tensor of shape (n_out,)
    signs : torch.Tensor of shape (n_out, n_in), default=None
        :func:`sign_codes` of ``w``, when the caller has them (rows all at 1 bit).

    Returns
    -------
    torch.Tensor of shape (n_out, n_in)
    """
    column = step.unsqueeze(-1)
    if rows.all_one_bit:
        return (sign_codes(w) if signs is None else signs).mul(column)
    return training_codes(w, rows, step).mul_(column)


def sign_codes(w):
    """Codes of a 1-bit (sign) quantizer: the sign bit of ``w`` as +1 or -1.

    +1 for ``w > 0`` and for +0.0, -1 for ``w < 0`` and for -0.0: one
    operation (a zero is +1 or -1 alike for the quantizer, and training
    never makes a -0.0 weight).
    """
    return torch.copysign(_one(w.dtype, w.device), w)


@functools.lru_cache(maxsize=None)
def _one(dtype, device):
    # A cached constant (never modified): copysign takes its magnitude from a tensor.
    return torch.ones((), dtype=dtype, device=device)


def quantize_weight(w, bits):
    """Fake-quantize the rows of ``w`` (one bit-width, or one per row); ``w``'s units."""
    step = weight_step(w, bits)
    return quantize_weight_int(w, bits, step) * step.unsqueeze(1)


def activation_qmax(bits):
    """Largest unsigned code ``2^bits - 1`` (int or float tensor ``bits``)."""
    return 2.0 ** bits - 1.0


def quantize_activation_int(y, step, bits):
    """Unsigned integer codes of ``relu(y)`` at ``bits`` bits and a given step.

    Parameters
    ----------
    y : torch.Tensor of shape (n_samples, n_out)
        Pre-activations (the ReLU is part of the quantizer).
    step : torch.Tensor of shape (1,) or (n_out,)
        Value of one code, positive.
    bits : int or torch.Tensor of shape (n_out,)

    Returns
    -------
    torch.Tensor, float dtype holding integers in ``[0, 2^bits - 1]``;
    values above the clipping level ``step * (2^bits - 1)`` saturate.
    """
    qmax = torch.as_tensor(activation_qmax(bits), dtype=y.dtype, device=y.device)
    return torch.minimum(unclipped_activation_codes(y, step), qmax)


def unclipped_activation_codes(y, step):
    """``round(relu(y) / step)``: :func:`quantize_activation_int` before its clip.

    The same for every bit-width: a caller that tries several clips it once
    per candidate.
    """
    return torch.div(y, step).clamp_min_(0.0).round_()
