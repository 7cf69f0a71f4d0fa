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
import math
from dataclasses import dataclass

import numpy as np
import torch

# Mean-squared-error optimal clipping level, in units of the root mean square,
# for a symmetric uniform quantizer of a Gaussian with 2^(b-1) - 1 positive
# levels (computed numerically; beyond 12 bits the max |w| always wins).
_GAUSSIAN_CLIP_RATIO = {
    2: 1.22, 3: 1.95, 4: 2.47, 5: 2.90, 6: 3.27, 7: 3.62,
    8: 3.93, 9: 4.25, 10: 4.53, 11: 4.87, 12: 5.14,
}
_SCALE_FLOOR = 1e-12
# Indexed by bit-width: the largest weight code, and the clipping ratio (1 bit
# does not use it; beyond 12 bits max |w| wins, hence a large finite ratio,
# since inf * 0 would be NaN for an all-zero row).
_QMAX = np.array([0.0, 1.0] + [2.0 ** (b - 1) - 1 for b in range(2, 17)])
_CLIP = np.array([0.0] + [_GAUSSIAN_CLIP_RATIO.get(b, 1e30) for b in range(1, 17)])
# A 0-bit row (a pruned neuron) has only the code 0; its step, which then
# multiplies nothing, is the 2-bit one (a positive number, not 0 / 0).
_STEP_QMAX = np.where(np.arange(17) == 0, _QMAX[2], _QMAX)
_STEP_CLIP = np.where(np.arange(17) == 0, _CLIP[2], _CLIP)


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


def expected_bits_slope(strength, candidates, temperature):
    """Derivative of :func:`expected_bits` with respect to each strength, same shape.

    ``sum_k (b_k - b_{k-1}) u_k (1 - u_k) / T`` over every threshold ``k``:
    the training step adds the budget penalty's gradient with it directly.
    """
    k = len(candidates)
    if k == 1:
        return torch.zeros_like(strength)
    t = thresholds(k, strength.device, strength.dtype)
    u = torch.sub(strength.unsqueeze(-1), t).div_(temperature).sigmoid_()
    steps = _candidate_gaps(tuple(candidates), strength.dtype, strength.device)
    return torch.ops.aten.sigmoid_backward(steps, u).sum(-1).div_(temperature)


@functools.lru_cache(maxsize=None)
def _candidate_gaps(candidates, dtype, device):
    # b_k - b_{k-1}: what crossing threshold k adds to the expected bits.
    return torch.tensor([b - a for a, b in zip(candidates[:-1], candidates[1:])],
                        dtype=dtype, device=device)


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64}


def host_constant(values, dtype, device):
    """A tensor of values computed on the host with numpy, in ``dtype`` on ``device``.

    The per-level constants are a few operations on at most a few hundred
    numbers: far cheaper in numpy than as many tensor operations.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=_NUMPY_DTYPES[dtype]))
    # On the host already: a no-op ``to`` is still an operator dispatch, and a
    # layer's levels hold some twenty-five of these constants.
    return tensor if device is None or torch.device(device).type == "cpu" else tensor.to(device)


@dataclass(frozen=True)
class WeightRows:
    """Constants of the symmetric weight quantizer of rows at given bit-widths.

    They depend on the bits alone: a layer builds them once per change of
    its neurons' bits (``levels.py``), and every step reuses them.

    Attributes
    ----------
    bits : torch.Tensor of int64, shape S
        One bit-width per row (S = ``(n_out,)``), or per candidate and row
        (S = ``(K, n_out)``).
    qmax, neg_qmax : torch.Tensor of shape S + (1,)
        Largest code magnitude (1 for 1 bit, 0 for 0 bits), as a float
        column, and its negative.
    step_qmax : torch.Tensor of shape S
        What the clipping level is divided by to give the step (``qmax``,
        but 1 for a 0-bit row, whose step is arbitrary).
    clip : torch.Tensor of shape S
        Clipping level in units of the row's root mean square (multi-bit rows).
    kept : torch.Tensor of shape S
        0.0 for a 0-bit (pruned) row, else 1.0: it multiplies the bias.
    one_bit : torch.Tensor of shape S + (1,)
        1.0 for a 1-bit row, else 0.0.
    any_one_bit, all_one_bit : bool
        Whether some, or all, rows are at 1 bit (the sign quantizer).
    same_qmax : float or None
        The largest code when every row has the same bits above 1 (one
        clamp with scalar bounds, the fast kernel), else None.
    """

    bits: torch.Tensor
    qmax: torch.Tensor
    neg_qmax: torch.Tensor
    step_qmax: torch.Tensor
    clip: torch.Tensor
    kept: torch.Tensor
    one_bit: torch.Tensor
    any_one_bit: bool
    all_one_bit: bool
    same_qmax: float | None


def weight_rows(bits, dtype=torch.float32, device=None):
    """The :class:`WeightRows` of bit-widths ``bits`` (any shape).

    Parameters
    ----------
    bits : ndarray or torch.Tensor of int64
        A tensor gives its device to the result.
    dtype : torch.dtype, default=torch.float32
    device : torch.device, default=None
        Where the constants go when ``bits`` is an array.
    """
    if isinstance(bits, torch.Tensor):
        device, bits = bits.device, bits.cpu().numpy()
    bits = np.asarray(bits, dtype=np.int64)
    one_bit = bits == 1
    qmax = _QMAX[bits]
    same = bits.size and bits.min() == bits.max() > 1
    return WeightRows(
        bits=host_constant(bits, torch.int64, device),
        qmax=host_constant(qmax[..., None], dtype, device),
        neg_qmax=host_constant(-qmax[..., None], dtype, device),
        step_qmax=host_constant(_STEP_QMAX[bits], dtype, device),
        clip=host_constant(_STEP_CLIP[bits], dtype, device),
        kept=host_constant(bits > 0, dtype, device),
        one_bit=host_constant(one_bit[..., None], dtype, device),
        any_one_bit=bool(one_bit.any()),
        all_one_bit=bool(one_bit.all()),
        same_qmax=float(qmax.flat[0]) if same else None,
    )


def _as_rows(w, bits, shape=None):
    if isinstance(bits, WeightRows):
        return bits
    bits = torch.as_tensor(bits, device=w.device)
    return weight_rows(bits.expand(shape if shape is not None else (w.shape[0],)), w.dtype)


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
        Whether some row is at 1 bit (which needs the mean absolute value),
        and some at more (the root mean square and the largest magnitude);
        what is not needed is None.

    Returns
    -------
    tuple of three torch.Tensor of shape (n_out,) or None
        Mean absolute value, root mean square and largest magnitude.
    """
    n = w.shape[1]
    # Plain reductions of one absolute value: torch's 1- and inf-norm kernels
    # along a row are several times slower on CPU.
    a = w.abs() if one_bit or multi_bit else None
    mean_abs = a.sum(1).div_(n) if one_bit else None
    if not multi_bit:
        return mean_abs, None, None
    return mean_abs, torch.linalg.vector_norm(w, 2, dim=1).div_(math.sqrt(n)), a.amax(1)


