"""Milliseconds per training step: learned bits against a float MLP (issue: training speed).

Two shapes, batch 200, torch and BLAS on one thread (as in a ``GridSearchCV``
worker):

* ``small``: 2,400 x 13 synthetic binary classification, one hidden layer of 100;
* ``medium``: the first 20,000 rows of Covertype, one-hot encoded (52 columns
  there), hidden layers (256, 256, 256).

Each method fits for a fixed number of epochs (the convergence stop off);
a step costs the fit's wall time divided by its number of optimizer steps.
The methods are interleaved over ``--rounds`` rounds and the median kept, so
that machine noise hits them alike; the ratios are against scikit-learn's
``MLPClassifier`` and skqat's float network of the same run. Every row also
records the fitted bits and a digest of the training-set predictions, so a
change of speed can be checked to leave the models as they were. Run from the
repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.step_cost --output benchmarks/results

Writes ``step_cost.csv`` and ``step_cost.md`` (the table and the issue's
targets, met or missed) under ``--output``.
"""

import argparse
import hashlib
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skqat import NMPQATClassifier

from .tasks import covertype_rows

BATCH = 200
METHODS = {
    "sklearn_mlp": None,
    "skqat_float": {"quantize": False},
    "uniform_w2_a8": {"weight_bits": (2,), "activation_bits": (8,)},
    "nmp_no_budget": {},
    "nmp_b2_a6": {"bit_budget": 2.0, "activation_bit_budget": 6.0},
}
SHAPES = {"small": dict(hidden=(100,), epochs=30), "medium": dict(hidden=(256, 256, 256), epochs=3)}


def load_shape(name, data_home=None):
    """Rows of one shape, standardized (the MLP gets what skqat does inside)."""
    if name == "small":
        X, y = make_classification(n_samples=2400, n_features=13, n_informative=8,
                                   random_state=0)
    else:
        X, y = covertype_rows(20_000, data_home)
    return StandardScaler().fit_transform(X), y


def make(method, hidden, epochs):
    """A fresh estimator that runs exactly ``epochs`` epochs."""
    common = dict(hidden_layer_sizes=hidden, max_iter=epochs, tol=0.0,
                  n_iter_no_change=epochs, batch_size=BATCH, random_state=0)
    params = METHODS[method]
    if params is None:
        return MLPClassifier(**common)
    return NMPQATClassifier(**common, **params)


def _digest(pred):
    return hashlib.sha256(np.ascontiguousarray(pred).tobytes()).hexdigest()[:12]


def measure(method, X, y, hidden, epochs):
    """Wall time of one fit, its ms per step, and what it fitted."""
    est = make(method, hidden, epochs)
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    steps = est.n_iter_ * int(np.ceil(len(X) / BATCH))
    pred = est.predict(X)
    return {"step_ms": 1e3 * seconds / steps, "steps": steps,
            "train_accuracy": float((pred == y).mean()),
            "weight_bits": getattr(est, "mean_weight_bits_", 32.0),
            "activation_bits": getattr(est, "mean_activation_bits_", 32.0),
            "predictions": _digest(pred)}


def run(shapes, rounds, data_home=None, epochs=None, log=print):
    """One row per shape and method: median ms per step and the two ratios."""
    rows = []
    for shape in shapes:
        X, y = load_shape(shape, data_home)
        hidden, n_epochs = SHAPES[shape]["hidden"], epochs or SHAPES[shape]["epochs"]
        samples = {m: [] for m in METHODS}
        for method in METHODS:  # warm-up: first-call costs (imports, kernel set-up) left out
            measure(method, X[:400], y[:400], hidden, 1)
        for _ in range(rounds):
            for method in METHODS:
                samples[method].append(measure(method, X, y, hidden, n_epochs))
        ms = {m: float(np.median([s["step_ms"] for s in v])) for m, v in samples.items()}
        for method, runs in samples.items():
            last = runs[-1]
            rows.append({"shape": shape, "n_rows": X.shape[0], "n_features": X.shape[1],
                         "hidden": str(hidden), "batch_size": BATCH, "epochs": n_epochs,
                         "method": method, "step_ms": ms[method],
                         "vs_sklearn_mlp": ms[method] / ms["sklearn_mlp"],
                         "vs_skqat_float": ms[method] / ms["skqat_float"],
                         **{k: last[k] for k in ("steps", "train_accuracy", "weight_bits",
                                                 "activation_bits", "predictions")}})
            log(f"{shape:6s} {method:14s} {ms[method]:7.3f} ms/step  "
                f"{rows[-1]['vs_sklearn_mlp']:.2f}x MLP  {rows[-1]['vs_skqat_float']:.2f}x float")
    return pd.DataFrame(rows)


# (shape, method, baseline column, largest ratio): the training-speed issue's targets.
TARGETS = [
    ("small", "nmp_b2_a6", "vs_sklearn_mlp", 2.0),
    ("small", "skqat_float", "vs_sklearn_mlp", 1.2),
    ("medium", "nmp_b2_a6", "vs_skqat_float", 1.3),
    ("medium", "nmp_no_budget", "vs_skqat_float", 1.3),
    ("medium", "uniform_w2_a8", "vs_skqat_float", 1.15),
]


def markdown(table):
    """The table (ms per step and ratios, per shape) and the targets, as Markdown."""
    lines = ["| shape | method | ms per step | vs scikit-learn MLP | vs skqat float "
             "| weight bits | activation bits | train accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| {row.shape} ({row.n_rows:,} x {row.n_features}, {row.hidden}) "
                     f"| {row.method} | {row.step_ms:.2f} | {row.vs_sklearn_mlp:.2f}x "
                     f"| {row.vs_skqat_float:.2f}x | {row.weight_bits:.2f} "
                     f"| {row.activation_bits:.2f} | {row.train_accuracy:.4f} |")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    by_key = table.set_index(["shape", "method"])
    for shape, method, column, limit in TARGETS:
        if (shape, method) not in by_key.index:
            continue
        value = by_key.loc[(shape, method), column]
        baseline = "scikit-learn's MLP" if column == "vs_sklearn_mlp" else "skqat float"
        lines.append(f"| {shape}: {method} at most {limit}x {baseline} | {value:.2f}x "
                     f"| {'yes' if value <= limit else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None,
                        help="override every shape's epochs (a quick look)")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(1)
    with threadpool_limits(1):
        table = run(args.shapes, args.rounds, args.data_home, args.epochs)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    table.to_csv(Path(args.output) / "step_cost.csv", index=False)
    (Path(args.output) / "step_cost.md").write_text(markdown(table))
    return table


if __name__ == "__main__":
    main()
