"""Measurements of one fitted estimator: quality, bits and bytes, time, throughput, memory."""

import multiprocessing
import time

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score

from skqat._qat.network import network_from_estimator


def quality(kind, y_true, y_pred):
    """Accuracy and macro-F1, or MSE and R2."""
    if kind == "classification":
        return {"accuracy": accuracy_score(y_true, y_pred),
                "macro_f1": f1_score(y_true, y_pred, average="macro")}
    return {"mse": mean_squared_error(y_true, y_pred), "r2": r2_score(y_true, y_pred)}


def final_step(est):
    """The network estimator inside a target transformer and a pipeline, or ``est``."""
    est = getattr(est, "regressor_", est)
    return getattr(est, "_final_estimator", est)


def hidden_neurons(est):
    """Hidden neurons of the fitted network: (built, living); a float network prunes none."""
    net = final_step(est)
    built = int(sum(c.shape[1] for c in net.coefs_[:-1]))
    if not hasattr(net, "weight_bits_"):
        return built, built
    return built, int(sum(np.count_nonzero(b) for b in net.weight_bits_[:-1]))


def float32_bytes(est):
    """Bytes of the network's weights and biases as float32."""
    est = final_step(est)
    return 4 * sum(w.size + b.size for w, b in zip(est.coefs_, est.intercepts_))


def size_columns(est):
    """Mean bits, model size and compression against float32."""
    est = final_step(est)
    if hasattr(est, "model_size_bytes_"):
        w_bits, a_bits, size = (est.mean_weight_bits_, est.mean_activation_bits_,
                                est.model_size_bytes_)
    else:  # scikit-learn's MLP: float32 weights, biases and the same input/output scalars
        w_bits, a_bits = 32.0, 32.0
        size = float32_bytes(est) + 8 * (est.n_features_in_ + est.n_outputs_)
    return {"weight_bits": w_bits, "activation_bits": a_bits, "size_bytes": size,
            "compression": float32_bytes(est) / size}


def _peak_reset():
    # Writing 5 to clear_refs resets the peak resident set size (Linux >= 4.0).
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def timed_fit(est, X, y):
    """Fit; return wall seconds, seconds per epoch and the peak RSS (MB) during fit."""
    reset = _peak_reset()
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mb() if reset else np.nan
    return {"fit_s": seconds, "epoch_s": seconds / final_step(est).n_iter_, "peak_rss_mb": peak}


def rows_per_second(predict, X, min_rows, repeats):
    """Best-of-``repeats`` throughput of ``predict`` on ``X`` tiled to ``min_rows`` rows."""
    rows = np.tile(X, (int(np.ceil(min_rows / len(X))), 1))[:max(min_rows, len(X))]
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(rows)
        best = min(best, time.perf_counter() - t0)
    return len(rows) / best


def torch_forward(est):
    """The fitted network's torch eval forward, from float64 rows to outputs."""
    net = network_from_estimator(est)
    step = torch.as_tensor(est.input_steps_ if est.quantize else np.ones(est.n_features_in_),
                           dtype=torch.float32)

    def predict(X):
        with torch.no_grad():
            return net(torch.as_tensor(est._input_codes(X), dtype=torch.float32), step).numpy()
    return predict


def in_fresh_process(func, *args):
    """``func(*args)`` in a new interpreter (spawned), so that its peak memory is its own.

    A long benchmark process carries the heap of everything it ran before,
    which a peak measured in it would count.
    """
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(func, args)
