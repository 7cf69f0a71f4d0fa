"""A folded pipeline's front end in ONNX: raw columns to the graph's input codes.

Each raw column the graph reads is its own input, named as the column, of
shape ``(N, 1)``: float64 for numbers (NaN for a missing value), a string
tensor for text categories (the empty string for a missing value). The ONNX
graph replays :mod:`~skqat.runtime._raw_inputs` exactly:

* a numeric column's :class:`~skqat.runtime.Step` s in float64, the
  operations scikit-learn runs in its order (``Sub``, ``Div``, ``Mul``,
  ``Add``; ``Where`` for an imputation; ``Max`` then ``Min`` for a clip),
  then the graph's float32 input step;
* a categorical column's level (``Equal`` against the categories, the
  first match, else unknown; missing last), then its row of the table of
  input codes (``Gather``).

ONNX cannot raise: a row the pipeline refuses (a missing value nothing
imputes, an unknown category with ``handle_unknown="error"``, an infinite
number) gets codes here (NaN becomes code 0, infinities clip) where
``predict`` raises. Validate such rows before serving them.
"""

import math

import numpy as np

from ._raw_inputs import is_missing, raw_column
from ._rows import check_rows, is_sparse

#: ``Equal`` compares strings from this opset on.
STRING_EQUAL_OPSET = 19


def _narrow_int(values):
    """The values as the narrowest of int8, int16, int32, int64 that holds them."""
    values = np.asarray(values, dtype=np.int64)
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if values.size == 0 or (info.min <= values.min() and values.max() <= info.max):
            return values.astype(dtype)
    return values


def _match(b, v, value):
    """Boolean mask of ``v == value`` (``IsNaN`` for NaN), as the imputer matches."""
    if math.isnan(value):
        return b.node("IsNaN", [v])
    return b.node("Equal", [v, b.const("value", value, np.float64)])


def _numeric_column(b, v, num):
    """A numeric column after its steps: float64, shape (N, 1)."""
    for step in num.steps:
        if step.op in ("fill", "missing"):
            mask = _match(b, v, float(step.a))
            v = (b.node("Where", [mask, b.const("fill", step.b, np.float64), v])
                 if step.op == "fill" else b.node("Cast", [mask], to=b.onnx.TensorProto.DOUBLE))
        elif step.op == "clip":
            v = b.node("Max", [v, b.const("clip_low", step.a, np.float64)])
            v = b.node("Min", [v, b.const("clip_high", step.b, np.float64)])
        else:
            op = {"sub": "Sub", "div": "Div", "mul": "Mul", "add": "Add"}[step.op]
            v = b.node(op, [v, b.const(step.op, step.a, np.float64)])
    return v


def _categorical_codes(b, v, cat, string):
    """A categorical column's block of input codes, float64, shape (N, width)."""
    n = len(cat.categories)
    t = b.onnx.TensorProto
    cats = (cat.categories.astype(str) if string else cat.categories.astype(np.float64))
    if n:
        equal = b.node("Cast", [b.node("Equal", [v, b.const("categories", cats[None, :])])],
                       to=t.INT32)
        found = b.node("Cast", [b.reduce("ReduceMax", equal, 1)], to=t.BOOL)
        first = b.node("ArgMax", [equal], axis=1, keepdims=1, select_last_index=0)
        level = b.node("Where", [found, first, b.const("unknown", [[n]], np.int64)])
    else:
        level = b.node("Expand", [b.const("unknown", [[n]], np.int64), b.node("Shape", [v])])
    missing = b.node("Equal", [v, b.const("missing", [[""]], object)]) if string else \
        b.node("IsNaN", [v])
    level = b.node("Where", [missing, b.const("missing_level", [[n + 1]], np.int64), level])
    level = b.node("Squeeze", [level, b.const("axis", [1], np.int64)])
    table = b.node("Cast", [b.const("codes", _narrow_int(cat.codes))], to=t.DOUBLE)
    return b.node("Gather", [table, level], axis=0)


