"""GPU against CPU: milliseconds per training step, bits and accuracy (issue: scaling out).

One prepared script for a machine with a CUDA device: the (256, 256, 256)
network on the first 20,000 rows of Covertype, batch 200, NMP-QAT at
``bit_budget=2, activation_bit_budget=6`` and skqat's float network, each
fitted on the CPU (torch on one thread) and on the GPU. It reports the
step-time ratio GPU / CPU and whether the two fits agree in bits and
accuracy (float reductions differ between devices, so the bits need not be
identical). On a machine without CUDA it says so and exits. Run from the
repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.gpu_check --output benchmarks/results

Writes ``gpu_check.csv`` under ``--output``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning

from skqat import NMPQATClassifier

from .step_cost import BATCH, load_shape

METHODS = {"skqat_float": {"quantize": False},
           "nmp_b2_a6": {"bit_budget": 2.0, "activation_bit_budget": 6.0}}


def fit_row(method, device, X, y, epochs):
    """One fit: ms per step, bits and training accuracy."""
    est = NMPQATClassifier(hidden_layer_sizes=(256, 256, 256), max_iter=epochs, tol=0.0,
                           n_iter_no_change=epochs, batch_size=BATCH, random_state=0,
                           device=device, **METHODS[method])
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    steps = est.n_iter_ * int(np.ceil(len(X) / BATCH))
    return {"method": method, "device": device, "step_ms": 1e3 * seconds / steps,
            "weight_bits": est.mean_weight_bits_, "activation_bits": est.mean_activation_bits_,
            "train_accuracy": float(est.score(X, y))}


def main(argv=None):
    """Run the check; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("No CUDA device: nothing to compare.")
        return None
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_shape("medium", args.data_home)
    rows = []
    for method in METHODS:
        fit_row(method, "cuda", X[:2000], y[:2000], 1)  # warm-up: CUDA context, kernels
        for device in ("cpu", "cuda"):
            rows.append(fit_row(method, device, X, y, args.epochs))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    cpu = table[table.device == "cpu"].set_index("method")
    table["gpu_over_cpu"] = [r.step_ms / cpu.loc[r.method, "step_ms"] for r in table.itertuples()]
    Path(args.output).mkdir(parents=True, exist_ok=True)
    table.to_csv(Path(args.output) / "gpu_check.csv", index=False)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
