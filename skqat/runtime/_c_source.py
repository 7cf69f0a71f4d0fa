"""The generated C source: its tables, the integer core, the float entries (``_c_export``)."""

import numpy as np

from ._c_core import core_text
from ._c_header import signature as _signature


def float32_literal(v):
    """A C float literal that reads back as exactly this float32 (hex, C99)."""
    v = float(np.float32(v))
    if np.isnan(v):
        return "NAN"
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return v.hex() + "f"


def int_literal(v, ctype):
    """A C literal of integer ``v`` for an array of ``ctype``."""
    v = int(v)
    if ctype.startswith("int64"):
        return f"INT64_C({v})"
    if ctype.startswith("int32") and v == -(2**31):
        return "(-2147483647 - 1)"
    return str(v)


_NUMERIC = """
/* Sortable integers of float32 values (-0 < +0); NaN gives nan_key. */
static int32_t float_key(float x, int *is_nan)
{
    union { float f; uint32_t u; } b;
    b.f = x;
    *is_nan = (b.u & 0x7fffffffu) > 0x7f800000u;
    return (b.u & 0x80000000u) ? -(int32_t)(b.u & 0x7fffffffu) - 1 : (int32_t)b.u;
}
"""

_REFUSED_NUMBER = """
/* 1 where the model refuses x: infinite, or NaN where nothing imputes it. */
static int refused_number(float x, uint8_t nan_refused)
{
    int is_nan;
    int32_t key = float_key(x, &is_nan);
    if (is_nan) {
        return nan_refused != 0u;
    }
    return key == 0x7f800000 || key == -0x7f800000 - 1;
}
"""

_AFFINE = """
/* The graph's float32 input step: floor(clip(x * a + c, -Q, Q) + 1/2), NaN to nan_code. */
static int16_t affine_code(float x, float a, float c, int16_t nan_code)
{
    int is_nan;
    float v;
    int32_t t;
    (void)float_key(x, &is_nan);
    if (is_nan) {
        return nan_code;
    }
    v = x * a;
    v = v + c;
    (void)float_key(v, &is_nan);
    if (is_nan) {
        return 0;
    }
    if (v > INPUT_QMAX) {
        v = INPUT_QMAX;
    }
    if (v < -INPUT_QMAX) {
        v = -INPUT_QMAX;
    }
    v = v + 0.5f;
    t = (int32_t)v;
    if ((float)t > v) {
        t -= 1;
    }
    return (int16_t)t;
}
"""

_TABLE = """
/* A scaled column's code: base plus the thresholds at or below x (exact for every float32). */
static int16_t table_code(float x, const int32_t *t, int32_t n, int32_t base, int16_t nan_code)
{
    int is_nan;
    int32_t key = float_key(x, &is_nan), lo = 0, hi = n;
    if (is_nan) {
        return nan_code;
    }
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (t[mid] <= key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (int16_t)(base + lo);
}
"""

def _input_codes_text(graph, plan, prefix):
    macro = prefix.upper()
    affine = sum(p.thresholds is None for p in plan.numeric)
    table = len(plan.numeric) - affine
    body = []
    if plan.categorical:
        body.append("    int32_t k, v, e;")
    if affine or table or plan.categorical:
        body.append("    int32_t i;")
    if plan.numeric:  # as predict refuses them; a raw graph's imputer may take NaN
        count, nan = ((f"{macro}_N_NUMERIC", "nan_refused[i]") if graph.raw_inputs is not None
                      else (f"{macro}_N_FEATURES", "1u"))
        body.append(f"    for (i = 0; i < {count}; ++i) {{\n"
                    f"        if (refused_number(x[i], {nan})) {{\n"
                    f"            return {macro}_REFUSED;\n        }}\n    }}")
    feature = "dense_feature[{}]" if graph.raw_inputs is not None else "{}"
    if affine:
        f = feature.format("affine_input[i]")
        body.append(f"    for (i = 0; i < {affine}; ++i) {{\n        codes[{f}] = affine_code("
                    "x[affine_input[i]], input_scale[i], input_offset[i], affine_nan_code[i]);\n"
                    "    }")
    if table:
        f = feature.format("table_input[i]")
        body.append(f"    for (i = 0; i < {table}; ++i) {{\n        codes[{f}] = table_code("
                    "x[table_input[i]], thresholds + table_start[i],\n"
                    "            (int32_t)(table_start[i + 1] - table_start[i]), table_base[i], "
                    "table_nan_code[i]);\n    }")
    if plan.categorical:
        body.append(
            f"    for (k = 0; k < {macro}_N_CATEGORICAL; ++k) {{\n"
            "        /* Levels: the categories, then unknown, then missing (-1). */\n"
            "        v = (c[k] >= 0 && c[k] < (int32_t)cat_levels[k] - 2) ? c[k] "
            ": (c[k] == -1 ? (int32_t)cat_levels[k] - 1 : (int32_t)cat_levels[k] - 2);\n"
            "        if (level_refused[cat_level_base[k] + v]) {\n"
            f"            return {macro}_REFUSED;\n        }}\n"
            "        for (i = cat_column_start[k]; i < (int32_t)cat_column_start[k + 1]; ++i) {\n"
            "            codes[cat_column[i]] = cat_common[i];\n        }\n"
            "        for (e = level_start[cat_level_base[k] + v]; "
            "e < (int32_t)level_start[cat_level_base[k] + v + 1]; ++e) {\n"
            "            codes[entry_feature[e]] = (int16_t)(codes[entry_feature[e]] "
            "+ entry_delta[e]);\n        }\n    }")
    if not (affine or table):
        body.append("    (void)x;")
    if graph.raw_inputs is not None and not plan.categorical:
        body.append("    (void)c;")
    if not plan.numeric and not plan.categorical:
        body.append("    (void)codes;")
    body.append(f"    return {macro}_OK;")
    args = "x, c" if graph.raw_inputs is not None else "x"
    return (f"\nint {prefix}_input_codes({_signature(graph, prefix, 'int16_t *codes')})\n"
            "{\n" + "\n".join(body) + "\n}\n"
            f"\nint {prefix}_predict({_signature(graph, prefix, f'{prefix}_output_t *out')})\n"
            f"{{\n    int16_t codes[{macro}_N_FEATURES];\n"
            f"    if ({prefix}_input_codes({args}, codes) != {macro}_OK) {{\n"
            f"        return {macro}_REFUSED;\n    }}\n"
            f"    return {prefix}_predict_codes(codes, out);\n}}\n")


