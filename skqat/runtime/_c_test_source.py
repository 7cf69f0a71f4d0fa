"""The text of the C export's test program, ``<prefix>_test.c`` (see ``_c_export.py``)."""

import numpy as np

from ._c_source import float32_literal, int_literal
from ._raw_inputs import raw_column


def _device_index(cat, raw):
    """The C category index of raw values: the category's, -1 if missing, else unknown."""
    levels = cat.levels(raw)
    n = len(cat.categories)
    return np.where(levels == n + 1, -1, levels)


def refused_rows(raw, plan, frame, n):
    """Rows of a raw frame that the model refuses (as :func:`encode_raw_rows` raises for them)."""
    refused = np.zeros(n, dtype=bool)
    for num, p in zip(raw.numeric, plan.numeric):
        v = np.asarray(frame[num.column], dtype=np.float64)
        refused |= np.isinf(v) | (np.isnan(v) & p.refuses_nan)
    for cat in raw.categorical:
        refused |= ~cat.valid[cat.levels(frame[cat.column])]
    return refused


def c_test_file(graph, plan, prefix, rows):
    """``<prefix>_test.c``: rows, the status and outputs the graph gives them, a checking ``main``.

    A row the model refuses (``IntegerMLP.predict`` raises for it) is
    expected as ``<PREFIX>_REFUSED``; any other row as its outputs, from the
    float entry and from the integer entry given the row's input codes
    (``IntegerMLP.quantize_input``).
    """
    macro = prefix.upper()
    out_t = "int64_t" if plan.wide_output else "int32_t"
    raw = graph.raw_inputs
    if raw is None:
        with np.errstate(over="ignore"):  # beyond float32: +-inf, as the device reads them
            x = np.asarray(rows, dtype=np.float64).astype(np.float32)
        refused = ~np.isfinite(x).all(axis=1)
        expected = np.zeros((len(x), graph.n_outputs), dtype=np.int64)
        codes = np.zeros((len(x), graph.n_features), dtype=np.int64)
        if not refused.all():
            expected[~refused] = graph.decision_function(x[~refused].astype(np.float64))
            codes[~refused] = graph.quantize_input(x[~refused].astype(np.float64))
        cats = None
    else:
        frame = {name: raw_column(rows, name, raw.columns) for name in raw.columns}
        n = len(frame[raw.columns[0]])
        with np.errstate(over="ignore"):
            for num in raw.numeric:
                frame[num.column] = np.asarray(frame[num.column], np.float64).astype(
                    np.float32).astype(np.float64)
        refused = refused_rows(raw, plan, frame, n)
        expected = np.zeros((n, graph.n_outputs), dtype=np.int64)
        codes = np.zeros((n, graph.n_features), dtype=np.int64)
        if not refused.all():
            kept = {name: np.asarray(v)[~refused] for name, v in frame.items()}
            expected[~refused] = graph.decision_function(kept)
            codes[~refused] = graph.quantize_input(kept)
        x = np.array([frame[num.column] for num in raw.numeric], np.float32).T.reshape(n, -1)
        cats = np.array([_device_index(cat, frame[cat.column]) for cat in raw.categorical]
                        or [np.zeros(n, np.int64)]).T
    n_rows = len(expected)

    def table(name, ctype, values, fmt):
        lines = ["    { " + ", ".join(fmt(v) for v in row) + " }" for row in values]
        width = max(np.shape(values)[1], 1) if n_rows else 1
        return (f"static const {ctype} {name}[{max(n_rows, 1)}][{width}] = {{\n"
                + (",\n".join(lines) or "    { 0 }") + "\n};\n")

    text = (f'/* {prefix}_test.c: {n_rows} rows and the outputs skqat computed for them. */\n'
            f'#include <math.h>\n#include <stdio.h>\n#include "{prefix}.h"\n\n'
            + table("test_x", "float", x if x.shape[1] else np.zeros((n_rows, 1)),
                    float32_literal)
            + (table("test_c", "int32_t", cats, str) if cats is not None else "")
            + table("expected", out_t, expected,
                    lambda v: int_literal(v, out_t))
            + table("expected_status", "int", refused[:, None].astype(int), str)
            + table("test_codes", "int16_t", codes, str))
    args = "test_x[r], test_c[r]" if cats is not None else "test_x[r]"
    text += (f"\nint main(void)\n{{\n    {prefix}_output_t out[{macro}_N_OUTPUTS];\n"
             "    int r, j, agree = 0;\n"
             f"    for (r = 0; r < {n_rows}; ++r) {{\n"
             f"        int same = {prefix}_predict({args}, out) == expected_status[r][0];\n"
             f"        for (j = 0; j < {macro}_N_OUTPUTS && expected_status[r][0] == {macro}_OK; "
             "++j) {\n"
             "            same = same && out[j] == expected[r][j];\n        }\n"
             "        if (expected_status[r][0] == " + macro + "_OK) {\n"
             f"            same = same && {prefix}_predict_codes(test_codes[r], out) == "
             f"{macro}_OK;\n"
             f"            for (j = 0; j < {macro}_N_OUTPUTS; ++j) {{\n"
             "                same = same && out[j] == expected[r][j];\n            }\n"
             "        }\n"
             "        agree += same;\n    }\n"
             f'    printf("%d of %d rows agree\\n", agree, {n_rows});\n'
             f"    return agree == {n_rows} ? 0 : 1;\n}}\n")
    return text
