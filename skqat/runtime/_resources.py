"""What a graph's C export needs on a microcontroller (numpy only)."""

from dataclasses import dataclass

from ._c_core import core_types
from ._c_export import core_arrays, input_arrays
from ._c_header import codes_stack_bytes
from ._device_plan import device_plan

#: Cortex-M0 code bytes of the integer entry at ``-Os`` (arm-none-eabi-gcc 12.2,
#: newlib-nano, ``--gc-sections``), measured as the linked increment of one call in a
#: minimal ``main`` less the tables (``benchmarks/mcu_flash.py``), on 180 graphs: the core
#: with 32-bit requantization, or with the 64-bit one (bit by bit), and what a 64-bit
#: accumulator, 64-bit outputs, 16-bit layer sizes and int32 codes add to it. Each is the
#: largest measured of its kind, and CODE_BYTES_ALIGNMENT more covers the alignment of
#: the functions and tables, so that the report, and a flash budget, never count less
#: than the linker.
CODE_BYTES_NARROW = 429
CODE_BYTES_WIDE = 492
CODE_BYTES_WIDE_ACCUMULATOR = 25
CODE_BYTES_WIDE_OUTPUT = 13
CODE_BYTES_WIDE_SIZES = 17
CODE_BYTES_INT32_CODES = 5
CODE_BYTES_ALIGNMENT = 12
#: The class or label function of a classifier, by task, with 32-bit and 64-bit outputs.
CODE_BYTES_TASK = {"regression": (0, 0), "binary": (13, 20), "multiclass": (48, 80),
                   "multilabel": (49, 52)}
#: The float entries beside it (calibrated the same way): their code and the C library's
#: soft-float routines, and a part for each kind of input they read (the affine step,
#: threshold tables, categories).
CODE_BYTES_FLOAT = 2190
CODE_BYTES_PER_INPUT_KIND = 170


@dataclass(frozen=True)
class ResourceReport:
    """Flash, RAM and work of one row, as a firmware engineer checks them before flashing.

    The figures are those of the integer entry (``<prefix>_predict_class_codes``,
    ``<prefix>_predict_labels_codes`` or, for a regressor, ``<prefix>_predict_codes``)
    linked alone into a Cortex-M0 firmware (``-Os``, ``--gc-sections``): input codes
    in, integers out, with no floating point or 64-bit helper from the C library.

    Attributes
    ----------
    flash_bytes : int
        ``table_bytes + code_bytes``: the linked increment of the integer entry.
    table_bytes : int
        Its ``const`` tables (the neuron stream, the bit-width pairs, the layer
        table), exactly, each rounded up to a 4-byte word as the linker may
        align it.
    code_bytes : int
        Its machine code, from a model calibrated by compiling and linking.
    float_entry_bytes : int
        What the float entries add beside it (``<prefix>_predict_class`` and the
        like: the input steps or tables, their code, the C library's
        soft-float routines on a core without an FPU).
    ram_bytes : int
        Stack buffers of the integer entry (``<PREFIX>_CODES_STACK_BYTES``): two
        buffers of int16 codes (int32 beyond 15 activation bits) as long as
        the widest of the inputs and hidden layers, one for a graph with no
        hidden layer. The float entries add 2 bytes per feature; the few
        scalars of the functions are not counted.
    macs_per_row : int
        Integer multiply-accumulates of one row.
    widest_accumulator_bits : int
        32, or 64 where a layer's overflow bound needs it (64-bit additions
        only: the requantization multiplies in 32-bit halves).
    layer_accumulator_bits : list of int
        Per layer, the accumulator's width.
    fpga : FPGAEstimate or None
        With ``resource_report(fpga=True)``: LUTs, adders and latency of the
        FPGA logic (:meth:`~skqat.runtime.IntegerMLP.to_verilog`); else None.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier
    >>> X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    >>> report = clf.to_integer().resource_report()
    >>> report.macs_per_row, report.ram_bytes  # 10 * 16 + 16; two buffers of 16 int16
    (176, 64)
    """

    flash_bytes: int
    table_bytes: int
    code_bytes: int
    float_entry_bytes: int
    ram_bytes: int
    macs_per_row: int
    widest_accumulator_bits: int
    layer_accumulator_bits: list
    fpga: object = None


def core_table_bytes(graph):
    """Bytes of the integer entry's tables, each rounded up to a 4-byte word."""
    return sum(-(-a.nbytes // 4) * 4 for a in core_arrays(graph))


def integer_entry_code_bytes(graph, plan):
    """Code bytes of the integer entry linked alone (see :data:`CODE_BYTES_NARROW`)."""
    code_t, acc_t, result_t, narrow = core_types(graph, plan)
    wide_out = result_t == "int64_t"
    sizes = max(max(layer.n_in, layer.n_out) for layer in graph.layers)
    extras = (CODE_BYTES_ALIGNMENT + CODE_BYTES_WIDE_SIZES * (sizes > 255)
              + CODE_BYTES_INT32_CODES * (code_t == "int32_t"))
    if narrow:
        return CODE_BYTES_NARROW + CODE_BYTES_TASK[graph.task][0] + extras
    return (CODE_BYTES_WIDE + CODE_BYTES_WIDE_ACCUMULATOR * (acc_t == "int64_t")
            + CODE_BYTES_WIDE_OUTPUT * wide_out + CODE_BYTES_TASK[graph.task][wide_out]
            + extras)


def resource_report(graph, *, fpga=False, latency_cutoff=None):
    """The :class:`ResourceReport` of an :class:`~skqat.runtime.IntegerMLP`'s C export.

    With ``fpga=True``, also da4ml's estimate of its FPGA logic, pipelined at
    ``latency_cutoff`` (:func:`~skqat.runtime._fpga.fpga_estimate`).

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
    tables = core_table_bytes(graph)
    code = integer_entry_code_bytes(graph, plan)
    kinds = (any(p.thresholds is None for p in plan.numeric)
             + any(p.thresholds is not None for p in plan.numeric) + bool(plan.categorical))
    float_entry = (sum(a.nbytes for a in input_arrays(graph, plan)) + CODE_BYTES_FLOAT
                   + CODE_BYTES_PER_INPUT_KIND * kinds)
    macs = sum(layer.n_in * layer.n_out for layer in graph.layers)
    widths = [64 if wide else 32 for wide in plan.wide_accumulator]
    estimate = None
    if fpga:
        from ._fpga import fpga_estimate  # da4ml, imported only when asked for

        estimate = fpga_estimate(graph, latency_cutoff)
    return ResourceReport(flash_bytes=tables + code, table_bytes=tables, code_bytes=code,
                          float_entry_bytes=float_entry, ram_bytes=codes_stack_bytes(graph, plan),
                          macs_per_row=macs, widest_accumulator_bits=max(widths),
                          layer_accumulator_bits=widths, fpga=estimate)

