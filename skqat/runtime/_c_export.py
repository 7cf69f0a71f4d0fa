"""Export of an :class:`~skqat.runtime.IntegerMLP` as C99 for microcontrollers.

The source follows the :mod:`~skqat.runtime._device_plan`: ``const`` arrays
(flash) for the bit-packed weights, each layer's per-neuron fields at the
narrowest C type that holds them and the input tables; no ``malloc``; stack
buffers sized by the widest layer (``<PREFIX>_STACK_BYTES`` in the header);
32-bit accumulators and requantization wherever the overflow bound proves
they fit. The only floating point is single precision: the float32 input
step, which numpy computes the same way (no ``double``, no fused
multiply-add: do not compile with ``-ffp-contract=fast``), and the
dequantized outputs of ``<prefix>_predict_float``. The integer outputs equal
:meth:`IntegerMLP.decision_function` bit for bit.
"""

import pathlib
import re

import numpy as np

from . import _packing
from ._c_source import float32_literal, header_text, int_literal, source_text
from ._c_test_source import c_test_file
from ._device_plan import device_plan


def _ctype(values, unsigned=False):
    """The narrowest C integer type that holds every value."""
    values = np.asarray(values, dtype=np.int64)
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for bits in (8, 16, 32, 64):
        if unsigned and lo >= 0 and hi < 2**bits:
            return f"uint{bits}_t"
        if not unsigned and -(2 ** (bits - 1)) <= lo and hi < 2 ** (bits - 1):
            return f"int{bits}_t"
    raise ValueError("A value does not fit in 64 bits.")


class CArray:
    """One ``static const`` array of the generated source (it lives in flash).

    Parameters
    ----------
    name : str
    ctype : str
        ``uint8_t`` ... ``int64_t``, or ``float``.
    values : array-like
    """

    def __init__(self, name, ctype, values):
        self.name, self.ctype = name, ctype
        self.values = np.asarray(values).ravel()

    @property
    def nbytes(self):
        """Bytes in flash (an empty array still takes one element)."""
        size = 4 if self.ctype == "float" else int(re.search(r"\d+", self.ctype)[0]) // 8
        return size * max(len(self.values), 1)

    def text(self):
        fmt = float32_literal if self.ctype == "float" else (lambda v: int_literal(v, self.ctype))
        items = [fmt(v) for v in self.values] or ["0"]
        per_line = 6 if self.ctype == "float" else 12
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        body = ",\n    ".join(lines)
        return f"static const {self.ctype} {self.name}[{len(items)}] = {{\n    {body}\n}};\n"


def _typed(name, values, unsigned=False):
    return CArray(name, _ctype(values, unsigned), values)


def c_arrays(graph, plan):
    """Every constant array of the C export, in order (the resource report sums them).

    Parameters
    ----------
    graph : IntegerMLP
    plan : DevicePlan

    Returns
    -------
    list of CArray
    """
    packed = np.frombuffer(_packing.pack_layers(graph.layers), dtype=np.uint8)
    arrays = [CArray("packed_weights", "uint8_t", np.concatenate([packed, [0, 0]]))]
    for i, layer in enumerate(graph.layers):
        bias = plan.first_bias if i == 0 else layer.bias
        arrays += [CArray(f"l{i}_bits", "uint8_t", layer.weight_bits),
                   CArray(f"l{i}_shift", "uint8_t", layer.shift),
                   _typed(f"l{i}_mult", layer.multiplier, unsigned=True),
                   _typed(f"l{i}_bias", bias)]
        if layer.activation_bits is not None:
            arrays.append(CArray(f"l{i}_act", "uint8_t", layer.activation_bits))
    affine = [p for p in plan.numeric if p.thresholds is None]
    table = [p for p in plan.numeric if p.thresholds is not None]
    if graph.raw_inputs is not None:
        arrays.append(_typed("dense_feature", [p.feature for p in plan.numeric], unsigned=True))
        if plan.numeric:
            arrays.append(CArray("nan_refused", "uint8_t", [p.refuses_nan for p in plan.numeric]))
    if affine:
        arrays += [_typed("affine_input", [plan.numeric.index(p) for p in affine], True),
                   CArray("input_scale", "float", [graph.input_scale[p.feature] for p in affine]),
                   CArray("input_offset", "float",
                          [graph.input_offset[p.feature] for p in affine]),
                   _typed("affine_nan_code", [p.nan_code for p in affine])]
    if table:
        starts = np.cumsum([0] + [len(p.thresholds) for p in table])
        arrays += [_typed("table_input", [plan.numeric.index(p) for p in table], True),
                   _typed("table_start", starts, True),
                   _typed("table_base", [p.base for p in table]),
                   _typed("table_nan_code", [p.nan_code for p in table]),
                   CArray("thresholds", "int32_t", np.concatenate([p.thresholds for p in table]))]
    if plan.categorical:
        cats = plan.categorical
        level_base = np.cumsum([0] + [len(c.level_start) - 1 for c in cats])
        entry_base = np.cumsum([0] + [len(c.deltas) for c in cats])
        arrays += [_typed("cat_levels", [len(c.level_start) - 1 for c in cats], True),
                   _typed("cat_level_base", level_base[:-1], True),
                   _typed("level_start", np.concatenate(
                       [c.level_start[:-1] + b for c, b in zip(cats, entry_base)]
                       + [entry_base[-1:]]), True),
                   _typed("entry_feature", np.concatenate([c.features for c in cats]), True),
                   _typed("entry_delta", np.concatenate([c.deltas for c in cats])),
                   CArray("level_refused", "uint8_t", np.concatenate([c.refused for c in cats]))]
    return arrays


def export_c(graph, directory, *, prefix="skqat_model", test_rows=None):
    """Write ``<prefix>.h`` and ``<prefix>.c`` (and ``<prefix>_test.c``) into ``directory``.

    Parameters
    ----------
    graph : IntegerMLP
    directory : str or path-like
        Created if missing.
    prefix : str, default="skqat_model"
        A C identifier: the prefix of every function and macro, and the file stem.
    test_rows : array-like, DataFrame or None
        Rows to write into ``<prefix>_test.c`` with the outputs this graph
        gives them (numbers rounded to float32 first, as the device reads
        them); its ``main`` prints how many rows the C agrees on and returns
        0 only if it agrees on all.

    Returns
    -------
    list of pathlib.Path
        The header, the source and (with ``test_rows``) the test program.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError(f"prefix must be a C identifier, got {prefix!r}.")
    total_bits = graph.weight_bit_count()
    if total_bits >= 2**32 - 64:
        raise ValueError("The C export addresses weights with 32-bit bit positions; this "
                         f"model has {total_bits} weight bits.")
    plan = device_plan(graph)
    arrays = c_arrays(graph, plan)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header, source = directory / f"{prefix}.h", directory / f"{prefix}.c"
    header.write_text(header_text(graph, plan, prefix))
    source.write_text(source_text(graph, plan, prefix, "".join(a.text() for a in arrays)))
    paths = [header, source]
    if test_rows is not None:
        paths.append(directory / f"{prefix}_test.c")
        paths[-1].write_text(c_test_file(graph, plan, prefix, test_rows))
    return paths
