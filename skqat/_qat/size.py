"""The bytes of a network's integer graph, as training sees them.

A size budget caps ``model_size_bytes_``: the packed weight bits, each living
neuron's fields (bit-widths, shift, multiplier, bias) and the input and output
steps. Three views of it:

* :func:`exact_bytes`: the integer graph's own count (the guarantee is made on it);
* :func:`hard_bytes`: the same from the hard bit-widths, with each layer's field
  bytes per neuron measured on the last export (cheap enough for every step);
* :func:`expected_bytes`: differentiable, linear in each neuron's gate
  probabilities (``P(alive) x field bytes + E[bits] x fan-in / 8``), where a
  layer's fan-in is the expected number of living neurons of the layer
  before it: pruning a neuron also removes its column of the next layer.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..runtime._layer import layer_size_bytes, metadata_widths, requantized_layers
from . import quantizers as Q
from .budget import layer_bytes

# Field bytes per neuron assumed before the first export measures them: what
# trained layers have (29 bits measured on a (100,) network; 4 bytes rounds up).
_INITIAL_FIELD_BYTES = 4.0


@dataclass(frozen=True)
class SizeAccount:
    """What a size budget counts, beside the network's own arrays.

    Attributes
    ----------
    budget : float
        Largest allowed size, in bytes (``model_size_bytes_``).
    fixed_bytes : int
        Bytes of the input and output steps, which training does not change.
    input_step : ndarray of shape (n_features,)
        Value of one input code, in standard deviations (as ``input_steps_``).
    input_bits : int
        Bit-width of the input codes.
    """

    budget: float
    fixed_bytes: int
    input_step: np.ndarray
    input_bits: int


def integer_layers(net, account):
    """The network's layers as the integer graph holds them (pruned neurons removed)."""
    layers, _ = requantized_layers(net.export_integer(account.input_step), account.input_bits)
    return layers


def measure(net, account):
    """The graph's bytes and each layer's field bytes per living neuron, from one export.

    Returns
    -------
    (int, list of float)
        ``model_size_bytes_`` of the network as it is now, and per layer
        the bytes of one neuron's fields.
    """
    layers = integer_layers(net, account)
    return (account.fixed_bytes + sum(layer_size_bytes(layer) for layer in layers),
            [sum(metadata_widths(layer)[3]) / 8.0 for layer in layers])


def exact_bytes(net, account):
    """``model_size_bytes_`` of the network as it is now, in bytes (an int)."""
    return measure(net, account)[0]


def field_bytes(net, account):
    """Bytes of the per-neuron fields of each layer, per living neuron (list of float)."""
    return measure(net, account)[1]


def initial_field_bytes(net):
    """The field bytes per neuron assumed before anything is measured, per layer."""
    return [_INITIAL_FIELD_BYTES] * len(net.linears)


def _alive_probability(module):
    """Differentiable probability that each neuron is not at 0 bits, shape (n_neurons,)."""
    cands = module.candidates
    if cands[0] > 0 or len(cands) == 1:
        return torch.ones(module.n_neurons, device=module.strength.device)
    t = Q.thresholds(len(cands), module.strength.device, module.strength.dtype)[0]
    return torch.sigmoid((module.strength - t) / module.temperature).expand(module.n_neurons)


def expected_bytes(net, fields, fixed_bytes):
    """Differentiable expected size in bytes (a 0-d tensor).

    Parameters
    ----------
    net : QuantMLP
    fields : list of float
        Field bytes per living neuron, per layer.
    fixed_bytes : int
        The steps' bytes.
    """
    total = torch.zeros((), device=net.linears[0].weight.device)
    fan_in = None
    for lin, per_neuron in zip(net.linears, fields):
        alive = _alive_probability(lin)
        bits = Q.expected_bits(lin.strength, lin.candidates, lin.temperature).expand(lin.n_neurons)
        n_in = float(lin.weight.shape[1]) if fan_in is None else fan_in
        total = total + (bits.sum() * n_in / 8.0 + alive.sum() * per_neuron)
        fan_in = alive.sum()
    return total + float(fixed_bytes)


def hard_bytes(net, fields, fixed_bytes):
    """Size in bytes from the hard bit-widths, each layer's fields at ``fields`` (a float)."""
    sizes, _ = layer_bytes(net.weight_bits(), net.linears[0].weight.shape[1], fields)
    return float(sizes.sum() + fixed_bytes)
