"""The quantized MLP as a torch module, and its export to numpy.

``QuantMLP`` stacks ``QuantLinear`` / ``QuantReLU`` pairs. Besides the
forward pass it reports the hard bit-widths, the differentiable expected
bit-widths the budget penalty needs, and exports the fitted network as plain
numpy arrays (the estimator's fitted state; no torch object survives ``fit``).
"""

from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..runtime._layer import QuantizedLayer
from . import quantizers as Q
from .layers import QuantLinear, QuantReLU


# The smallest value a learned activation step takes (it must stay positive).
ACTIVATION_STEP_FLOOR = 1e-6


class LayerInputs(NamedTuple):
    """What one forward pass of :meth:`QuantMLP.layer_inputs` saw, for a block of rows.

    Attributes
    ----------
    inputs : list of torch.Tensor
        Each dense layer's input codes (n_rows, fan_in): the data's codes,
        then each hidden layer's activation codes.
    pre : list of torch.Tensor
        Each hidden layer's pre-activations (n_rows, width): the dense
        layer's output, before the quantized ReLU.
    output : torch.Tensor
        The network's output (n_rows, n_outputs): logits or standardized targets.
    """

    inputs: list
    pre: list
    output: torch.Tensor


class QuantMLP(nn.Module):
    """ReLU MLP with neuron-level (or layer-level) learned bit-widths.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden..., n_outputs]``.
    weight_bits, activation_bits : tuple of int
        Candidate bit-widths, ascending. A weight candidate of 0 prunes a
        hidden neuron (the output layer leaves it out).
    per_neuron : bool
        Neuron-level (True) or layer-level (False) strengths.
    temperature : float
        Gate temperature.
    quantized : bool
        False builds the float reference network.
    generator : torch.Generator
        Source of the initial parameters.
    """

    def __init__(self, layer_sizes, weight_bits, activation_bits, per_neuron,
                 temperature, quantized, generator):
        super().__init__()
        pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
        # The outputs cannot be pruned: the output layer has no 0-bit candidate.
        kept_bits = tuple(b for b in weight_bits if b > 0)
        self.linears = nn.ModuleList(
            QuantLinear(n_in, n_out, weight_bits if i < len(pairs) - 1 else kept_bits,
                        per_neuron, temperature, quantized, generator)
            for i, (n_in, n_out) in enumerate(pairs)
        )
        self.activations = nn.ModuleList(
            QuantReLU(n_out, activation_bits, per_neuron, temperature, quantized)
            for _, n_out in pairs[:-1]
        )
        for act, lin in zip(self.activations, self.linears):
            act.revive = quantized and lin.candidates[0] == 0
        self.quantized = quantized
        fan_in = [torch.full((n_out,), float(n_in)) for n_in, n_out in pairs]
        self.register_buffer("_fan_in", torch.cat(fan_in), persistent=False)
        self._n_weights = sum(n_in * n_out for n_in, n_out in pairs)

    def forward(self, codes, in_step, tape=None):
        """Output (logits or standardized targets) for input codes and their steps.

        With a :class:`~skqat._qat.tape.Tape` (quantized networks), the layers'
        functions run on it instead of building an autograd graph.
        """
        for linear, act in zip(self.linears, self.activations):
            codes, in_step = act(linear(codes, in_step, tape=tape), tape=tape)
        return self.linears[-1](codes, in_step, tape=tape)

    @torch.no_grad()
    def latent_forward(self, codes, in_step):
        """Output of the latent float weights: the same network with nothing quantized.

        ``codes * in_step`` are the standardized inputs (rounded to the input
        step in a quantized network).
        """
        x = codes * in_step
        for linear in self.linears[:-1]:
            x = F.relu(F.linear(x, linear.weight, linear.bias))
        return F.linear(x, self.linears[-1].weight, self.linears[-1].bias)

    def layer_inputs(self, codes, in_step):
        """Every dense layer's input codes, every hidden pre-activation, and the output.

        One forward pass (no graph); ``output`` is ``self(codes, in_step)``,
        bit for bit.
        """
        inputs, pre = [], []
        with torch.no_grad():
            for linear, act in zip(self.linears, self.activations):
                inputs.append(codes)
                y = linear(codes, in_step)
                pre.append(y)
                codes, in_step = act(y)
            inputs.append(codes)
            output = self.linears[-1](codes, in_step)
        return LayerInputs(inputs=inputs, pre=pre, output=output)

    # ------------------------------------------------------------------ bits
    def weight_strengths(self):
        return [lin.strength for lin in self.linears]

    def activation_strengths(self):
        return [act.strength for act in self.activations]

    def weight_bits(self):
        """Hard weight bits: one int array per layer, one entry per neuron."""
        return [lin.bits_numpy() for lin in self.linears]

    def activation_bits(self):
        """Hard activation bits: one int array per hidden layer."""
        return [act.bits_numpy() for act in self.activations]

    def hard_mean_bits(self):
        """Hard mean weight bits (fan-in weighted) and mean activation bits, as floats."""
        # numpy on the few strengths: the training loop asks after every batch.
        w_total = sum(lin.weight.shape[1] * lin.bits_numpy().sum() for lin in self.linears)
        mean_w = float(w_total / self._n_weights)
        if not self.activations:
            return mean_w, 0.0
        a_bits = np.concatenate(self.activation_bits())
        return mean_w, float(a_bits.mean())

    def expected_mean_weight_bits(self):
        """Differentiable mean weight bits, each neuron weighted by its fan-in.

        Training adds its gradient as :meth:`expected_bits_gradients` writes it out.
        """
        per_neuron = torch.cat([
            Q.expected_bits(lin.strength, lin.candidates, lin.temperature)
            .expand(lin.weight.shape[0])
            for lin in self.linears
        ])
        return (per_neuron * self._fan_in).sum() / self._fan_in.sum()

    def expected_mean_activation_bits(self):
        """Differentiable mean activation bits over hidden neurons.

        Training adds its gradient as :meth:`expected_bits_gradients` writes it out.
        """
        per_neuron = torch.cat([
            Q.expected_bits(act.strength, act.candidates, act.temperature)
            .expand(act.n_neurons)
            for act in self.activations
        ])
        return per_neuron.mean()

    def expected_bits_gradients(self):
        """Gradients of the two expected means with respect to the strengths, written out.

        On the host: a few numbers per neuron.

        Returns
        -------
        weight, activation : list of ndarray
            ``d expected_mean_weight_bits / d strength`` of every dense layer,
            and ``d expected_mean_activation_bits / d strength`` of every
            hidden layer, each of its strength's shape.
        """
        weight = [Q.expected_bits_slope(lin.host_strength(), lin.candidates, lin.temperature)
                  * (lin.weight.shape[1] * lin.n_neurons
                     / (lin.strength.numel() * self._n_weights))
                  for lin in self.linears]
        n_hidden = sum(act.n_neurons for act in self.activations)
        activation = [Q.expected_bits_slope(act.host_strength(), act.candidates, act.temperature)
                      * (act.n_neurons / (act.strength.numel() * n_hidden))
                      for act in self.activations]
        return weight, activation

    @torch.no_grad()
    def constrain_(self, strengths=True):
        """Project parameters back into their domains after an optimizer step.

        ``strengths=False`` skips the strengths (not learning: nothing moved them).
        """
        if not self.quantized:
            return
        if strengths:
            params = self.weight_strengths() + self.activation_strengths()
            torch._foreach_clamp_min_(params, 0.0)
            torch._foreach_clamp_max_(params, 1.0)
        if self.activations:
            torch._foreach_clamp_min_([act.step for act in self.activations],
                                      ACTIVATION_STEP_FLOOR)

    @torch.no_grad()
    def set_levels_(self, weight_levels, activation_levels):
        """Move strengths to the centre of the given levels (freezing a projection).

        A layer-level strength takes the lowest level of its layer's
        neurons: a budget met neuron by neuron is then met by the layer.
        """
        for module, lev in [*zip(self.linears, weight_levels),
                            *zip(self.activations, activation_levels)]:
            lev = np.asarray(lev)
            if module.strength.numel() == 1:
                lev = lev.min(keepdims=True)
            module.strength.copy_(torch.as_tensor(
                Q.level_center(lev, len(module.candidates)), dtype=module.strength.dtype
            ).reshape(module.strength.shape))

    # ---------------------------------------------------------------- export
    def parameters_numpy(self):
        """Trainable state as numpy arrays (what ``warm_start`` restarts from)."""
        return {
            "coefs": [lin.weight.detach().cpu().numpy().T.copy() for lin in self.linears],
            "intercepts": [lin.bias.detach().cpu().numpy().copy() for lin in self.linears],
            "weight_strengths": [lin.strength.detach().cpu().numpy().copy() for lin in self.linears],
            "activation_strengths": [a.strength.detach().cpu().numpy().copy() for a in self.activations],
            "activation_unit_steps": [a.step.detach().cpu().numpy().copy()
                                      for a in self.activations],
        }

    @torch.no_grad()
    def load_parameters_numpy(self, state, weight_candidates=None):
        """Inverse of :meth:`parameters_numpy`.

        ``weight_candidates`` are those the weight strengths were learned
        with (None: this network's). When they differ (a size budget added
        the 0-bit candidate), each strength moves to the centre of the level
        of the same bit-width: the hard network is unchanged.
        """
        for lin, w, b, s in zip(self.linears, state["coefs"], state["intercepts"],
                                state["weight_strengths"]):
            lin.weight.copy_(torch.as_tensor(w.T))
            lin.bias.copy_(torch.as_tensor(b))
            if weight_candidates is not None:
                # The output layer never has the 0-bit candidate.
                old = (weight_candidates if lin is not self.linears[-1]
                       else tuple(c for c in weight_candidates if c > 0))
                s = remap_strengths(s, old, lin.candidates)
            lin.strength.copy_(torch.as_tensor(s))
        for act, s, st in zip(self.activations, state["activation_strengths"],
                              state["activation_unit_steps"]):
            act.strength.copy_(torch.as_tensor(s))
            act.step.copy_(torch.as_tensor(st))

    @torch.no_grad()
    def export_integer(self, input_step):
        """The trained layers as integer codes and real steps: the runtime's hand-off.

        Parameters
        ----------
        input_step : ndarray of shape (n_features,)
            Step of the input codes.

        Returns
        -------
        list of skqat.runtime.QuantizedLayer
            One per dense layer, computed in float64 (as the integer graph).
        """
        layers = []
        in_step = torch.as_tensor(input_step, dtype=torch.float64)
        for i, lin in enumerate(self.linears):
            w = lin.weight.detach().cpu().to(torch.float64) * in_step
            bits = lin.bits().cpu()
            step = Q.weight_step(w, bits)
            dtype = np.int8 if max(lin.candidates) <= 8 else np.int16
            bias = lin.bias.detach().cpu().to(torch.float64)
            hidden = {}
            if i < len(self.activations):
                act = self.activations[i]
                in_step = act.step.detach().cpu().to(torch.float64).expand(act.n_neurons)
                hidden = dict(activation_step=in_step.numpy().copy(),
                              activation_bits=act.bits().cpu().numpy().astype(np.int64))
            layers.append(QuantizedLayer(
                weights=Q.quantize_weight_int(w, bits, step).numpy().astype(dtype),
                weight_bits=bits.numpy().astype(np.int64), weight_step=step.numpy(),
                bias=(torch.round(bias / step) * (bits > 0)).numpy().astype(np.int64),
                **hidden))
        return layers


