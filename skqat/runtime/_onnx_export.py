"""The integer graph as an ONNX model of standard operators, exact in onnxruntime.

Why these operators (``docs/onnx.md`` says the same for users):

* The input step is the graph's own float32 arithmetic: ``Cast`` to float32,
  ``Mul``, ``Add``, ``Clip``, NaN to 0 (``IsNaN``, ``Where``), ``+ 1/2``,
  ``Floor``: one IEEE single-precision operation each, as numpy and the C
  export compute them. ``QuantizeLinear`` would round half to even, and
  divide where the graph multiplies.
* Each dense layer accumulates with ``MatMul`` in float64 on integer
  values: every partial sum is an integer below ``2**48``
  (:data:`~skqat.runtime._layer.MAX_FAN_IN`), which float64 holds exactly in
  any summation order. ``MatMulInteger`` takes 8-bit inputs only, and the
  activations here reach 16 bits. The weights are stored as int8 (int16
  above 8 bits) and cast once.
* Requantization follows :class:`~skqat.runtime._layer.LayerPlan`: in
  float64 (``Mul``, ``Add``, ``Floor``) where that is exact, which is most
  layers; otherwise in int64, with the floor of ``v / 2**k`` written as
  ``(v - Mod(v, 2**k)) / 2**k`` because integer ``Div`` truncates towards
  zero and ``BitShift`` is unsigned only.
* The outputs, probabilities included, are the float64 operations of
  :meth:`~skqat.runtime.IntegerMLP.predict_proba` in the same order
  (``Tanh`` for the logistic, ``Exp`` of the logits less their maximum).

onnx is imported only when a model is exported: the runtime stays numpy only.
"""

from dataclasses import dataclass, field

import numpy as np

from ._onnx_front import raw_input_codes

#: Opsets the export writes (onnxruntime 1.16 and later runs them all).
OPSETS = range(13, 22)
DEFAULT_OPSET = 19


@dataclass
class _Builder:
    """Nodes and initializers of the graph under construction, with fresh names."""

    onnx: object
    opset: int
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    count: int = 0

    def name(self, stem):
        # Prefixed: a raw column (an input) cannot be named like a tensor of the graph.
        self.count += 1
        return f"skqat.{stem}_{self.count}"

    def const(self, stem, values, dtype=None):
        values = np.asarray(values, dtype=dtype)
        name = self.name(stem)
        if values.dtype.kind in "UO":
            tensor = self.onnx.helper.make_tensor(
                name, self.onnx.TensorProto.STRING, values.shape,
                [str(v).encode("utf-8") for v in values.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(values, name)
        self.initializers.append(tensor)
        return name

    def node(self, op, inputs, stem=None, output=None, **attrs):
        output = output or self.name(stem or op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], **attrs))
        return output

    def reduce(self, op, x, axis):
        # Reductions took their axes as an attribute before opset 18, an input since.
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [x, self.const("axes", [axis], np.int64)], keepdims=1)
        return self.node(op, [x], axes=[axis], keepdims=1)


def _input_codes(b, x, scale, offset, bits):
    """Signed input codes, float64 integers: the graph's float32 input step of ``x``."""
    qmax = float(2 ** (bits - 1) - 1)
    v = b.node("Cast", [x], to=b.onnx.TensorProto.FLOAT)
    v = b.node("Mul", [v, b.const("input_scale", scale, np.float32)])
    v = b.node("Add", [v, b.const("input_offset", offset, np.float32)])
    v = b.node("Clip", [v, b.const("low", -qmax, np.float32), b.const("high", qmax, np.float32)])
    v = b.node("Where", [b.node("IsNaN", [v]), b.const("zero", 0.0, np.float32), v])
    v = b.node("Floor", [b.node("Add", [v, b.const("half", 0.5, np.float32)])])
    return b.node("Cast", [v], to=b.onnx.TensorProto.DOUBLE)


def _dense(b, h, plan, index):
    """One layer's output codes (float64 integers) from its input codes ``h``."""
    layer = plan.layer
    w = b.const(f"weights_{index}", np.ascontiguousarray(layer.weights.T))
    acc = b.node("MatMul", [h, b.node("Cast", [w], to=b.onnx.TensorProto.DOUBLE)])
    if plan.in_float:
        r = b.node("Mul", [acc, b.const(f"scale_{index}", plan.scale, np.float64)])
        r = b.node("Floor", [b.node("Add", [r, b.const(f"const_{index}", plan.const,
                                                        np.float64)])])
        if plan.qmax is not None:
            r = b.node("Max", [r, b.const("zero", 0.0, np.float64)])
            r = b.node("Min", [r, b.const(f"qmax_{index}", plan.qmax, np.float64)])
        return r
    k = layer.shift
    half = np.where(k > 0, np.left_shift(1, np.maximum(k - 1, 0)), 0)
    v = b.node("Cast", [acc], to=b.onnx.TensorProto.INT64)
    v = b.node("Add", [v, b.const(f"bias_{index}", layer.bias, np.int64)])
    v = b.node("Mul", [v, b.const(f"multiplier_{index}", layer.multiplier, np.int64)])
    v = b.node("Add", [v, b.const(f"half_{index}", half, np.int64)])
    power = b.const(f"two_to_shift_{index}", np.left_shift(1, k), np.int64)
    floor = b.node("Sub", [v, b.node("Mod", [v, power], fmod=0)])
    r = b.node("Div", [floor, power])
    if plan.qmax is not None:
        r = b.node("Max", [r, b.const("zero", 0, np.int64)])
        r = b.node("Min", [r, b.const(f"qmax_{index}", plan.qmax.astype(np.int64))])
    return b.node("Cast", [r], to=b.onnx.TensorProto.DOUBLE)


