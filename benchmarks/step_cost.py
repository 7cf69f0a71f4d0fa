"""Milliseconds per training step: learned bits against a float MLP (issue: training speed).

Two shapes, batch 200, torch and BLAS on one thread (as in a ``GridSearchCV``
worker):

* ``small``: 2,400 x 13 synthetic binary classification, one hidden layer of 100;
* ``medium``: the first 20,000 rows of Covertype, one-hot encoded (52 columns
  there), hidden layers (256, 256, 256).

Each method fits for a fixed number of epochs (the convergence stop off);
a step costs the fit's wall time divided by its number of optimizer steps.
The methods are interleaved over ``--rounds`` rounds and each one's fastest
round kept (noise on a shared machine only ever slows a fit down, in bursts
that a median of a few rounds does not outlast); the ratios are against scikit-learn's
``MLPClassifier`` and skqat's float network of the same run. Every row also
records the fitted bits and a digest of the training-set predictions, so a
change of speed can be checked to leave the models as they were. Run from the
repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.step_cost --output benchmarks/results

Writes ``step_cost.csv`` and ``step_cost.md`` (the table and the issue's
targets, met or missed) under ``--output``. With ``--fits``, it also times
whole fits of the default estimators against scikit-learn's MLP on the four
shared tasks (6,000 training rows, the convergence stop on, one thread) and
writes ``fit_time.csv`` and a second table.
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

from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline

from skqat import NMPQATClassifier, NMPQATRegressor

from .tasks import TASKS, covertype_rows, load_split

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
    """One row per shape and method: the fastest round's ms per step and the two ratios."""
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
        ms = {m: float(np.min([s["step_ms"] for s in v])) for m, v in samples.items()}
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


def fit_times(tasks, data_home=None, max_train=6000, log=print):
    """Whole fits: the default skqat estimator and scikit-learn's MLP, one row per task."""
    rows = []
    for task in tasks:
        split = load_split(task, 0, max_train, 2000, data_home)
        classify = split.kind == "classification"
        mlp = make_pipeline(StandardScaler(), (MLPClassifier if classify else MLPRegressor)(
            random_state=0))
        if not classify:  # skqat standardizes the target itself
            mlp = TransformedTargetRegressor(mlp, transformer=StandardScaler())
        row = {"task": task, "n_train": len(split.y_train)}
        for name, est in [("sklearn_mlp", mlp), ("skqat_default", (
                NMPQATClassifier if classify else NMPQATRegressor)(random_state=0))]:
            t0 = time.perf_counter()
            est.fit(split.X_train, split.y_train)
            row[f"{name}_s"] = time.perf_counter() - t0
            fitted = est
            if name == "sklearn_mlp":  # the MLP at the end of its pipeline
                fitted = est[-1] if classify else est.regressor_[-1]
            row[f"{name}_epochs"] = fitted.n_iter_
            row[f"{name}_score"] = est.score(split.X_test, split.y_test)
        row["ratio"] = row["skqat_default_s"] / row["sklearn_mlp_s"]
        log(f"{task:10s} MLP {row['sklearn_mlp_s']:6.1f} s ({row['sklearn_mlp_epochs']} epochs)  "
            f"skqat {row['skqat_default_s']:6.1f} s ({row['skqat_default_epochs']} epochs)  "
            f"{row['ratio']:.2f}x")
        rows.append(row)
    return pd.DataFrame(rows)


def fits_markdown(table):
    """The whole-fit table as Markdown."""
    lines = ["| task | training rows | MLP fit | MLP epochs | MLP score | skqat default fit "
             "| skqat epochs | skqat score | ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.task} | {r.n_train:,} | {r.sklearn_mlp_s:.1f} s | "
                     f"{r.sklearn_mlp_epochs} | {r.sklearn_mlp_score:.4f} | "
                     f"{r.skqat_default_s:.1f} s | {r.skqat_default_epochs} | "
                     f"{r.skqat_default_score:.4f} | {r.ratio:.2f}x |")
    return "\n".join(lines) + "\n"


# (shape, method, baseline column, largest ratio): the training-speed issue's targets.
TARGETS = [
    ("small", "nmp_b2_a6", "vs_sklearn_mlp", 2.5),
    ("medium", "nmp_b2_a6", "vs_skqat_float", 1.6),
    ("medium", "uniform_w2_a8", "vs_skqat_float", 1.2),
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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None,
                        help="override every shape's epochs (a quick look)")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--fits", action="store_true",
                        help="also time whole fits of the default estimators (about 10 minutes)")
    parser.add_argument("--no-steps", action="store_true", help="skip the step table")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(1)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    table = None
    with threadpool_limits(1):
        if not args.no_steps:
            table = run(args.shapes, args.rounds, args.data_home, args.epochs)
            table.to_csv(out / "step_cost.csv", index=False)
            (out / "step_cost.md").write_text(markdown(table))
        if args.fits:
            fits = fit_times(TASKS, args.data_home)
            fits.to_csv(out / "fit_time.csv", index=False)
            (out / "fit_time.md").write_text(fits_markdown(fits))
    return table


if __name__ == "__main__":
    main()
