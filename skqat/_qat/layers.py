"""Torch modules of a quantized MLP: a dense layer and a clipped ReLU.

Each module owns its parameters (weights, precision strengths, clipping
levels) and computes a pure forward pass: the only thing ``forward`` may
store is the memo of its discrete levels (see ``_LearnedBits.levels``),
which never changes a result. A module built with ``quantized=False`` is the
float reference of the same network.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import quantizers as Q
from .levels import LevelMemory, build_levels
from .ste import GradientSum, QuantLinearFunction, QuantReLUFunction


def _initial_strength(n_strengths, candidates):
    # Start in the lowest candidate's region: precision only grows when asked.
    # 0 bits (pruning) is below the start: a neuron is pruned when the price
    # or the budget pushes it there, never before it has learned anything.
    start = int(candidates[0] == 0 and len(candidates) > 1)
    # Over numpy's memory: the training step reads the levels on the host
    # (see _LearnedBits.levels) without a tensor operation.
    values = np.full(n_strengths, Q.level_center(start, len(candidates)), dtype=np.float32)
    return nn.Parameter(torch.frombuffer(values, dtype=torch.float32)), values


class _LearnedBits(nn.Module):
    """What the dense layer and the activation share: strengths and their levels."""

    _kind = None  # "weight" or "activation": which quantizer's constants the levels carry
    _fan_in = None  # a dense layer's inputs (its levels carry the clipping ratio per norm)

    def __init__(self, n_neurons, candidates, per_neuron, temperature, quantized):
        super().__init__()
        self.strength, self._strength_memory = _initial_strength(
            n_neurons if per_neuron else 1, candidates)
        self.candidates = tuple(candidates)
        self.n_neurons = n_neurons
        self.temperature = temperature
        self.quantized = quantized
        self._levels = None
        self._levels_key = None
        self._level_memory = None

    def host_strength(self):
        """The strengths as a numpy array: their own memory when they still live there."""
        s, memory = self.strength, self._strength_memory
        if (s.device.type == "cpu" and s.dtype == torch.float32
                and s.data_ptr() == memory.ctypes.data and s.numel() == memory.size):
            return memory
        return s.detach().cpu().numpy()  # moved or converted: a copy

    def levels(self):
        """The :class:`~skqat._qat.levels.Levels` of the current strengths.

        A memo, rebuilt only when some neuron's level changed: the result is
        the same as building it anew, so forward stays a pure function.
        """
        s = self.strength
        # Every in-place update of the strengths moves their version counter
        # (the training step moves it after the fused optimizer, which does
        # not): with the same version, the levels are those of the memo.
        key = (s._version, s.data_ptr(), s.dtype, s.device)
        if key == self._levels_key:
            return self._levels
        level = Q.strength_level_numpy(self.host_strength(), len(self.candidates))
        memo, memory = self._levels, self._level_memory
        if memory is None or memory.key != (self.n_neurons, self._kind, s.dtype, s.device):
            memory = self._level_memory = LevelMemory(self.n_neurons, self._kind, s.dtype,
                                                      s.device)
            memo = None
        if memo is None or not np.array_equal(memo.level_numpy, level):
            # Written into the layer's own tensors: the previous levels are out of date.
            memo = build_levels(level, self.candidates, self.n_neurons, self._kind, s.dtype,
                                device=s.device, memory=memory, fan_in=self._fan_in)
        # Plain attributes, set past nn.Module's __setattr__ (its checks cost
        # more than the rest of a check of the levels).
        self.__dict__.update(_levels=memo, _levels_key=key)
        return memo

    def bits(self):
        """Hard bit-width of every neuron, a tensor of shape (n_neurons,)."""
        return self.levels().bits

    def bits_numpy(self):
        """:meth:`bits` as an int64 numpy array (cheap for the per-batch bookkeeping)."""
        return self.levels().bits_numpy


class QuantLinear(_LearnedBits):
    """Dense layer whose every output neuron has a learned weight bit-width.

    The layer receives *codes*: its input divided by the per-input step
    ``in_step`` (integers in the quantized network). The step is folded into
    the weights before they are quantized, so that the product of codes and
    quantized weights is a pure integer matrix product.

    Parameters
    ----------
    n_in, n_out : int
        Fan-in and number of neurons.
    candidates : tuple of int
        Candidate weight bit-widths, ascending.
    per_neuron : bool
        One strength per neuron (NMP-QAT) or one for the layer.
    temperature : float
        Gate temperature of the strength surrogate.
    quantized : bool
        False gives a plain float layer.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(self, n_in, n_out, candidates, per_neuron, temperature, quantized, generator):
        super().__init__(n_out, candidates, per_neuron, temperature, quantized)
        # Glorot-uniform, as scikit-learn's MLP initializes ReLU layers.
        bound = math.sqrt(6.0 / (n_in + n_out))
        self.weight = nn.Parameter((torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound)
        self._fan_in = n_in
        self.bias = nn.Parameter((torch.rand(n_out, generator=generator) * 2 - 1) * bound)
        # Set by the training loop while the strengths learn on some batches only.
        self.collect_gradients = False
        self.gradient_sum = GradientSum()

    _kind = "weight"

    def forward(self, codes, in_step, tape=None):
        """The layer's output; with a :class:`~skqat._qat.tape.Tape`, run on it (no graph)."""
        if not self.quantized:
            return F.linear(codes, self.weight, self.bias)
        inputs = (codes, self.weight, self.bias, self.strength, in_step, self.levels(),
                  self.temperature, self.gradient_sum if self.collect_gradients else None,
                  self.host_strength)
        if tape is not None:
            return tape.run(QuantLinearFunction, inputs)
        return QuantLinearFunction.apply(*inputs)


class QuantReLU(_LearnedBits):
    """Quantized ReLU: per-neuron learned bit-widths, one learned step per layer.

    A neuron at ``b`` bits outputs ``step * clip(round(relu(y) / step), 0, 2^b - 1)``:
    its bit-width sets its clipping level. The step is shared by the layer on
    purpose: the next layer folds its input steps into its weights before
    quantizing them (so that it is an integer matrix product), and with
    per-neuron steps a 1-bit row would weigh each input by the inverse of
    that input's step; a change of one neuron's bits would then jump its
    outgoing weights by the ratio of the steps.

    Returns the activations as codes (integers in the quantized network)
    and the step of the codes (the parameter itself; the next dense layer
    gives it no gradient, which flows through the codes), the next layer's
    input.

    Parameters
    ----------
    n_neurons : int
    candidates : tuple of int
        Candidate activation bit-widths, ascending.
    per_neuron : bool
    temperature : float
    quantized : bool
        False gives a plain ReLU and a unit step.
    clip_init : float
        Initial clipping level of the lowest candidate (inputs are
        standardized, so a few units).
    """

    _kind = "activation"

    def __init__(self, n_neurons, candidates, per_neuron, temperature, quantized, clip_init=4.0):
        super().__init__(n_neurons, candidates, per_neuron, temperature, quantized)
        # The step's starting value: its scale (the optimizer's rate for it follows it).
        self.initial_step = clip_init / Q.activation_qmax(candidates[0])
        self.step = nn.Parameter(torch.full((1,), self.initial_step))
        # Set by the network when the layer's neurons can be pruned (0 weight bits).
        self.revive = False

    def forward(self, y, tape=None):
        """Codes and their step; with a :class:`~skqat._qat.tape.Tape`, run on it (no graph)."""
        if not self.quantized:
            return F.relu(y), torch.ones((), device=y.device)
        inputs = (y, self.step, self.strength, self.levels(), self.temperature, self.revive,
                  self.host_strength)
        codes = (QuantReLUFunction.apply(*inputs) if tape is None
                 else tape.run(QuantReLUFunction, inputs))
        # The step itself, not a detached copy (one operation fewer): the next
        # layer's function returns no gradient for it, which flows through the codes.
        return codes, self.step
