"""One dense layer of the integer graph, and what training hands the runtime (numpy only).

:class:`QuantizedLayer` is a trained layer as integer codes and real steps,
before requantization: the one typed hand-off from training (``skqat._qat``)
to the runtime. :class:`IntegerLayer` is the layer of the graph, with its
fixed-point requantization; :class:`LayerPlan` computes it (see
``_graph.py`` for the arithmetic).
"""

from dataclasses import dataclass, replace

import numpy as np

from . import _fixed_point as fp

TASKS = ("regression", "binary", "multiclass", "multilabel")
#: The widest fan-in: at 16-bit weights and codes the accumulator bound is then
#: below 2**48, which leaves a multiplier at least 13 bits.
MAX_FAN_IN = 2**16
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class QuantizedLayer:
    """A trained dense layer in integer codes and real steps (before requantization).

    The real value of neuron ``j``'s accumulator ``sum_i W_ji q_i + B_j`` is
    ``weight_step[j]`` times it, in the network's standardized units (the
    logits, or the standardized regression targets, for the output layer).

    Attributes
    ----------
    weights : ndarray of int8 or int16, shape (n_out, n_in)
        Weight codes, row ``j`` at ``weight_bits[j]`` bits.
    weight_bits : ndarray of int64, shape (n_out,)
    weight_step : ndarray of float64, shape (n_out,)
        Real value of one accumulator unit (weight code times input code).
    bias : ndarray of int64, shape (n_out,)
        Bias in accumulator units (a whole number of weight steps).
    activation_step : ndarray of float64, shape (n_out,), or None
        Hidden layers: real value of one output (activation) code; None for
        the output layer.
    activation_bits : ndarray of int64, shape (n_out,), or None
        Hidden layers: bit-width of each neuron's unsigned output code.

    Examples
    --------
    One output neuron at 2 bits, each accumulator unit worth 0.25:

    >>> import numpy as np
    >>> from skqat.runtime import IntegerMLP, QuantizedLayer
    >>> layer = QuantizedLayer(weights=np.array([[1, -1]], dtype=np.int8),
    ...                        weight_bits=np.array([2]), weight_step=np.array([0.25]),
    ...                        bias=np.array([2]))
    >>> graph = IntegerMLP.from_layers(input_scale=np.ones(2), input_offset=np.zeros(2),
    ...                                input_bits=8, layers=[layer], task="regression")
    >>> graph.predict(np.array([[3.0, 1.0]]))
    array([1.])
    """

    weights: np.ndarray
    weight_bits: np.ndarray
    weight_step: np.ndarray
    bias: np.ndarray
    activation_step: np.ndarray | None = None
    activation_bits: np.ndarray | None = None


def prune_zero_bit_neurons(layers):
    """The layers without their 0-bit (pruned) hidden neurons: exactly the same outputs.

    A neuron at 0 weight bits has zero weights and a zero bias, so its
    activation is always 0: its row, its activation step and bits, and the
    next layer's column for it go, and nothing else changes. A hidden layer
    pruned entirely keeps one neuron of zero codes at 2 bits (an output of
    0), so that no array is empty.

    Parameters
    ----------
    layers : list of QuantizedLayer
        The output layer has no 0-bit neuron.

    Returns
    -------
    list of QuantizedLayer
    """
    pruned, columns = [], None
    for layer in layers:
        weights = layer.weights if columns is None else layer.weights[:, columns]
        bits = np.asarray(layer.weight_bits)
        rows = np.flatnonzero(bits > 0) if layer.activation_step is not None else None
        if rows is None or rows.size == bits.size:
            pruned.append(replace(layer, weights=weights))
            columns = None
            continue
        bias, act_bits = np.asarray(layer.bias), np.asarray(layer.activation_bits)
        if rows.size == 0:
            rows, weights = np.array([0]), np.zeros_like(weights[:1])
            bits, bias, act_bits = np.array([2]), np.zeros(1, np.int64), np.array([1])
        pruned.append(QuantizedLayer(
            weights=weights[rows], weight_bits=bits[rows], bias=bias[rows],
            weight_step=np.asarray(layer.weight_step)[rows],
            activation_step=np.asarray(layer.activation_step)[rows],
            activation_bits=act_bits[rows]))
        columns = rows
    return pruned


def weight_qmax(bits):
    """Largest magnitude of a weight code at ``bits`` bits (1 for 1 bit), elementwise."""
    bits = np.asarray(bits, dtype=np.int64)
    return np.where(bits == 1, 1, (1 << np.maximum(bits - 1, 0)) - 1)


