"""What a graph's C export needs on a microcontroller (numpy only)."""

from dataclasses import dataclass

from ._c_export import c_arrays
from ._c_source import stack_bytes
from ._device_plan import device_plan

#: Code bytes of the generated functions at ``-Os`` for a Cortex-M0 (fitted to
#: arm-none-eabi-gcc 12.2 builds of 1- to 3-layer graphs, within about 100 bytes):
#: a fixed part, a part per layer and one per kind of input (affine, table, categorical).
CODE_BYTES_FIXED = 100
CODE_BYTES_PER_LAYER = 270
CODE_BYTES_PER_INPUT_KIND = 90


@dataclass(frozen=True)
class ResourceReport:
    """Flash, RAM and work of one row, as a firmware engineer checks them before flashing.

    Attributes
    ----------
    flash_bytes : int
        ``table_bytes + code_bytes``.
    table_bytes : int
        The ``const`` arrays of the C export (weights, per-neuron fields,
        input tables), exactly.
    code_bytes : int
        An estimate of the generated functions' machine code (Cortex-M0,
        ``-Os``); the C library's soft-float routines are not counted.
    ram_bytes : int
        Stack buffers of one prediction (``<PREFIX>_STACK_BYTES``): the int16
        input codes, two uint16 activation buffers of the widest hidden layer
        (one with a single hidden layer), the categorical entries; the few
        scalars of the functions are not counted.
    macs_per_row : int
        Integer multiply-accumulates of one row (a categorical input counts
        its table entries, not its one-hot width).
    widest_accumulator_bits : int
        32, or 64 where a layer's overflow bound needs it.
    layer_accumulator_bits : list of int
        Per layer, the accumulator's width.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    >>> report = clf.to_integer().resource_report()
    >>> report.macs_per_row <= 10 * 16 + 16, report.ram_bytes  # 10 int16 codes, 16 uint16
    (True, 52)
    """

    flash_bytes: int
    table_bytes: int
    code_bytes: int
    ram_bytes: int
    macs_per_row: int
    widest_accumulator_bits: int
    layer_accumulator_bits: list


def resource_report(graph):
    """The :class:`ResourceReport` of an :class:`~skqat.runtime.IntegerMLP`'s C export.

    Examples
    --------
    >>> import numpy as np
    >>> from skqat.runtime import IntegerLayer, IntegerMLP
    >>> layer = IntegerLayer(weights=[[1, -1]], weight_bits=[2], bias=[0],
    ...                      multiplier=[1], shift=[0])
    >>> graph = IntegerMLP(input_scale=[1.0, 1.0], input_offset=[0.0, 0.0], input_bits=8,
    ...                    layers=[layer], output_scale=[0.5], output_offset=[0.0],
    ...                    task="regression")
    >>> report = graph.resource_report()
    >>> report.macs_per_row, report.widest_accumulator_bits, report.ram_bytes
    (2, 32, 4)
    >>> report.flash_bytes == report.table_bytes + report.code_bytes
    True
    """
    plan = device_plan(graph)
    tables = sum(a.nbytes for a in c_arrays(graph, plan))
    kinds = (any(p.thresholds is None for p in plan.numeric)
             + any(p.thresholds is not None for p in plan.numeric) + bool(plan.categorical))
    code = (CODE_BYTES_FIXED + CODE_BYTES_PER_LAYER * len(graph.layers)
            + CODE_BYTES_PER_INPUT_KIND * kinds)
    first = graph.layers[0]
    entries = sum(c.max_entries for c in plan.categorical)
    macs = first.n_out * (len(plan.numeric) + entries) + sum(
        layer.n_in * layer.n_out for layer in graph.layers[1:])
    widths = [64 if wide else 32 for wide in plan.wide_accumulator]
    return ResourceReport(flash_bytes=tables + code, table_bytes=tables, code_bytes=code,
                          ram_bytes=stack_bytes(graph, plan), macs_per_row=macs,
                          widest_accumulator_bits=max(widths), layer_accumulator_bits=widths)
