"""Quantizer math: small pure functions on torch tensors.

Nothing here holds state or parameters. The layers (``_layers.py``) and the
straight-through autograd functions (``_ste.py``) call these; the test suite
checks them exactly against an independent integer implementation.

Conventions
-----------
* A *neuron* owns one row of a weight matrix ``w`` of shape ``(n_out, n_in)``
  and one column of an activation matrix of shape ``(n_samples, n_out)``.
* ``K`` candidate bit-widths, sorted ascending, split the strength interval
  ``[0, 1]`` into ``K`` equal regions at the thresholds ``t_k = k / K``.
* Weights are quantized symmetrically per neuron: 1 bit is ``{-s, +s}``
  (sign), ``b >= 2`` bits are the integers ``[-(2^(b-1) - 1), 2^(b-1) - 1]``
  times a per-neuron step ``s``.
* Activations (after ReLU) are quantized unsigned: integers ``[0, 2^b - 1]``
  times a step that the whole layer shares, so a neuron's bit-width sets its
  clipping level ``step * (2^b - 1)``. One step per layer keeps the next
  layer's input codes in one unit (see ``_layers.QuantReLU`` for why).
"""

import functools

import torch

# Mean-squared-error optimal clipping level, in units of the root mean square,
# for a symmetric uniform quantizer of a Gaussian with 2^(b-1) - 1 positive
# levels (computed numerically; beyond 12 bits the max |w| always wins).
_GAUSSIAN_CLIP_RATIO = {
    2: 1.22, 3: 1.95, 4: 2.47, 5: 2.90, 6: 3.27, 7: 3.62,
    8: 3.93, 9: 4.25, 10: 4.53, 11: 4.87, 12: 5.14,
}
_SCALE_FLOOR = 1e-12


@functools.lru_cache(maxsize=None)
def _clip_ratio_table(device):
    # Indexed by bit-width; 1 bit does not use it, beyond 12 bits max |w| wins
    # (a large finite ratio, since inf * 0 would be NaN for an all-zero row).
    table = [0.0] + [_GAUSSIAN_CLIP_RATIO.get(b, 1e30) for b in range(1, 17)]
    return torch.tensor(table, device=device)


@functools.lru_cache(maxsize=None)
def _thresholds(n_candidates, device):
    return torch.arange(1, n_candidates, device=device, dtype=torch.float32) / n_candidates


def thresholds(n_candidates, device=None):
    """Strength thresholds ``k / K`` for ``k = 1 .. K - 1``.

    Parameters
    ----------
    n_candidates : int
        Number ``K`` of candidate bit-widths.
    device : torch.device, default=None
        Device of the returned tensor.

    Returns
    -------
    torch.Tensor of shape (K - 1,)
        Cached: do not modify it in place.
    """
    return _thresholds(n_candidates, torch.device(device or "cpu"))


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
    t = thresholds(n_candidates, strength.device)
    return (strength.detach().unsqueeze(-1) >= t).sum(-1)


def level_center(level, n_candidates):
    """The strength in the middle of a level's region, ``(level + 0.5) / K``."""
    return (level + 0.5) / n_candidates


def gate_slopes(strength, n_candidates, temperature):
    """Derivatives ``du_k / ds`` of the sigmoid steps ``u_k = sigmoid((s - t_k) / T)``.

    The smooth gates are ``g_0 = 1 - u_1``, ``g_k = u_k - u_{k+1}``,
    ``g_{K-1} = u_{K-1}``: a partition of unity. For any mixture
    ``sum_k g_k(s) Q_k``, the derivative with respect to ``s`` is
    ``sum_k u_k'(s) (Q_k - Q_{k-1})``, which is all the backward pass needs.

    Returns
    -------
    torch.Tensor of shape ``strength.shape + (K - 1,)``
    """
    t = thresholds(n_candidates, strength.device)
    u = torch.sigmoid((strength.unsqueeze(-1) - t) / temperature)
    return u * (1.0 - u) / temperature


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
    t = thresholds(k, strength.device)
    u = torch.sigmoid((strength.unsqueeze(-1) - t) / temperature)
    steps = torch.tensor(
        [b - a for a, b in zip(candidates[:-1], candidates[1:])],
        dtype=strength.dtype, device=strength.device,
    )
    return candidates[0] + (u * steps).sum(-1)


def weight_qmax(bits):
    """Largest integer magnitude of symmetric ``bits``-bit weights (1 for 1 bit).

    ``bits`` is an int or a tensor of per-row bit-widths.
    """
    if isinstance(bits, torch.Tensor):
        return torch.where(bits == 1, 1.0, 2.0 ** (bits.to(torch.float32) - 1) - 1)
    return 1 if bits == 1 else 2 ** (bits - 1) - 1


def _row_bits(w, bits):
    return torch.as_tensor(bits, device=w.device).expand(w.shape[0])


def weight_step(w, bits):
    """Per-neuron step of a symmetric quantizer for the rows of ``w``.

    1 bit uses the mean absolute value (the L2-optimal level of a sign
    quantizer); more bits use the Gaussian-optimal clipping level, never beyond
    the row's largest magnitude.

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    bits : int or torch.Tensor of shape (n_out,) or (1,)
        One bit-width for all rows, or one per row.

    Returns
    -------
    torch.Tensor of shape (n_out,)
    """
    bits = _row_bits(w, bits)
    absw = w.abs()
    rms = w.pow(2).mean(dim=1).sqrt()
    ratio = _clip_ratio_table(w.device).to(w.dtype)[bits]
    multi = torch.minimum(ratio * rms, absw.amax(dim=1)) / weight_qmax(bits).to(w.dtype)
    step = torch.where(bits == 1, absw.mean(dim=1), multi)
    return step.clamp_min(_SCALE_FLOOR)


def quantize_weight_int(w, bits, step):
    """Integer codes of the rows of ``w`` for given bit-widths and steps.

    Parameters
    ----------
    w : torch.Tensor of shape (n_out, n_in)
    bits : int or torch.Tensor of shape (n_out,) or (1,)
    step : torch.Tensor of shape (n_out,)

    Returns
    -------
    torch.Tensor, float dtype holding integers.
    """
    bits = _row_bits(w, bits)
    qmax = weight_qmax(bits).to(w.dtype).unsqueeze(1)
    multi = torch.minimum(torch.maximum(torch.round(w / step.unsqueeze(1)), -qmax), qmax)
    sign = torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
    return torch.where(bits.unsqueeze(1) == 1, sign, multi)


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
    return torch.minimum(torch.round(y.clamp_min(0.0) / step), torch.as_tensor(
        activation_qmax(bits), dtype=y.dtype, device=y.device))


def quantize_input_int(z, step, bits):
    """Signed ``bits``-bit codes of standardized inputs ``z`` with per-feature steps.

    Values beyond the representable range saturate.
    """
    qmax = 2 ** (bits - 1) - 1
    return torch.clamp(torch.round(z / step), -qmax, qmax)