def _as_int(name, a, shape, low, high):
    a = np.asarray(a)
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}.")
    if a.size and a.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integers in [{low}, {high}].")
    if a.size and (a.min() < low or a.max() > high):
        raise fp.GraphRangeError(f"{name} must hold integers in [{low}, {high}].")
    return a.astype(np.int64)


def _width(values):
    """Bits of the widest non-negative value (0 when all are 0)."""
    return int(np.max(values)).bit_length() if len(values) else 0


def metadata_widths(layer):
    """The layer's per-neuron fields as the model file stores them.

    Returns
    -------
    (ndarray, ndarray, int, list of int, bool)
        The distinct bit-width pairs ``(w_bits - 1) | (act_bits - 1) << 4``,
        each neuron's index among them, the smallest shift ``k0``, the
        stored widths in bits of the pair index, ``k - k0``, the multiplier
        and the bias (two's complement; 0 when every value is 0), and whether
        the multiplier's top bit is implicit (every multiplier of the layer
        has the same bit length, so that bit is always 1).
    """
    act = 0 if layer.activation_bits is None else layer.activation_bits - 1
    pairs, index = np.unique((layer.weight_bits - 1) | (act << 4), return_inverse=True)
    k0 = int(layer.shift.min())
    bias = layer.bias
    bias_width = 1 + _width(np.where(bias < 0, ~bias, bias)) if bias.any() else 0
    lengths = {int(m).bit_length() for m in layer.multiplier}
    implicit = len(lengths) == 1 and lengths != {0}
    widths = [(len(pairs) - 1).bit_length(), _width(layer.shift - k0),
              _width(layer.multiplier) - implicit, bias_width]
    return pairs, index, k0, widths, implicit


