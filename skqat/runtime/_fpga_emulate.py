"""da4ml's logic run on many rows at once, exactly as da4ml's reference emulation runs one.

da4ml defines what its logic computes by ``CombLogic.__call__``: a Python
loop over the operations for one row, each value a float64 in real units.
:func:`run_logic` is the same loop with a numpy array of rows in place of
each value (a multiplexer becomes ``np.where``), so a test set takes
milliseconds rather than minutes. Every value is a multiple of a power of
two no wider than :data:`EXACT_BITS` bits (checked), so float64 holds it
exactly and the results are the integers the Verilog computes.

da4ml's C++ interpreter (``CombLogic.predict``) is not used: in da4ml 0.6
it wraps quantizations wider than 32 bits and shifts the constants of
saturating clips the wrong way, both of which the graph's requantizations
produce.
"""

import numpy as np

#: Widest value the float64 evaluation holds exactly (significand bits).
EXACT_BITS = 53


def _wrap(v, k, i, f):
    # Truncate to a step of 2**-f and wrap into k sign bit(s) and i integer bits.
    b = k + i + f
    if b <= 0:
        return np.zeros_like(v)
    eps, bias = 2.0 ** -f, 2.0 ** (b - 1) * k
    return eps * (np.mod(np.floor(v / eps) + bias, 2.0 ** b) - bias)


def _relu(v, i, f):
    v = np.floor(np.maximum(v, 0.0) * 2.0 ** f) / 2.0 ** f
    return np.mod(v, 2.0 ** i)


def widest_bits(logic):
    """The widest value of any operation of ``logic``, in bits."""
    from da4ml.types import minimal_kif

    return max((sum(minimal_kif(op.qint)) for op in logic.ops), default=0)


def run_logic(logic, inputs):
    """Outputs of a da4ml ``CombLogic`` for rows of inputs, as its own emulation gives them.

    Parameters
    ----------
    logic : da4ml.types.CombLogic
        With operations of kinds -6 to 6 (inputs, additions, ReLU,
        quantization, constants, multiplexers): what
        :func:`~skqat.runtime._fpga_trace.trace_graph` produces.
    inputs : ndarray of float64, shape (n_samples, n_inputs)

    Returns
    -------
    ndarray of float64, shape (n_samples, n_outputs)
    """
    from da4ml.types import minimal_kif

    if widest_bits(logic) > EXACT_BITS:
        raise ValueError(f"The logic has values wider than {EXACT_BITS} bits, which float64 "
                         "does not hold exactly; simulate the Verilog instead.")
    inputs = np.asarray(inputs, dtype=np.float64) * 2.0 ** np.asarray(logic.inp_shifts)
    buf = [None] * len(logic.ops)
    for n, op in enumerate(logic.ops):
        code = op.opcode
        if code == -1:
            value = inputs[:, op.id0]
        elif code in (0, 1):
            other = 2.0 ** op.data * buf[op.id1]
            value = buf[op.id0] + other if code == 0 else buf[op.id0] - other
        elif code in (2, -2):
            _, i, f = minimal_kif(op.qint)
            value = _relu(buf[op.id0] if code == 2 else -buf[op.id0], i, f)
        elif code in (3, -3):
            k, i, f = minimal_kif(op.qint)
            value = _wrap(buf[op.id0] if code == 3 else -buf[op.id0], int(k), i, f)
        elif code == 4:
            value = buf[op.id0] + op.data * op.qint.step
        elif code == 5:
            value = np.full(len(inputs), op.data * op.qint.step)
        elif code in (6, -6):
            cond_id = op.data & 0xFFFFFFFF
            shift = (op.data >> 32) & 0xFFFFFFFF
            shift = shift - (1 << 32) if shift >= 1 << 31 else shift
            second = buf[op.id1] if code == 6 else -buf[op.id1]
            cond, cond_qint = buf[cond_id], logic.ops[cond_id].qint
            if cond_qint.min < 0:
                msb = cond < 0
            else:
                msb = cond >= 2.0 ** (minimal_kif(cond_qint).integers - 1)
            value = np.where(msb, buf[op.id0], second * 2.0 ** shift)
        else:
            raise NotImplementedError(f"da4ml operation {code} is not emulated here.")
        buf[n] = value
    out = np.empty((len(inputs), len(logic.out_idxs)))
    for j, (idx, shift, neg) in enumerate(zip(logic.out_idxs, logic.out_shifts, logic.out_negs)):
        out[:, j] = 0.0 if idx < 0 else buf[idx] * 2.0 ** shift * (-1 if neg else 1)
    return out