def row_stats_for(w, *rows):
    """:func:`weight_row_stats` of ``w`` with what the given :class:`WeightRows` need."""
    return weight_row_stats(w, one_bit=any(r.any_one_bit for r in rows),
                            multi_bit=not all(r.all_one_bit for r in rows))


def step_from_stats(stats, bits):
    """Per-neuron weight steps from :func:`weight_row_stats`.

    1 bit uses the mean absolute value (the L2-optimal level of a sign
    quantizer); more bits use the Gaussian-optimal clipping level, never beyond
    the row's largest magnitude.

    Parameters
    ----------
    stats : tuple of three torch.Tensor of shape (n_out,)
    bits : WeightRows or torch.Tensor of int64
        Bit-widths that broadcast against ``(n_out,)``: one per row, or a
        column ``(K, 1)`` of candidates for a ``(K, n_out)`` result.

    Returns
    -------
    torch.Tensor, the broadcast shape of ``bits`` and ``(n_out,)``.
    """
    mean_abs, rms, amax = stats
    if not isinstance(bits, WeightRows):
        ref = rms if rms is not None else mean_abs
        shape = torch.broadcast_shapes(torch.as_tensor(bits).shape, ref.shape)
        bits = _as_rows(ref, bits, shape)
    if bits.all_one_bit:
        return mean_abs.clamp_min(_SCALE_FLOOR).expand(bits.bits.shape)
    step = torch.minimum(bits.clip * rms, amax).div_(bits.step_qmax)
    if bits.any_one_bit:
        step = torch.lerp(step, mean_abs.expand_as(step), bits.one_bit.squeeze(-1))
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


def quantize_weight_int(w, bits, step, signs=None):
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
    signs : torch.Tensor of shape (n_out, n_in), default=None
        :func:`sign_codes` of ``w`` when the caller has them already (the
        training step reuses them for every side quantization).

    Returns
    -------
    torch.Tensor of shape ``step.shape + (n_in,)``, float dtype holding integers.
    """
    rows = _as_rows(w, bits, step.shape)
    if rows.all_one_bit:
        return (sign_codes(w) if signs is None else signs).expand(
            step.shape + w.shape[-1:]).clone()
    codes = torch.div(w, step.unsqueeze(-1)).round_()
    if rows.same_qmax is not None:
        return codes.clamp_(-rows.same_qmax, rows.same_qmax)
    # Two in-place passes: clamp with tensor bounds is several times slower on CPU.
    codes = torch.minimum(codes, rows.qmax, out=codes)
    codes = torch.maximum(codes, rows.neg_qmax, out=codes)
    if rows.any_one_bit:
        # lerp with a 0/1 weight selects exactly (and, like the sign below,
        # avoids boolean tensors, which are slow elementwise on CPU).
        signs = sign_codes(w) if signs is None else signs
        codes = torch.lerp(codes, signs.expand_as(codes), rows.one_bit)
    return codes


def sign_codes(w):
    """Codes of a 1-bit (sign) quantizer: +1 for ``w >= 0`` (zero included), else -1."""
    return torch.sign(w).add_(0.5).sign_()


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
    return torch.minimum(torch.div(y, step).clamp_min_(0.0).round_(), qmax)