_CLASS_INDEX = """
/* The class index of integer outputs: the sign of one, or the first largest of several. */
static int class_index(const {prefix}_output_t *q)
{{
    int32_t j, best = 0;
    if ({macro}_N_OUTPUTS == 1) {{
        return q[0] > 0 ? 1 : 0;
    }}
    for (j = 1; j < {macro}_N_OUTPUTS; ++j) {{
        if (q[j] > q[best]) {{
            best = j;
        }}
    }}
    return (int)best;
}}

int {prefix}_predict_class_codes(const int16_t *codes)
{{
    {prefix}_output_t q[{macro}_N_OUTPUTS];
    (void){prefix}_predict_codes(codes, q);
    return class_index(q);
}}

int {prefix}_predict_class({raw})
{{
    {prefix}_output_t q[{macro}_N_OUTPUTS];
    return {prefix}_predict({args}, q) == {macro}_OK ? class_index(q) : -1;
}}
"""

_LABELS = """
/* Label indicators of integer outputs: 1 where an output is positive. */
static int labels_of(const {prefix}_output_t *q, uint8_t *labels)
{{
    int32_t j;
    for (j = 0; j < {macro}_N_OUTPUTS; ++j) {{
        labels[j] = (uint8_t)(q[j] > 0);
    }}
    return {macro}_OK;
}}

int {prefix}_predict_labels_codes(const int16_t *codes, uint8_t *labels)
{{
    {prefix}_output_t q[{macro}_N_OUTPUTS];
    (void){prefix}_predict_codes(codes, q);
    return labels_of(q, labels);
}}

int {prefix}_predict_labels({raw_labels})
{{
    {prefix}_output_t q[{macro}_N_OUTPUTS];
    return {prefix}_predict({args}, q) == {macro}_OK ? labels_of(q, labels) : {macro}_REFUSED;
}}
"""


def _extras_text(graph, prefix):
    macro = prefix.upper()
    args = "x, c" if graph.raw_inputs is not None else "x"
    sig = _signature(graph, prefix, "void").replace(", void", "")
    q = f"    {prefix}_output_t q[{macro}_N_OUTPUTS];\n    int32_t j"
    scale = ", ".join(float32_literal(v) for v in graph.output_scale)
    offset = ", ".join(float32_literal(v) for v in graph.output_offset)
    text = (f"\nint {prefix}_predict_float({_signature(graph, prefix, 'float *out')})\n{{\n"
            f"    static const float scale[{graph.n_outputs}] = {{ {scale} }};\n"
            f"    static const float offset[{graph.n_outputs}] = {{ {offset} }};\n{q};\n"
            f"    if ({prefix}_predict({args}, q) != {macro}_OK) {{\n"
            f"        return {macro}_REFUSED;\n    }}\n"
            f"    for (j = 0; j < {macro}_N_OUTPUTS; ++j) {{\n"
            "        out[j] = (float)q[j] * scale[j];\n        out[j] = out[j] + offset[j];\n"
            f"    }}\n    return {macro}_OK;\n}}\n")
    fill = dict(prefix=prefix, macro=macro, args=args, raw=sig,
                raw_labels=_signature(graph, prefix, "uint8_t *labels"))
    if graph.task in ("binary", "multiclass"):
        text += _CLASS_INDEX.format(**fill)
    elif graph.task == "multilabel":
        text += _LABELS.format(**fill)
    return text


def source_text(graph, plan, prefix, *, core, inputs):
    """The source: the tables, the integer core, the float entries.

    Parameters
    ----------
    graph : IntegerMLP
    plan : DevicePlan
    prefix : str
    core, inputs : list of CArray
        The core's tables and the float entries' tables (``_c_export``).
    """
    parts = [f"/* {prefix}.c: integer inference of an NMP-QAT MLP, generated by skqat.\n"
             f" * Layer sizes {graph.layer_sizes}; each neuron's record (its fields, then its\n"
             " * weights at its own width) in one bit stream (skqat.runtime._c_stream). */\n"
             f'#include "{prefix}.h"\n\n'
             f"#define INPUT_QMAX {2 ** (graph.input_bits - 1) - 1}.0f\n\n",
             "".join(a.text() for a in core + inputs), core_text(graph, plan, prefix)]
    if plan.numeric:
        parts.append(_NUMERIC)
    if plan.numeric:
        parts.append(_REFUSED_NUMBER)
    if any(p.thresholds is None for p in plan.numeric):
        parts.append(_AFFINE)
    if any(p.thresholds is not None for p in plan.numeric):
        parts.append(_TABLE)
    parts += [_input_codes_text(graph, plan, prefix), _extras_text(graph, prefix)]
    return "".join(parts)
