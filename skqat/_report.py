"""The quantization report of a fitted estimator: bits and bytes per layer (pandas)."""

import numpy as np
import pandas as pd

from .runtime._layer import layer_size_bytes

_FLOAT32_BYTES = 4


def _bit_columns(prefix, bit_arrays, candidates):
    values = sorted(set(candidates) | {int(b) for a in bit_arrays for b in np.unique(a)})
    return [f"{prefix}{b}" for b in values], values


def quantization_report(estimator):
    """One row per dense layer and a total row: neurons, bit-widths, bytes, compression.

    Parameters
    ----------
    estimator : NMPQATClassifier or NMPQATRegressor
        A fitted estimator.

    Returns
    -------
    pandas.DataFrame
        Index: ``hidden_1 .. hidden_n``, ``output``, ``input_output_steps``
        and ``total``. Columns: ``neurons``, ``fan_in``, a count of neurons at
        each weight bit-width (``w1``, ``w2``, ...) and each activation
        bit-width (``a4``, ...; ``w0`` and ``a0`` count pruned neurons),
        ``mean_weight_bits``,
        ``mean_activation_bits``, ``bytes`` (packed weights plus each
        neuron's bias, multiplier, shift and bit-widths at the widths the
        layer needs, as the model file stores them: without pruned neurons;
        the input and output steps have their own row), ``float32_bytes`` (the same weights and biases in float32, and a
        float32 mean and scale per feature and output)
        and ``compression`` (``float32_bytes / bytes``). The total row's
        ``bytes`` is the estimator's ``model_size_bytes_``.
    """
    est = estimator
    graph = est._graph
    w_bits, a_bits = est.weight_bits_, est.activation_bits_
    w_cols, w_values = _bit_columns("w", w_bits, getattr(est, "weight_candidates_", est.weight_bits))
    a_cols, a_values = _bit_columns("a", a_bits, est.activation_bits)
    rows, index = [], []
    for i, coef in enumerate(est.coefs_):
        n_in, n_out = coef.shape
        hidden = i < len(est.coefs_) - 1
        row = {"neurons": n_out, "fan_in": n_in}
        row.update({c: int(np.sum(w_bits[i] == v)) for c, v in zip(w_cols, w_values)})
        row.update({c: int(np.sum(a_bits[i] == v)) if hidden else 0
                    for c, v in zip(a_cols, a_values)})
        row["mean_weight_bits"] = float(np.mean(w_bits[i]))
        row["mean_activation_bits"] = float(np.mean(a_bits[i])) if hidden else np.nan
        # What the integer graph stores: pruned (0-bit) neurons and their
        # columns in the next layer are gone from it.
        row["bytes"] = (layer_size_bytes(graph.layers[i]) if est.quantize else _FLOAT32_BYTES * (n_in + 1) * n_out)
        row["float32_bytes"] = _FLOAT32_BYTES * (n_in + 1) * n_out
        rows.append(row)
        index.append(f"hidden_{i + 1}" if hidden else "output")
    steps_bytes = est.model_size_bytes_ - sum(r["bytes"] for r in rows)
    # In float32: a mean and a scale per feature and per output.
    float_steps = 2 * _FLOAT32_BYTES * (est.n_features_in_ + est.n_outputs_)
    rows.append({"neurons": 0, "fan_in": 0, "bytes": steps_bytes, "float32_bytes": float_steps})
    index.append("input_output_steps")
    report = pd.DataFrame(rows, index=index)
    total = report.sum(numeric_only=True)
    total["fan_in"] = np.nan
    total["mean_weight_bits"] = est.mean_weight_bits_
    total["mean_activation_bits"] = est.mean_activation_bits_ if len(a_bits) else np.nan
    report.loc["total"] = total
    report[w_cols + a_cols] = report[w_cols + a_cols].fillna(0)
    report["compression"] = report["float32_bytes"] / report["bytes"].where(report["bytes"] > 0)
    int_cols = ["neurons", "bytes", "float32_bytes"] + w_cols + a_cols
    report[int_cols] = report[int_cols].astype(np.int64)
    return report
