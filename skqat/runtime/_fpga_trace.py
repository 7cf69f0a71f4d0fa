"""The integer graph as da4ml logic: one adder graph, the graph's arithmetic bit for bit.

da4ml (imported only here and in :mod:`~skqat.runtime._fpga`, so that the
runtime stays numpy only) traces operations on symbolic fixed-point values
into combinational logic of adders, shifts and multiplexers, and writes it
as Verilog. Each step of :mod:`~skqat.runtime._graph`'s arithmetic maps to
one traced operation:

* the ports are the graph's signed input codes, ``input_bits`` wide (the
  float input step stays in front of the logic);
* a layer's accumulation ``W q + B`` is one constant matrix-vector product,
  which da4ml's CMVM optimizer turns into a shared adder tree;
* the requantization ``floor((acc * M + 2**(k-1)) / 2**k)`` is a constant
  product (shifts and additions), a constant, and a truncation
  (:func:`requantized`); a hidden neuron then clips to ``[0, 2**a - 1]`` by
  two comparisons and multiplexers (:func:`_clip`);
* after the integer outputs, the class index (binary: ``out > 0``;
  multiclass: the first largest output, as ``argmax``) or one 0/1 port per
  label (multilabel).
"""

import decimal
from dataclasses import dataclass

import numpy as np

from ._layer import accumulator_bound

#: Significant digits of da4ml's Decimal arithmetic while tracing.
DECIMAL_DIGITS = 200


def _da4ml():
    try:
        import da4ml.trace as trace
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The FPGA export needs da4ml: pip install 'skqat[fpga]'.") from exc
    return trace


@dataclass(frozen=True)
class TracedGraph:
    """An integer graph as da4ml combinational logic.

    Attributes
    ----------
    logic : da4ml.types.CombLogic
        The whole graph: ``n_features`` input ports, then ``n_outputs +
        n_labels`` output ports.
    n_outputs : int
        The first output ports: the graph's integer outputs
        (:meth:`~skqat.runtime.IntegerMLP.forward_codes`).
    n_labels : int
        The ports after them: 1 (binary and multiclass: the class index), one
        0/1 port per label (multilabel), or 0 (regression).
    input_bits : int
        Width of each input port (signed codes).
    """

    logic: object
    n_outputs: int
    n_labels: int
    input_bits: int

    @property
    def port_bits(self):
        """Width in bits that da4ml's Verilator bindings give every input (or output) word.

        As its binder computes it: the largest sign, integer and fraction bits
        among the input ports, added (and the same for the output ports).
        """
        return max(int(np.asarray(kifs).max(axis=1).sum())
                   for kifs in (self.logic.inp_kifs, self.logic.out_kifs))


def requantized(acc, multiplier, shift):
    """``floor((acc * M + 2**(k-1)) * 2**-k)`` before its clip or wrap, in integer steps.

    The product and the rounding constant are integers, as in the graph, and
    ``2**-k`` comes last: it only moves the binary point, so the truncation
    that follows is the graph's floor.
    """
    m, k = int(multiplier), int(shift)
    total = acc * float(m) + float((1 << k) >> 1)  # 2**(k-1), or 0 when k = 0
    return total * float(2.0 ** -k)


def _layer(codes, layer, max_code):
    """One dense layer on traced codes: accumulate, requantize, clip (hidden)."""
    trace = _da4ml()
    acc = codes @ layer.weights.T.astype(np.float64) + layer.bias.astype(np.float64)
    acc = np.ravel(acc._vars)
    # The floor, as wide as the overflow bound says: no value wraps.
    bounds = accumulator_bound(layer.weight_bits, layer.bias, layer.n_in, max_code)
    out = [requantized(a, m, k).quantize(1, (((b * int(m)) >> int(k)) + 1).bit_length(), 0,
                                         "WRAP", "TRN")
           for a, m, k, b in zip(acc, layer.multiplier, layer.shift, bounds)]
    if layer.activation_bits is not None:
        out = [_clip(v, (1 << int(bits)) - 1) for v, bits in zip(out, layer.activation_bits)]
    return trace.FixedVariableArray(np.array(out, dtype=object))


def _clip(value, top):
    """``clip(value, 0, top)`` as two comparisons and multiplexers.

    da4ml's own saturating quantization (``SAT``) emulates the same, but its
    Verilog differs from its emulation on some saturated neurons of deeper
    graphs (found by simulating random graphs); the comparisons agree.
    """
    # The multiplexers are told their output range: da4ml would otherwise keep
    # the whole range of the unclipped value, and widen every adder after it.
    step = float(value.step)
    value = (value < 0).msb_mux(0.0, value, qint=(0.0, max(0.0, float(value.high)), step))
    return (value > float(top)).msb_mux(float(top), value,
                                        qint=(0.0, float(min(top, value.high)), step))


def _first_largest(values):
    """The index of the first largest traced value (``argmax``), as a balanced tree.

    Each node keeps its left operand unless the right one is strictly larger:
    the left subtree holds the lower indices, so ties go to the first.
    """
    nodes = [(v, i) for i, v in enumerate(values)]
    while len(nodes) > 1:
        paired = []
        for (va, ia), (vb, ib) in zip(nodes[0::2], nodes[1::2]):
            right = vb > va  # a 0/1 value: da4ml's mux tests its one bit
            paired.append((right.msb_mux(vb, va), right.msb_mux(ib, ia)))
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0][1]


def _labels(outputs, task):
    """Label ports: the class index, or 0/1 per label (1 where the output is above 0)."""
    if task == "regression":
        return []
    if task == "multiclass":
        return [_first_largest(list(outputs))]
    return [v > 0 for v in outputs]


def trace_graph(graph):
    """Trace an :class:`~skqat.runtime.IntegerMLP` into a :class:`TracedGraph`.

    Parameters
    ----------
    graph : IntegerMLP

    Returns
    -------
    TracedGraph
    """
    trace = _da4ml()
    with decimal.localcontext() as context:
        # da4ml keeps ranges and constants as Decimals in the units of each
        # signal, which carry the factors 2**-k of every layer before: 28
        # significant digits (the default) round them.
        context.prec = DECIMAL_DIGITS
        return _trace(trace, graph)


def _trace(trace, graph):
    bits = int(graph.input_bits)
    ports = trace.FixedVariableArrayInput(graph.n_features)
    codes = ports.quantize(1, bits - 1, 0)
    max_code = 2 ** (bits - 1) - 1
    for layer in graph.layers:
        codes = _layer(codes, layer, max_code)
        if layer.activation_bits is not None:
            max_code = layer.max_output_code()
    outputs = list(np.ravel(codes._vars))
    labels = _labels(outputs, graph.task)
    # Every feature keeps its port, used or not: the port layout is the codes'.
    logic = trace.comb_trace(ports, np.array([*outputs, *labels], dtype=object),
                             keep_dead_inputs=True)
    return TracedGraph(logic=logic, n_outputs=len(outputs), n_labels=len(labels),
                       input_bits=bits)
