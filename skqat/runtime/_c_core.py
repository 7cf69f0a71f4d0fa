"""The integer core of the generated C: one loop over the layers' constant tables.

``<prefix>_predict_codes`` takes a row's input codes and walks every layer
and neuron, reading each neuron's record from the bit stream of
:mod:`~skqat.runtime._c_stream` with one reader for every width (fields and
weights alike). It uses 32-bit integer arithmetic only: where a layer's
overflow bound needs more than 32 bits, the accumulator is 64-bit (additions
only, which a 32-bit core does inline) and the requantization multiplies
one bit at a time with 64-bit additions, so that no C library helper
(``__aeabi_lmul``, 64-bit shifts, soft float) is linked. Right shifts of
negative integers are arithmetic (floor), as GCC, Clang, IAR and Arm
Compiler define them.
"""

_READER = """
/* The next n bits of the stream (n <= 16), least significant first (0 when n is 0). */
static uint32_t take(uint32_t *pos, uint32_t n)
{
    const uint8_t *p = stream + (*pos >> 3);
    uint32_t u = ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16)) >> (*pos & 7u);
    *pos += n;
    return u & ((1u << n) - 1u);
}

/* v as an n-bit two's complement number (0 when n is 0). */
static int32_t sign_extend(uint32_t v, uint32_t n)
{
    uint32_t top = n ? 1u << (n - 1u) : 0u;
    return (v & top) ? -(int32_t)((~v & (top | (top - 1u))) + 1u) : (int32_t)v;
}
"""

_NARROW_REQUANTIZE = """
/* floor((acc * m + 2^(k-1)) / 2^k), round half up, as floor((floor(p / 2^(k-1)) + 1) / 2):
 * the bound keeps acc * m in 32 bits; >> of a negative int is arithmetic (floor). */
static int32_t requantize(int32_t acc, uint32_t m, uint32_t k)
{
    int32_t p = acc * (int32_t)m;
    return k ? ((p >> (k - 1u)) + 1) >> 1 : p;
}
"""

_WIDE_REQUANTIZE = """
/* floor((acc * m + 2^(k-1)) / 2^k), round half up, for |acc| * m + 2^k < 2^62: the
 * product bit by bit and the shift one bit at a time, with 64-bit additions and constant
 * shifts only (a 64-bit multiply or variable shift calls a C library helper). */
static result_t requantize(acc_t acc, uint32_t m, uint32_t k)
{
    int64_t p = 0;
    uint32_t b = 32u;
    while (b--) {
        p += p;
        if ((m >> b) & 1u) {
            p += acc;
        }
    }
    if (k == 0u) {
        return (result_t)p;
    }
    while (--k) {
        p >>= 1;
    }
    return (result_t)((p + 1) >> 1);
}
"""

_LOOP = """
int {prefix}_predict_codes(const int16_t *codes, {prefix}_output_t *out)
{{
    code_t h[{n_buffers}][{buffer}];
    const code_t *src = h[0];
    uint32_t pos = 0u, l, j, i;
    for (i = 0u; i < {n_features}u; ++i) {{
        h[0][i] = (code_t)(codes[i] < -{qmax} ? -{qmax} : (codes[i] > {qmax} ? {qmax} : codes[i]));
    }}
    for (l = 0u; l < {n_layers}u; ++l) {{
        code_t *dst = h[(l + 1u) % {n_buffers}u];
        for (j = 0u; j < layer_info[l].n_out; ++j) {{
            /* The record's fields: pair index, k - k0, M (top bit implicit or not), B. */
            uint32_t v[4], f, pair, bits, m;
            acc_t acc;
            result_t r;
            for (f = 0u; f < 4u; ++f) {{  /* up to 32 bits: two reads of up to 16 */
                uint32_t n = layer_info[l].w[f], low = n > 16u ? 16u : n;
                v[f] = take(&pos, low);
                v[f] |= take(&pos, n - low) << 16;
            }}
            pair = pairs[layer_info[l].first_pair + v[0]];
            bits = (pair & 15u) + 1u;
            m = v[2] | ((uint32_t)layer_info[l].top << layer_info[l].w[2]);
            acc = sign_extend(v[3], layer_info[l].w[3]);
            for (i = 0u; i < layer_info[l].n_in; ++i) {{
                uint32_t u = take(&pos, bits);
                int32_t w = bits == 1u ? (int32_t)(u << 1) - 1 : sign_extend(u, bits);
                acc += (acc_t)(w * (int32_t)src[i]);
            }}
            r = requantize(acc, m, layer_info[l].k0 + v[1]);
            if (l + 1u == {n_layers}u) {{
                out[j] = ({prefix}_output_t)r;
            }} else {{
                int32_t top = (int32_t)(1u << ((pair >> 4) + 1u)) - 1;
                dst[j] = (code_t)(r < 0 ? 0 : (r > top ? top : r));
            }}
        }}
        src = dst;
    }}
    return {macro}_OK;
}}
"""


def core_types(graph, plan):
    """The C types of the core: ``(code_t, acc_t, result_t, narrow)``.

    Hidden codes fit int16 up to 15 activation bits; the accumulator and the
    requantization are 32-bit where every layer's bound allows it.
    """
    hidden_bits = [int(layer.activation_bits.max()) for layer in graph.layers[:-1]]
    code_t = "int32_t" if max(hidden_bits, default=0) > 15 else "int16_t"
    narrow = not (any(plan.wide_accumulator) or any(plan.wide_product) or plan.wide_output)
    acc_t = "int64_t" if any(plan.wide_accumulator) else "int32_t"
    result_t = "int64_t" if plan.wide_output else "int32_t"
    return code_t, acc_t, result_t, narrow


def buffer_shape(graph):
    """``(n_buffers, length)`` of the core's code buffers: inputs, then hidden layers in turn."""
    return min(len(graph.layers), 2), max(graph.layer_sizes[:-1])


def core_text(graph, plan, prefix):
    """The reader, the requantization and ``<prefix>_predict_codes``."""
    code_t, acc_t, result_t, narrow = core_types(graph, plan)
    n_buffers, length = buffer_shape(graph)
    types = (f"typedef {code_t} code_t;\ntypedef {acc_t} acc_t;\n"
             f"typedef {result_t} result_t;\n")
    return (types + _READER + (_NARROW_REQUANTIZE if narrow else _WIDE_REQUANTIZE)
            + _LOOP.format(prefix=prefix, macro=prefix.upper(), n_buffers=n_buffers,
                           buffer=length, n_features=graph.n_features,
                           n_layers=len(graph.layers), qmax=2 ** (graph.input_bits - 1) - 1))