def layer_size_bytes(layer):
    """Bytes of a layer's content: its packed weights and its per-neuron fields.

    The fields (bias, multiplier, shift, bit-widths) take the widths the
    layer needs (:func:`metadata_widths`), each rounded up to whole bytes.

    Parameters
    ----------
    layer : IntegerLayer

    Returns
    -------
    int

    Examples
    --------
    >>> layer = IntegerLayer(weights=[[1, -1, 1]], weight_bits=[2], bias=[-3],
    ...                      multiplier=[5], shift=[2])
    >>> layer_size_bytes(layer)  # 6 weight bits; 0 + 0 + 2 + 3 field bits
    2
    """
    n_bits = layer.n_in * int(np.sum(layer.weight_bits))
    return -(-n_bits // 8) + -(-layer.n_out * sum(metadata_widths(layer)[3]) // 8)


def accumulator_bound(weight_bits, bias, n_in, max_input_code):
    """Bound ``A_j = n_in * Wmax(b_j) * X + |B_j|`` on each neuron's accumulator.

    Parameters
    ----------
    weight_bits, bias : array-like of int, shape (n_out,)
    n_in : int
        Fan-in.
    max_input_code : int
        Largest magnitude ``X`` of the layer's input codes.

    Returns
    -------
    list of int
        Python integers, which cannot overflow.
    """
    return [int(n_in) * int(q) * int(max_input_code) + abs(int(b))
            for q, b in zip(weight_qmax(weight_bits), bias)]


class IntegerLayer:
    """One dense layer of the integer graph.

    Parameters
    ----------
    weights : ndarray of int, shape (n_out, n_in)
        Weight codes; row ``j`` at ``weight_bits[j]`` bits.
    weight_bits : ndarray of int, shape (n_out,)
        Bit-width of each neuron's weights, 1 to 16.
    bias : ndarray of int, shape (n_out,)
        Integer biases (int32 range), in units of the accumulator.
    multiplier, shift : ndarray of int, shape (n_out,)
        Fixed-point requantization factor ``multiplier * 2**-shift``.
    activation_bits : ndarray of int, shape (n_out,), or None
        Bit-width of each hidden neuron's unsigned output code; None for the
        output layer.

    Examples
    --------
    A 2-input output layer: 3-bit weights, requantized by ``3 * 2**-1``.

    >>> import numpy as np
    >>> from skqat.runtime import IntegerLayer
    >>> layer = IntegerLayer(weights=[[3, -2]], weight_bits=[3], bias=[1],
    ...                      multiplier=[3], shift=[1])
    >>> layer.weight_bits
    array([3])
    """

    def __init__(self, weights, weight_bits, bias, multiplier, shift, activation_bits=None):
        weights = np.asarray(weights)
        if weights.ndim != 2 or 0 in weights.shape:
            raise ValueError(f"weights must be a non-empty 2-D array, got shape {weights.shape}.")
        n_out = weights.shape[0]
        self.weight_bits = _as_int("weight_bits", weight_bits, (n_out,), 1, 16)
        qmax = weight_qmax(self.weight_bits)[:, None]
        w = _as_int("weights", weights, weights.shape, -(2**15), 2**15)
        one_bit = (self.weight_bits == 1)[:, None]
        if np.any(np.abs(w) > qmax) or np.any(one_bit & (w == 0)):
            raise ValueError("weights exceed their neuron's bit-width (1-bit weights are -1 or +1).")
        self.weights = w.astype(np.int8 if self.weight_bits.max() <= 8 else np.int16)
        self.bias = _as_int("bias", bias, (n_out,), -INT32_MAX, INT32_MAX)
        self.multiplier = _as_int("multiplier", multiplier, (n_out,), 0, INT32_MAX)
        self.shift = _as_int("shift", shift, (n_out,), 0, fp.MAX_SHIFT)
        self.activation_bits = (None if activation_bits is None else
                                _as_int("activation_bits", activation_bits, (n_out,), 1, 16))

    @property
    def n_in(self):
        """Fan-in."""
        return self.weights.shape[1]

    @property
    def n_out(self):
        """Number of neurons."""
        return self.weights.shape[0]

    def accumulator_bound(self, max_input_code):
        """Per-neuron bounds ``A_j`` on ``|acc_j|`` (see :func:`accumulator_bound`)."""
        return accumulator_bound(self.weight_bits, self.bias, self.n_in, max_input_code)

    def max_output_code(self):
        """Largest code this layer passes on (hidden layers only)."""
        return (1 << int(self.activation_bits.max())) - 1

    def __eq__(self, other):
        if not isinstance(other, IntegerLayer):
            return NotImplemented
        same_act = ((self.activation_bits is None) == (other.activation_bits is None)
                    and (self.activation_bits is None
                         or np.array_equal(self.activation_bits, other.activation_bits)))
        return same_act and all(np.array_equal(getattr(self, k), getattr(other, k))
                                for k in ("weights", "weight_bits", "bias", "multiplier", "shift"))

    __hash__ = None


class LayerPlan:
    """How a layer computes its integers fast, and exactly (module docstring).

    The accumulation runs in float64 BLAS (every bound is below ``2**48``).
    The requantization runs in float64 when every
    ``A_j * M_j + 2**k_j`` is below ``2**53`` (``in_float``): then ``acc *
    scale + const``, with ``scale = M 2**-k`` and ``const = (B M +
    2**(k-1)) 2**-k``, is computed without any rounding (each term and the
    sum are multiples of ``2**-k`` below ``2**53 * 2**-k``), so its floor is
    the int64 result. Otherwise it runs in int64. The ONNX export computes
    with these constants; the numpy runtime
    (:class:`~skqat.runtime._folded.FoldedLayers`) also runs a layer in
    float32 where its ``reach`` allows.

    Parameters
    ----------
    layer : IntegerLayer
    bounds : list of int
        The graph's bound ``A_j`` of each neuron's accumulator.
    max_codes : ndarray of int, shape (n_in,)
        The largest magnitude of each input code.

    Attributes
    ----------
    reach : ndarray of int64, shape (n_out,)
        ``sum_i |W_ji| X_i + |B_j|`` (``X_i`` the input's largest code), at
        most ``A_j``: a bound on every partial sum of the neuron's
        accumulation, in any order.
    """

    def __init__(self, layer, bounds, max_codes):
        self.layer = layer
        # The accumulators' tighter bound, from the weights themselves: every
        # partial sum of a neuron's products and bias is at most its reach.
        self.reach = (np.abs(layer.weights.astype(np.int64)) @ np.asarray(max_codes, np.int64)
                      + np.abs(layer.bias.astype(np.int64)))
        self.weights = np.ascontiguousarray(layer.weights.T, dtype=np.float64)
        self.in_float = all(fp.exact_in_float64(b, m, k) for b, m, k
                            in zip(bounds, layer.multiplier, layer.shift))
        k = layer.shift
        half = np.where(k > 0, np.left_shift(1, np.maximum(k - 1, 0)), 0)
        self.scale = np.ldexp(layer.multiplier.astype(np.float64), -k)
        self.const = np.ldexp((layer.bias * layer.multiplier + half).astype(np.float64), -k)
        self.qmax = (None if layer.activation_bits is None
                     else ((1 << layer.activation_bits) - 1).astype(np.float64))


def saturated_bias(weights, bias, multiplier, shift, activation_bits, max_code):
    """Hidden biases no larger than they need to be for exactly the same outputs.

    With ``S_j = sum_i |W_ji| * X`` (``X`` the largest input code), a bias
    at or below ``-S_j`` keeps the accumulator at most 0 for every input, so
    the neuron always outputs 0, as it does with the bias ``-S_j``. A bias
    above ``S_j + T_j``, where ``T_j`` is the smallest accumulator that
    requantizes to the largest code, always gives the largest code, as
    ``S_j + T_j`` does. Such neurons (dead or saturated) are common after
    training with a price per bit; their smaller biases take fewer bits in
    the model file and never change a prediction.

    Parameters
    ----------
    weights : ndarray of int, shape (n_out, n_in)
    bias, multiplier, shift, activation_bits : ndarray of int, shape (n_out,)
    max_code : int

    Returns
    -------
    ndarray of int64, shape (n_out,)

    Examples
    --------
    >>> import numpy as np
    >>> saturated_bias(np.array([[1, -1], [1, 1]]), np.array([-1000, 5000]), np.array([1, 1]),
    ...                np.array([0, 0]), np.array([2, 2]), 7).tolist()
    [-14, 17]
    """
    reach = np.abs(np.asarray(weights, dtype=np.int64)).sum(axis=1) * int(max_code)
    out = np.asarray(bias, dtype=np.int64).copy()
    for j, (b, s, m, k, a) in enumerate(zip(out, reach, multiplier, shift, activation_bits)):
        m, k, top = int(m), int(k), (1 << int(a)) - 1
        if b < -s:
            out[j] = -s
        elif m > 0:
            # The smallest accumulator whose requantization reaches the top code.
            need = top << k if k == 0 else (top << k) - (1 << (k - 1))
            t = -(-need // m)
            if b > s + t:
                out[j] = s + t
    return out


def requantized_layers(layers, input_bits):
    """Integer layers from trained ones: each neuron's real factor as a multiplier and shift.

    A hidden neuron's real requantization factor is its weight step over its
    activation step; an output neuron's is its weight step over the smallest
    output weight step (the common output step, so that the arg-max of the
    integers is the class). Biases are clipped to the int32 range, and those
    of dead or saturated hidden neurons to what they need
    (:func:`saturated_bias`); hidden neurons at 0 weight bits are pruned
    (:func:`prune_zero_bit_neurons`).

    Parameters
    ----------
    layers : list of QuantizedLayer
    input_bits : int

    Returns
    -------
    (list of IntegerLayer, float)
        The layers and the output step (the real value of one output unit).
    """
    layers = prune_zero_bit_neurons(layers)
    output_step = float(np.min(layers[-1].weight_step))
    built, max_code = [], 2 ** (int(input_bits) - 1) - 1
    for layer in layers:
        hidden = layer.activation_step is not None
        target_step = layer.activation_step if hidden else output_step
        bias = np.clip(np.asarray(layer.bias, dtype=np.int64), -INT32_MAX, INT32_MAX)
        bounds = accumulator_bound(layer.weight_bits, bias, np.shape(layer.weights)[1], max_code)
        reals = np.asarray(layer.weight_step, np.float64) / np.asarray(target_step, np.float64)
        # The largest result that matters: a hidden code, or (None) an output's bound.
        largest = ((1 << np.asarray(layer.activation_bits, np.int64)) - 1 if hidden
                   else [None] * len(reals))
        pairs = [fp.quantize_multiplier(float(r), fp.needed_multiplier_bits(b, r, q))
                 for r, b, q in zip(reals, bounds, largest)]
        mult, shift = np.array([m for m, _ in pairs]), np.array([k for _, k in pairs])
        if hidden:
            bias = saturated_bias(layer.weights, bias, mult, shift, layer.activation_bits,
                                  max_code)
        built.append(IntegerLayer(layer.weights, layer.weight_bits, bias, mult, shift,
                                  layer.activation_bits if hidden else None))
        if hidden:
            max_code = built[-1].max_output_code()
    return built, output_step
