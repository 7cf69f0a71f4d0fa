"""Peak memory of training on a wide sparse matrix (issue: sparse input).

A 50,000 x 20,000 CSR matrix at 0.1% density (8 GB if densified as float64)
trains two epochs of ``NMPQATClassifier`` and then predicts; the process's peak
resident memory is reported next to the matrix's own size and the dense size.
Each configuration runs in a fresh process so that its peak is its own.
Run from the repository root::

    python -m benchmarks.sparse_memory --output benchmarks/results

Writes ``sparse_memory.csv`` under ``--output``.
"""

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .measure import in_fresh_process


def _child(n_rows, n_features, density, quantize):
    import scipy.sparse as sp

    from skqat import NMPQATClassifier

    rng = np.random.default_rng(0)
    X = sp.random(n_rows, n_features, density=density, format="csr", random_state=rng,
                  dtype=np.float64)
    # A target the sparse columns decide: the sign of a sparse linear score.
    y = (X @ rng.standard_normal(n_features) > 0).astype(int)
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    clf = NMPQATClassifier(hidden_layer_sizes=(100,), max_iter=2,
                           bit_budget=2 if quantize else None, quantize=quantize,
                           random_state=0).fit(X, y)
    fit_s = time.perf_counter() - t0
    accuracy = float((clf.predict(X[:5000]) == y[:5000]).mean())
    return {
        "rows": n_rows, "features": n_features, "density": density, "quantize": quantize,
        "nonzeros": int(X.nnz),
        "csr_mib": (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20,
        "dense_float64_mib": n_rows * n_features * 8 / 2**20,
        "peak_rss_before_fit_mib": baseline_kib / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "fit_seconds_2_epochs": fit_s, "train_accuracy_first_5000": accuracy,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=20_000)
    parser.add_argument("--density", type=float, default=0.001)
    args = parser.parse_args(argv)
    rows = []
    for quantize in (True, False):
        rows.append(in_fresh_process(_child, args.rows, args.features, args.density, quantize))
        print(rows[-1], flush=True)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(Path(args.output) / "sparse_memory.csv", index=False)


if __name__ == "__main__":
    main()