def _logistic(b, z):
    """``0.5 * (1 + tanh(0.5 z))``, as the graph computes the logistic."""
    half = b.const("half64", 0.5, np.float64)
    t = b.node("Tanh", [b.node("Mul", [half, z])])
    return b.node("Mul", [half, b.node("Add", [b.const("one", 1.0, np.float64), t])])


def _outputs(b, out, graph):
    """Output nodes; returns ``[(name, element type, shape)]`` of the model's outputs."""
    t = b.onnx.TensorProto
    z = b.node("Mul", [out, b.const("output_scale", graph.output_scale, np.float64)])
    z = b.node("Add", [z, b.const("output_offset", graph.output_offset, np.float64)],
               output="variable" if graph.task == "regression" else None)
    n_out = graph.n_outputs
    if graph.task == "regression":
        return [("variable", t.DOUBLE, ["N", n_out])]
    positive = b.node("Greater", [out, b.const("zero", 0.0, np.float64)])
    if graph.task == "multilabel":
        b.node("Cast", [positive], output="label", to=t.INT64)
        b.node("Identity", [_logistic(b, z)], output="probabilities")
        return [("label", t.INT64, ["N", n_out]), ("probabilities", t.DOUBLE, ["N", n_out])]
    if graph.task == "binary":
        index = b.node("Cast", [b.node("Squeeze", [positive, b.const("axis", [1], np.int64)])],
                       to=t.INT64)
        p = _logistic(b, z)
        b.node("Concat", [b.node("Sub", [b.const("one", 1.0, np.float64), p]), p],
               output="probabilities", axis=1)
        n_classes = 2
    else:
        index = b.node("ArgMax", [out], axis=1, keepdims=0, select_last_index=0)
        e = b.node("Exp", [b.node("Sub", [z, b.reduce("ReduceMax", z, 1)])])
        b.node("Div", [e, b.reduce("ReduceSum", e, 1)], output="probabilities")
        n_classes = n_out
    label_type = t.INT64
    if graph.classes is None:
        b.node("Identity", [index], output="label")
    else:
        classes = graph.classes
        if classes.dtype.kind in "iub":
            classes = classes.astype(np.int64)
        elif classes.dtype.kind == "f":
            classes, label_type = classes.astype(np.float64), t.DOUBLE
        else:
            classes, label_type = classes.astype(str), t.STRING
        b.node("Gather", [b.const("classes", classes), index], output="label", axis=0)
    return [("label", label_type, ["N"]), ("probabilities", t.DOUBLE, ["N", n_classes])]


def graph_to_onnx(graph, *, opset=DEFAULT_OPSET, name="skqat_integer_mlp"):
    """The ONNX model of an integer graph, exact in onnxruntime.

    Parameters
    ----------
    graph : IntegerMLP
        A graph of numeric rows, or of a folded pipeline's raw columns
        (:mod:`~skqat.runtime._onnx_front`).
    opset : int, default=19
        The ONNX opset, 13 to 21.
    name : str
        The ONNX graph's name.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` (float64, shape ``(N, n_features)``), or one input per raw
        column (:mod:`~skqat.runtime._onnx_front`). Outputs: regression
        ``variable`` (float64, ``(N, n_outputs)``); classification ``label``
        (the class labels, int64, float64 or string, shape ``(N,)``; 0/1
        indicators ``(N, n_labels)`` for multilabel) and ``probabilities``
        (float64).
    """
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as err:
        raise ImportError("ONNX export needs the onnx package: pip install 'skqat[onnx]'.") from err
    if opset not in OPSETS:
        raise ValueError(f"opset must be in {OPSETS.start}..{OPSETS.stop - 1}, got {opset!r}.")
    b = _Builder(onnx=onnx, opset=int(opset))
    if graph.raw_inputs is None:
        h = _input_codes(b, "X", graph.input_scale, graph.input_offset, graph.input_bits)
        inputs = [("X", onnx.TensorProto.DOUBLE, ["N", graph.n_features])]
    else:
        h, inputs = raw_input_codes(b, graph, lambda b, x, scale, offset: _input_codes(
            b, x, scale, offset, graph.input_bits))
    for i, plan in enumerate(graph._plans):
        h = _dense(b, h, plan, i)
    outputs = _outputs(b, h, graph)
    helper = onnx.helper
    model = helper.make_model(
        helper.make_graph(
            b.nodes, name,
            [helper.make_tensor_value_info(n, e, s) for n, e, s in inputs],
            [helper.make_tensor_value_info(n, e, s) for n, e, s in outputs],
            initializer=b.initializers),
        opset_imports=[helper.make_opsetid("", int(opset))], producer_name="skqat")
    model.ir_version = min(model.ir_version, 8 if opset <= 18 else 9)
    return model