def remap_strengths(strengths, old, new):
    """Strengths of the same bit-widths for another candidate set.

    Parameters
    ----------
    strengths : ndarray
        Strengths over the candidates ``old``.
    old, new : tuple of int
        Candidate bit-widths, ascending. A bit-width ``new`` lacks becomes the
        largest candidate of ``new`` below it (or the smallest).

    Returns
    -------
    ndarray, a copy (``strengths`` itself when the candidates are equal)
    """
    old, new = tuple(old), tuple(new)
    if old == new:
        return strengths
    level = Q.strength_to_level(torch.as_tensor(strengths), len(old)).numpy()
    bits = np.asarray(old)[level]
    new_level = np.clip(np.searchsorted(np.asarray(new), bits, side="right") - 1, 0, None)
    return Q.level_center(new_level, len(new)).astype(np.asarray(strengths).dtype)


def network_from_estimator(estimator):
    """Rebuild a fitted estimator's torch network in eval mode (for checks and benchmarks).

    Parameters
    ----------
    estimator : fitted NMPQATClassifier or NMPQATRegressor

    Returns
    -------
    QuantMLP
    """
    est = estimator
    sizes = [c.shape[0] for c in est.coefs_] + [est.n_outputs_]
    cands = getattr(est, "weight_candidates_", None) or tuple(sorted(est.weight_bits))
    net = QuantMLP(layer_sizes=sizes, weight_bits=cands,
                   activation_bits=tuple(sorted(est.activation_bits)),
                   per_neuron=est.granularity == "neuron", temperature=est.gate_temperature,
                   quantized=est.quantize, generator=torch.Generator())
    net.load_parameters_numpy(est._trainable_state())
    return net.eval()