def raw_input_codes(b, graph, input_step):
    """The graph's input codes from raw columns; returns ``(codes, graph inputs)``.

    Parameters
    ----------
    b : the ONNX builder of :mod:`~skqat.runtime._onnx_export`
    graph : IntegerMLP
        With ``raw_inputs``.
    input_step : callable
        ``input_step(b, x, scale, offset)``: the float32 input step of a
        float64 tensor, as float64 codes.

    Returns
    -------
    (str, list of (str, int, list))
        The codes' tensor (float64, shape ``(N, n_features)``) and each
        input's name, element type and shape.
    """
    raw = graph.raw_inputs
    t = b.onnx.TensorProto
    strings = {c.column for c in raw.categorical if c.categories.dtype.kind in "UO"}
    if strings and b.opset < STRING_EQUAL_OPSET:
        raise ValueError(f"Text categories need opset {STRING_EQUAL_OPSET} or later (string "
                         f"Equal); got opset={b.opset}.")
    used = {n.column for n in raw.numeric} | {c.column for c in raw.categorical}
    clash = used & {"label", "probabilities", "variable"}
    if clash:
        raise ValueError(f"The columns {sorted(clash)} have the names of the model's outputs; "
                         "rename them in the DataFrame before fitting the pipeline.")
    numeric_text = strings & {n.column for n in raw.numeric}
    if numeric_text:
        raise ValueError(f"Columns {sorted(numeric_text)} are read both as text and as numbers.")
    inputs = [(c, t.STRING if c in strings else t.DOUBLE, ["N", 1])
              for c in raw.columns if c in used]
    blocks, order = [], []
    for num in raw.numeric:
        f = num.feature
        v = _numeric_column(b, num.column, num)
        blocks.append(input_step(b, v, graph.input_scale[f:f + 1], graph.input_offset[f:f + 1]))
        order.append(f)
    for cat in raw.categorical:
        blocks.append(_categorical_codes(b, cat.column, cat, cat.column in strings))
        order += cat.features.tolist()
    codes = blocks[0] if len(blocks) == 1 else b.node("Concat", blocks, axis=1)
    position = np.argsort(np.asarray(order))  # graph input f is column position[f]
    if not np.array_equal(position, np.arange(len(order))):
        codes = b.node("Gather", [codes, b.const("feature_order", position, np.int64)], axis=1)
    return codes, inputs


def onnx_feeds(graph, X):
    """The inputs of the graph's ONNX model for rows ``X``: what ``session.run`` takes.

    Parameters
    ----------
    graph : IntegerMLP
    X : array-like of shape (n_samples, n_features), or the raw rows of a
        folded pipeline (a DataFrame or a mapping of columns)

    Returns
    -------
    dict of str to ndarray
        ``{"X": float64 rows}``, or per raw column an array of shape
        ``(n_samples, 1)``: float64 numbers (NaN when missing), or strings
        (the empty string when missing). :func:`skqat.onnx.onnx_inputs` has
        an example.
    """
    raw = graph.raw_inputs
    if raw is None:  # ONNX tensors are dense: a sparse X is densified
        X = check_rows(X, graph.n_features)
        return {"X": X.toarray().astype(np.float64) if is_sparse(X) else X}
    strings = {c.column for c in raw.categorical if c.categories.dtype.kind in "UO"}
    used = {n.column for n in raw.numeric} | {c.column for c in raw.categorical}
    feeds = {}
    for name in (c for c in raw.columns if c in used):
        column = raw_column(X, name, raw.columns)
        if name in strings:
            values = ["" if is_missing(v) else str(v) for v in column.tolist()]
            feeds[name] = np.array(values, dtype=object).reshape(-1, 1)
        else:
            feeds[name] = np.array([np.nan if is_missing(v) else v for v in column.tolist()],
                                   dtype=np.float64).reshape(-1, 1)
    return feeds
