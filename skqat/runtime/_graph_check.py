"""The checks an integer graph passes when it is built (numpy only)."""

import numpy as np

from . import _fixed_point as fp
from ._layer import MAX_FAN_IN, TASKS, IntegerLayer
from ._raw_inputs import RawInputs


def check_graph(graph):
    """Raise ValueError unless ``graph`` (an IntegerMLP) is consistent and cannot overflow.

    Shapes and finiteness of the steps, bit-widths, the task and its classes,
    the raw inputs, and every neuron's int64 bound (``_graph.py``).
    """
    n_features = graph.input_scale.shape[0] if graph.input_scale.ndim == 1 else -1
    if n_features < 1 or graph.input_offset.shape != (n_features,):
        raise ValueError("input_scale and input_offset must be 1-D arrays of one length.")
    if not (np.all(np.isfinite(graph.input_scale)) and np.all(np.isfinite(graph.input_offset))):
        raise fp.GraphRangeError("input_scale and input_offset must be finite.")
    if not 2 <= graph.input_bits <= 16:
        raise ValueError(f"input_bits must be in [2, 16], got {graph.input_bits}.")
    if not graph.layers or not all(isinstance(lay, IntegerLayer) for lay in graph.layers):
        raise ValueError("layers must be a non-empty list of IntegerLayer.")
    n_in = n_features
    for i, layer in enumerate(graph.layers):
        hidden = i < len(graph.layers) - 1
        if layer.n_in != n_in:
            raise ValueError(f"layer {i} has fan-in {layer.n_in}, expected {n_in}.")
        if layer.n_in > MAX_FAN_IN:
            raise ValueError(f"layer {i} has fan-in {layer.n_in}; the widest supported "
                             f"is {MAX_FAN_IN}.")
        if hidden != (layer.activation_bits is not None):
            raise ValueError("every hidden layer, and only those, has activation_bits.")
        n_in = layer.n_out
    if graph.output_scale.shape != (n_in,) or graph.output_offset.shape != (n_in,):
        raise ValueError(f"output_scale and output_offset must have shape ({n_in},).")
    if not (np.all(np.isfinite(graph.output_scale)) and np.all(np.isfinite(graph.output_offset))):
        raise fp.GraphRangeError("output_scale and output_offset must be finite.")
    if graph.raw_inputs is not None:
        if not isinstance(graph.raw_inputs, RawInputs):
            raise ValueError("raw_inputs must be a RawInputs or None.")
        graph.raw_inputs.check(n_features)
        qmax = 2 ** (graph.input_bits - 1) - 1
        if any(np.abs(c.codes).max() > qmax for c in graph.raw_inputs.categorical):
            raise ValueError("A categorical input's codes exceed the input bits.")
    if graph.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {graph.task!r}.")
    if graph.task == "binary" and n_in != 1:
        raise ValueError("a binary graph has a single output (the logit).")
    if graph.classes is not None:
        n_classes = 2 if graph.task == "binary" else n_in
        if graph.task in ("regression", "multilabel") or graph.classes.shape != (n_classes,):
            raise ValueError(f"classes must have shape ({n_classes},) for a {graph.task} graph.")
    for i, bounds in enumerate(graph.accumulator_bounds()):
        layer = graph.layers[i]
        for j, (bound, m, k) in enumerate(zip(bounds, layer.multiplier, layer.shift)):
            if bound * int(m) + (1 << int(k)) >= 1 << fp.PRODUCT_BITS:
                raise fp.GraphRangeError(
                    f"layer {i}, neuron {j}: the accumulator bound {bound} times the "
                    f"multiplier {m} could overflow int64 (see the module docstring)."
                )

