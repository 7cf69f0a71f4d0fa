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

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import quantizers as Q
from .host import HostTensor, host_constant
from .rows import RowsMemory, WeightRows, weight_rows


# The largest activation code 2^b - 1 of every bit-width b a candidate may have.
_ACTIVATION_QMAX = 2.0 ** np.arange(64) - 1


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
    level_numpy : ndarray of int64, shape (n_strengths,)
        The same, on the host.
    bits : torch.Tensor of int64, shape (n,)
        Bit-width of every neuron.
    bits_numpy : ndarray of int64, shape (n,)
        The same, on the host (what the budget bookkeeping reads every step).
    side_threshold : ndarray of float64, shape (S, n)
        Strength threshold of each side's transition.
    side_exists : ndarray of float64, shape (S, n)
        1.0 where the neuron has that side (not below the first candidate or
        above the last), else 0.0.
    side_bits : ndarray of int64, shape (S, n)
        Bit-width one level down or up, clamped to the candidates (a missing
        side repeats the neuron's own bits).
    side_sign : ndarray of float64, shape (S, 1)
        -1.0 for the down side, +1.0 for the up side: a side's transition
        ``Q_upper - Q_lower`` is ``side_sign * (Q_side - Q_own)``.
    scratch : Scratch
        Where a backward pass writes the strengths' per-neuron sums for the
        host (the gates are a few numbers per neuron: numpy's work).
    workspace : Workspace
        The layer's memory for a pass's temporaries.
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
    level_numpy: np.ndarray
    bits: torch.Tensor
    bits_numpy: np.ndarray
    side_threshold: np.ndarray
    side_exists: np.ndarray
    side_bits: np.ndarray
    side_sign: np.ndarray
    scratch: "Scratch"
    workspace: "Workspace"
    weight: WeightRows | None = None
    side_weight: tuple = ()
    activation_qmax: torch.Tensor | None = None
    side_low: torch.Tensor | None = None
    side_high: torch.Tensor | None = None
    same_activation_qmax: float | None = None


class LevelMemory:
    """The tensors a layer's :class:`Levels` are written into, made once per layer.

    Rebuilding the levels then makes no tensor (on CPU, numpy writes the
    values in place); the :class:`Levels` built over them before are out of
    date, which is why a layer keeps only its latest.

    Parameters
    ----------
    n_neurons : int
    kind : {"weight", "activation"}
    dtype : torch.dtype
    device : torch.device or None
    """

    def __init__(self, n_neurons, kind, dtype, device):
        self.key = (n_neurons, kind, dtype, torch.device(device or "cpu"))
        self.workspace = Workspace()
        if kind == "weight":
            # The rows' own bits, then each side's.
            self.rows = tuple(RowsMemory(n_neurons, dtype, device) for _ in range(3))
            # One row per side and a last one for the own bits.
            self.scratch = HostTensor((3, n_neurons), dtype, device)
            self.scratch_rows = self.scratch.tensor.unbind(0)
        else:
            self.qmax = HostTensor((n_neurons,), dtype, device)
            self.side_low = HostTensor((2, 1, n_neurons), dtype, device)
            self.side_high = HostTensor((2, 1, n_neurons), dtype, device)
            self.scratch = HostTensor((2, n_neurons), dtype, device)
            # The first S sides, for S = 0, 1 and 2.
            self.low_views, self.high_views, self.scratch_views = (
                tuple(held.tensor[:n] for n in range(3))
                for held in (self.side_low, self.side_high, self.scratch))


def build_levels(level, table, n_neurons, kind, dtype=torch.float32, device=None, memory=None,
                 fan_in=None):
    """The :class:`Levels` of the candidate indices ``level``.

    Parameters
    ----------
    level : torch.Tensor or ndarray of int64, shape (n_strengths,)
    table : sequence of int, length K
        Candidate bit-widths, ascending.
    n_neurons : int
    kind : {"weight", "activation"}
        Which quantizer's constants to build.
    dtype : torch.dtype
        Float dtype of the constants.
    device : torch.device, default=None
        Where the constants go: ``level``'s device when it is a tensor.
    memory : LevelMemory, default=None
        Write the constants into these tensors (a layer's own) instead of
        making new ones.
    fan_in : int, default=None
        The dense layer's fan-in (with ``memory``).
    """
    if isinstance(level, torch.Tensor):
        device, level = level.device, level.cpu().numpy()
    level = np.asarray(level, dtype=np.int64)
    if memory is None:
        memory = LevelMemory(n_neurons, kind, dtype, device)
    table = np.asarray(table, dtype=np.int64)
    k = len(table)
    # Every neuron's level (one strength for the layer: the same for all).
    # np.array of a list, not np.stack: a rebuild is a few dozen small numpy
    # calls, and their overhead is its cost.
    lv = level if level.size == n_neurons else np.full(n_neurons, level[0])
    exists = np.array([lv > 0, lv < k - 1])
    sides = [i for i in (0, 1) if exists[i].any()]
    side_level = np.array([np.maximum(lv - 1, 0), np.minimum(lv + 1, k - 1)])[sides]
    # Transition k sits at threshold k / K: the one below is k = level, above k = level + 1.
    side_threshold = np.array([lv, lv + 1])[sides] / k
    bits, side_bits = table[lv], table[side_level]
    if kind == "weight":
        def rows(b, i):
            return weight_rows(b, dtype, device, memory=memory.rows[i], fan_in=fan_in)

        extra = dict(weight=rows(bits, 0),
                     side_weight=tuple(rows(b, i + 1) for i, b in enumerate(side_bits)),
                     scratch=Scratch(memory.scratch, memory.scratch_rows))
    else:
        qmax, side_qmax = _ACTIVATION_QMAX[bits], _ACTIVATION_QMAX[side_bits]
        n_sides = len(sides)
        if n_sides:  # the first n_sides rows: the views below show no others
            for held, values in ((memory.side_low, np.minimum(side_qmax, qmax)),
                                 (memory.side_high, np.maximum(side_qmax, qmax))):
                full = np.zeros((2, 1, n_neurons))
                full[:n_sides, 0] = values
                held.write(full)
        extra = dict(activation_qmax=memory.qmax.write(qmax),
                     side_low=memory.low_views[n_sides], side_high=memory.high_views[n_sides],
                     same_activation_qmax=float(qmax[0]) if bits.min() == bits.max() else None,
                     scratch=Scratch(memory.scratch, memory.scratch_views[n_sides]))
    return Levels(level=host_constant(level, torch.int64, device), level_numpy=level.copy(),
                  workspace=memory.workspace,
                  bits=host_constant(bits, torch.int64, device), bits_numpy=bits.copy(),
                  side_threshold=side_threshold, side_exists=exists[sides].astype(np.float64),
                  side_bits=side_bits, side_sign=np.array([-1.0, 1.0])[sides][:, None], **extra)


class Workspace:
    """A layer's memory for the temporaries that one forward or backward pass makes and drops.

    A temporary that never outlives the pass that made it (never a tensor
    saved for backward) is written here rather than into a fresh tensor: on
    CPU, memory in use every step is faster to fill than a fresh matrix of a
    layer's size (with the strengths' side codes and products here, a 256 x
    256 layer's learning step is about 5% faster). One at a time: what
    :meth:`like` returned is out of date at its next call. The memory is
    that of the largest temporary asked for (a layer's weights, or a batch's
    pre-activations per side), for as long as the network lives (a fit).
    """

    def __init__(self):
        self._memory = None
        self._views = {}

    def like(self, shape, dtype, device):
        """A tensor of that shape, dtype and device over the workspace's memory, uninitialized."""
        key = (shape, dtype, device)
        view = self._views.get(key)
        if view is None:
            memory, n = self._memory, math.prod(shape)
            if (memory is None or memory.dtype != dtype or memory.device != device
                    or memory.numel() < n):
                # The request's own tensor (one operation, once per shape that grows it).
                view = self._memory = torch.empty(shape, dtype=dtype, device=device)
                self._views.clear()  # views of the memory given up
            else:  # a view of its first n elements, in one operation (slicing takes two)
                strides = [1]
                for size in reversed(shape[1:]):
                    strides.insert(0, strides[0] * size)
                view = memory.as_strided(shape, strides)
            self._views[key] = view
        return view


class Scratch:
    """Where a backward pass writes per-neuron sums for the host: rows, or one tensor.

    Parameters
    ----------
    memory : skqat._qat.host.HostTensor
    target : torch.Tensor or tuple of torch.Tensor
        What the backward pass writes into (views of ``memory``).
    """

    def __init__(self, memory, target):
        self.memory, self.target = memory, target

    def read(self):
        """The whole memory as numpy (its own on CPU)."""
        return self.memory.read()


def side_slopes(strength, levels, temperature):
    """Gate slopes ``du_k/ds`` of the two transitions beside each neuron's level, (S, n).

    ``u_k = sigmoid((s - t_k) / T)``; a missing transition has slope 0. On
    the host: a few numbers per neuron.

    Parameters
    ----------
    strength : ndarray of shape (n_strengths,)
    levels : Levels
    temperature : float

    Returns
    -------
    ndarray of float64
    """
    u = Q.host_gate(strength, levels.side_threshold, temperature)
    return levels.side_exists * u * (1.0 - u) / temperature
