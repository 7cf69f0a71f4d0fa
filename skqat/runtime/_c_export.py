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

from ._c_header import header_text
from ._c_source import float32_literal, int_literal, source_text
from ._c_stream import neuron_stream
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


class CStructArray:
    """The ``static const`` array of per-layer structs that the core's loop reads.

    Parameters
    ----------
    name : str
    fields : list of (str, str, array-like)
        Each member's name, C integer type and one value per element (a row
        of values per element for an array member).
    """

    def __init__(self, name, fields):
        self.name, self.fields = name, fields

    @property
    def nbytes(self):
        """Bytes in flash: each member aligned to its size, the struct to its widest member."""
        size, align = 0, 1
        for _, ctype, values in self.fields:
            width = int(re.search(r"\d+", ctype)[0]) // 8
            size = -(-size // width) * width + width * self._length(values)
            align = max(align, width)
        return -(-size // align) * align * len(self.fields[0][2])

    @staticmethod
    def _length(values):
        """1 for a scalar member, else the length of its array (a 2-D ``values``)."""
        shape = np.shape(values)
        return shape[1] if len(shape) == 2 else 1

    def text(self):
        members = "".join(
            f"    {ctype} {name}{'' if np.ndim(v) == 1 else f'[{np.shape(v)[1]}]'};\n"
            for name, ctype, v in self.fields)

        def item(v):
            return str(int(v)) if np.ndim(v) == 0 else "{ " + ", ".join(map(str, v)) + " }"

        rows = zip(*(np.asarray(values).tolist() for _, _, values in self.fields))
        items = ",\n".join("    { " + ", ".join(item(v) for v in row) + " }" for row in rows)
        return (f"static const struct {{\n{members}}} {self.name}[{len(self.fields[0][2])}] = "
                f"{{\n{items}\n}};\n")


def core_arrays(graph):
    """The integer core's constant tables: the neuron stream, the pairs, the layer table.

    Parameters
    ----------
    graph : IntegerMLP

    Returns
    -------
    list of CArray or CStructArray
    """
    s = neuron_stream(graph.layers)
    h = s.headers
    info = CStructArray("layer_info", [
        ("n_in", _ctype([x.n_in for x in h], True), [x.n_in for x in h]),
        ("n_out", _ctype([x.n_out for x in h], True), [x.n_out for x in h]),
        ("first_pair", _ctype([x.first_pair for x in h], True), [x.first_pair for x in h]),
        ("k0", "uint8_t", [x.k0 for x in h]),
        ("w", "uint8_t", np.array([x.widths for x in h], dtype=np.int64)),
        ("top", "uint8_t", [x.implicit_top for x in h])])
    return [CArray("stream", "uint8_t", np.frombuffer(s.data, dtype=np.uint8)),
            CArray("pairs", "uint8_t", s.pairs), info]


def input_arrays(graph, plan):
    """The float entry's tables: input steps, threshold tables, categorical levels.

    Parameters
    ----------
    graph : IntegerMLP
    plan : DevicePlan

    Returns
    -------
    list of CArray
    """
    arrays = []
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
        column_start = np.cumsum([0] + [len(c.columns) for c in cats])
        arrays += [_typed("cat_levels", [len(c.level_start) - 1 for c in cats], True),
                   _typed("cat_level_base", level_base[:-1], True),
                   _typed("cat_column_start", column_start, True),
                   _typed("cat_column", np.concatenate([c.columns for c in cats]), True),
                   _typed("cat_common", np.concatenate([c.common for c in cats])),
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
    core = core_arrays(graph)
    total_bits = 8 * core[0].nbytes  # the neuron stream: fields and weights
    if total_bits >= 2**32 - 64:
        raise ValueError("The C export addresses its neuron stream with 32-bit bit positions; "
                         f"this model's stream has {total_bits} bits.")
    plan = device_plan(graph)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header, source = directory / f"{prefix}.h", directory / f"{prefix}.c"
    header.write_text(header_text(graph, plan, prefix))
    source.write_text(source_text(graph, plan, prefix, core=core,
                                   inputs=input_arrays(graph, plan)))
    paths = [header, source]
    if test_rows is not None:
        paths.append(directory / f"{prefix}_test.c")
        paths[-1].write_text(c_test_file(graph, plan, prefix, test_rows))
    return paths
