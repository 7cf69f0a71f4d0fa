"""What a group of neurons' discrete levels fix, computed once per change of levels.

A layer's strengths select one level (an index into the candidate
bit-widths) per neuron. The bit-widths, the quantizers' per-neuron constants,
and the two transitions beside each neuron's level that its strength gradient
weighs, all depend on the levels alone. The levels change rarely (when a
strength crosses a threshold), so :class:`Levels` is built then and reused on
every other step, instead of a dozen small tensor operations per layer and step.

The strength gradient keeps the two transitions beside a neuron's level (see
``ste.py``). A transition ``k`` (from candidate ``k - 1`` to ``k``, at
threshold ``t_k = k / K``) one level further away has a gate slope at most
``4 sigmoid'(1 / (K T))`` of the kept one on its side: 0.28 at the defaults
(``K = 4`` weight candidates, ``T = 0.1``), 0.15 for a strength in the middle
of its level; each would cost one more quantization of the weight matrix
per step.
"""

from dataclasses import dataclass

import numpy as np
import torch

from . import quantizers as Q


@dataclass(frozen=True)
class Levels:
    """The levels of ``n`` neurons and what they fix.

    A *side* is the transition below (down) or above (up) a neuron's level;
    only the sides that some neuron has are kept (at the start of training,
    every neuron is at the lowest level and has no down side), so ``S`` is
    0, 1 or 2.

    Attributes
    ----------
    level : torch.Tensor of int64, shape (n_strengths,)
        Candidate index per strength (one strength per neuron, or one for the layer).
    bits : torch.Tensor of int64, shape (n,)
        Bit-width of every neuron.
    bits_numpy : ndarray of int64, shape (n,)
        The same, on the host (what the budget bookkeeping reads every step).
    side_threshold : torch.Tensor of shape (S, n)
        Strength threshold of each side's transition.
    side_exists : torch.Tensor of shape (S, n)
        1.0 where the neuron has that side (not below the first candidate or
        above the last), else 0.0.
    side_bits : torch.Tensor of int64, shape (S, n)
        Bit-width one level down or up, clamped to the candidates (a missing
        side repeats the neuron's own bits).
    side_sign : torch.Tensor of shape (S, 1)
        -1.0 for the down side, +1.0 for the up side: a side's transition
        ``Q_upper - Q_lower`` is ``side_sign * (Q_side - Q_own)``.
    weight : quantizers.WeightRows or None
        The weight quantizer's constants at ``bits`` (dense layers only).
    side_weight : tuple of quantizers.WeightRows
        The same at each side's bits, one per side: a side is often all 1-bit
        or all one bit-width, which the quantizer's fast paths take.
    activation_qmax : torch.Tensor of shape (n,) or None
        Largest activation code ``2^b - 1`` (activations only).
    side_low, side_high : torch.Tensor of shape (S, 1, n) or None
        Largest codes of the lower and upper candidate of each side's
        transition (activations only).
    same_activation_qmax : float or None
        The largest code when every neuron has the same bits (scalar bounds
        take the fast kernels), else None.
    """

    level: torch.Tensor
    bits: torch.Tensor
    bits_numpy: np.ndarray
    side_threshold: torch.Tensor
    side_exists: torch.Tensor
    side_bits: torch.Tensor
    side_sign: torch.Tensor
    weight: Q.WeightRows | None = None
    side_weight: tuple = ()
    activation_qmax: torch.Tensor | None = None
    side_low: torch.Tensor | None = None
    side_high: torch.Tensor | None = None
    same_activation_qmax: float | None = None


def build_levels(level, table, n_neurons, kind, dtype=torch.float32):
    """The :class:`Levels` of the candidate indices ``level``.

    Parameters
    ----------
    level : torch.Tensor of int64, shape (n_strengths,)
    table : sequence of int, length K
        Candidate bit-widths, ascending.
    n_neurons : int
    kind : {"weight", "activation"}
        Which quantizer's constants to build.
    dtype : torch.dtype
        Float dtype of the constants.
    """
    device = level.device

    def tensor(values, dt=dtype):
        return Q.host_constant(values, dt, device)

    table = np.asarray(table, dtype=np.int64)
    k = len(table)
    lv = np.broadcast_to(level.cpu().numpy(), (n_neurons,))
    exists = np.stack([lv > 0, lv < k - 1])
    sides = [i for i in (0, 1) if exists[i].any()]
    side_level = np.stack([np.maximum(lv - 1, 0), np.minimum(lv + 1, k - 1)])[sides]
    # Transition k sits at threshold k / K: the one below is k = level, above k = level + 1.
    side_threshold = np.stack([lv, lv + 1])[sides] / k
    bits, side_bits = table[lv], table[side_level]
    if kind == "weight":
        extra = dict(weight=Q.weight_rows(bits, dtype, device),
                     side_weight=tuple(Q.weight_rows(b, dtype, device) for b in side_bits))
    else:
        qmax, side_qmax = 2.0 ** bits - 1, 2.0 ** side_bits - 1
        extra = dict(activation_qmax=tensor(qmax),
                     side_low=tensor(np.minimum(side_qmax, qmax)[:, None, :]),
                     side_high=tensor(np.maximum(side_qmax, qmax)[:, None, :]),
                     same_activation_qmax=float(qmax[0]) if bits.min() == bits.max() else None)
    return Levels(level=level, bits=tensor(bits, torch.int64), bits_numpy=bits.copy(),
                  side_threshold=tensor(side_threshold), side_exists=tensor(exists[sides]),
                  side_bits=tensor(side_bits, torch.int64),
                  side_sign=tensor(np.array([-1.0, 1.0])[sides][:, None]), **extra)


def side_slopes(strength, levels, temperature):
    """Gate slopes ``du_k/ds`` of the two transitions beside each neuron's level, (2, n).

    ``u_k = sigmoid((s - t_k) / T)``; a missing transition has slope 0.
    """
    u = torch.sub(strength, levels.side_threshold).div_(temperature).sigmoid_()
    # sigmoid's backward kernel: exists * u * (1 - u) in one pass.
    return torch.ops.aten.sigmoid_backward(levels.side_exists, u).div_(temperature)
