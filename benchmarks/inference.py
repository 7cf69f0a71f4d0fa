"""Integer-graph inference against the torch forward and scikit-learn's MLP (issue 3).

Trains one NMP-QAT classifier at ``bit_budget=2`` and one ``MLPClassifier``
of the same size on the YouTube QoE data, then measures in this one run:

* the model file's size against the theoretical size and float32;
* agreement of the integer graph (and its model file) with ``predict``;
* prediction throughput (rows/s) of the integer graph, of the torch
  forward pass in eval mode, and of ``MLPClassifier.predict``, each from the
  same float64 rows to classes, best of several repeats.

Usage::

    SKQAT_DATA_HOME=../shared/data python benchmarks/inference.py [--hidden 64 64] [--rows 100000]
"""

import argparse
import platform
import tempfile
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skqat import NMPQATClassifier
from skqat._qat.network import network_from_estimator
from skqat.datasets import fetch_yt_qoe
from skqat.preprocessing import make_tabular_preprocessor
from skqat.runtime import load


def best_rate(fn, n_rows, repeats):
    """Rows per second of ``fn()``, the best of ``repeats`` runs."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_rows / best


def torch_predictor(est, X):
    net = network_from_estimator(est)
    step = torch.as_tensor(est.input_steps_, dtype=torch.float32)

    def predict():
        with torch.no_grad():
            codes = torch.as_tensor(est._input_codes(X), dtype=torch.float32)
            return (net(codes, step)[:, 0] > 0).numpy()
    return predict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    data = fetch_yt_qoe()
    X = make_tabular_preprocessor().fit_transform(data.data)
    X_tr, X_te, y_tr, y_te = train_test_split(X, np.asarray(data.target), test_size=0.25,
                                              random_state=0, stratify=data.target)
    hidden = tuple(args.hidden)
    est = NMPQATClassifier(hidden_layer_sizes=hidden, max_iter=args.epochs, bit_budget=2.0,
                           random_state=0).fit(X_tr, y_tr)
    mlp = MLPClassifier(hidden_layer_sizes=hidden, max_iter=args.epochs,
                        random_state=0).fit(X_tr, y_tr)
    graph = est.to_integer()

    with tempfile.TemporaryDirectory() as tmp:
        file_bytes = graph.save(f"{tmp}/model.skqat")
        loaded = load(f"{tmp}/model.skqat")
    n_weights = sum(c.size for c in est.coefs_)
    n_neurons = sum(c.shape[1] for c in est.coefs_)
    float32_bytes = 4 * (n_weights + n_neurons)
    print(f"machine: {platform.machine()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}")
    print(f"network {[X.shape[1], *hidden, 1]}, mean weight bits {est.mean_weight_bits_:.2f}, "
          f"mean activation bits {est.mean_activation_bits_:.2f}")
    print(f"test accuracy: NMP-QAT {est.score(X_te, y_te):.4f}, "
          f"MLPClassifier {mlp.score(X_te, y_te):.4f}")
    print(f"model file {file_bytes} B; theoretical {graph.theoretical_size_bytes()} B "
          f"(ratio {file_bytes / graph.theoretical_size_bytes():.3f}); float32 weights and "
          f"biases {float32_bytes} B ({float32_bytes / file_bytes:.1f}x the file)")
    pred = est.predict(X_te)
    print(f"agreement with predict on {len(X_te)} test rows: integer graph "
          f"{np.mean(graph.predict(X_te) == pred):.4%}, loaded file "
          f"{np.mean(loaded.predict(X_te) == pred):.4%}, torch eval forward "
          f"{np.mean(est.classes_[torch_predictor(est, X_te)().astype(int)] == pred):.4%}")

    rows = X_te[np.random.default_rng(0).integers(0, len(X_te), args.rows)]
    rates = {
        "integer graph (numpy)": best_rate(lambda: graph.predict(rows), len(rows), args.repeats),
        "torch forward, eval": best_rate(torch_predictor(est, rows), len(rows), args.repeats),
        "MLPClassifier.predict": best_rate(lambda: mlp.predict(rows), len(rows), args.repeats),
    }
    base = rates["MLPClassifier.predict"]
    print(f"\nthroughput on {len(rows)} rows (best of {args.repeats}):")
    for name, rate in rates.items():
        print(f"  {name:24s} {rate:12,.0f} rows/s  ({rate / base:.2f}x MLPClassifier)")


if __name__ == "__main__":
    main()
