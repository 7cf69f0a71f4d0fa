"""The bytes of a network's integer graph, as training sees them.

A size budget caps ``model_size_bytes_``: the packed weight bits, each living
neuron's fields (bit-widths, shift, multiplier, bias) and the input and output
steps. A flash budget caps the linked flash of the C export's integer entry
(:func:`skqat.runtime._flash.integer_entry_flash_bytes`): the same weights and
fields in one bit stream, its code and its small tables. Three views of it:

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

from ..runtime._flash import integer_entry_flash_bytes
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
    flash_task : str or None
        None: the budget counts ``model_size_bytes_``. A task name
        (``"binary"``, ...): it counts the integer entry's linked flash, and
        ``fixed_bytes`` is an estimate of its code and tables.
    """

    budget: float
    fixed_bytes: int
    input_step: np.ndarray
    input_bits: int
    flash_task: str | None = None

    @property
    def parameter(self):
        """The estimator parameter this budget comes from, for error messages."""
        return "size_budget" if self.flash_task is None else "flash_budget"


def integer_layers(net, account):
    """The network's layers as the integer graph holds them (pruned neurons removed)."""
    layers, _ = requantized_layers(net.export_integer(account.input_step), account.input_bits)
    return layers


def measure(net, account):
    """The graph's bytes and each layer's field bytes per living neuron, from one export.

    Returns
    -------
    (int, list of float)
        ``model_size_bytes_`` of the network as it is now (or, for a flash
        budget, the integer entry's linked flash), and per layer the bytes
        of one neuron's fields.
    """
    layers = integer_layers(net, account)
    fields = [sum(metadata_widths(layer)[3]) / 8.0 for layer in layers]
    if account.flash_task is not None:
        return integer_entry_flash_bytes(layers, input_bits=account.input_bits,
                                         task=account.flash_task), fields
    return account.fixed_bytes + sum(layer_size_bytes(layer) for layer in layers), fields


def exact_bytes(net, account):
    """``model_size_bytes_`` of the network as it is now, in bytes (an int)."""
    return measure(net, account)[0]


def field_bytes(net, account):
    """Bytes of the per-neuron fields of each layer, per living neuron (list of float)."""
    return measure(net, account)[1]


def initial_field_bytes(net):
    """The field bytes per neuron assumed before anything is measured, per layer."""
    return [_INITIAL_FIELD_BYTES] * len(net.linears)


def _alive_probability(strength, candidates, temperature):
    """Gate probability that each strength is above the 0-bit candidate's region.

    1 where the candidates have no 0 bits (or there is one candidate).
    """
    if candidates[0] > 0 or len(candidates) == 1:
        return torch.ones_like(strength)
    t = Q.thresholds(len(candidates), strength.device, strength.dtype)[0]
    return torch.sigmoid((strength - t) / temperature)


def _alive_slope(strength, candidates, temperature):
    """Derivative of :func:`_alive_probability` with respect to each strength, on the host."""
    s = np.asarray(strength, dtype=np.float64)
    if candidates[0] > 0 or len(candidates) == 1:
        return np.zeros_like(s)
    u = Q.host_gate(s, 1.0 / len(candidates), temperature)
    return u * (1.0 - u) / temperature


def _per_neuron(module):
    # A layer-level strength stands for every neuron of its layer.
    return module.n_neurons / module.strength.numel()


def _alive_sum(module):
    """Differentiable expected number of living neurons of a layer (a 0-d tensor or a float)."""
    if module.candidates[0] > 0 or len(module.candidates) == 1:
        return float(module.n_neurons)
    return (_alive_probability(module.strength, module.candidates, module.temperature).sum()
            * _per_neuron(module))


def _bits_sum(module):
    """Differentiable sum of a layer's expected weight bits (a 0-d tensor)."""
    return (Q.expected_bits(module.strength, module.candidates, module.temperature).sum()
            * _per_neuron(module))


def expected_bytes(net, fields, fixed_bytes):
    """Differentiable expected size in bytes (a 0-d tensor).

    Training adds its gradient as :func:`expected_bytes_gradients` writes it out.

    Parameters
    ----------
    net : QuantMLP
    fields : list of float
        Field bytes per living neuron, per layer.
    fixed_bytes : int
        The steps' bytes.
    """
    total = torch.zeros((), device=net.linears[0].weight.device)
    fan_in = float(net.linears[0].weight.shape[1])
    for lin, per_neuron in zip(net.linears, fields):
        alive = _alive_sum(lin)
        total = total + (_bits_sum(lin) * fan_in / 8.0 + alive * per_neuron)
        fan_in = alive
    return total + float(fixed_bytes)


def expected_bytes_gradients(net, fields):
    """Gradient of :func:`expected_bytes` with respect to each layer's weight strengths.

    Written out on the host (a few numbers per neuron), so that the training
    step adds it without an autograd graph: a neuron's bits cost its fan-in
    (the expected living neurons before it) over 8, and its being alive
    costs its fields and its column of the next layer (that layer's
    expected bits over 8).

    Returns
    -------
    list of ndarray
        One per dense layer, of its strength's shape.
    """
    linears = net.linears
    host = [lin.host_strength() for lin in linears]
    alive = [_alive_sum_host(lin, s) for lin, s in zip(linears, host)]
    bits_after = [Q.expected_bits_numpy(s, lin.candidates, lin.temperature).sum()
                  * _per_neuron(lin) / 8.0 for lin, s in zip(linears[1:], host[1:])] + [0.0]
    grads, fan_in = [], float(linears[0].weight.shape[1])
    for lin, s, per_neuron, after, alive_here in zip(linears, host, fields, bits_after, alive):
        args = (s, lin.candidates, lin.temperature)
        grad = Q.expected_bits_slope(*args) * (fan_in / 8.0)
        if lin.candidates[0] == 0 and len(lin.candidates) > 1:  # its neurons can be pruned
            grad = grad + _alive_slope(*args) * (per_neuron + after)
        grads.append(grad * _per_neuron(lin))
        fan_in = alive_here
    return grads


def _alive_sum_host(module, strength):
    """:func:`_alive_sum`'s value from the host strengths (a float)."""
    if module.candidates[0] > 0 or len(module.candidates) == 1:
        return float(module.n_neurons)
    u = Q.host_gate(strength, 1.0 / len(module.candidates), module.temperature)
    return float(u.sum() * _per_neuron(module))


def hard_bytes(net, fields, fixed_bytes):
    """Size in bytes from the hard bit-widths, each layer's fields at ``fields`` (a float)."""
    sizes, _ = layer_bytes(net.weight_bits(), net.linears[0].weight.shape[1], fields)
    return float(sizes.sum() + fixed_bytes)
