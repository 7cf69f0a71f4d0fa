"""Prediction time: the integer graph against scikit-learn's MLP on the same rows.

A fitted skqat estimator predicts with its integer graph
(:class:`skqat.runtime.IntegerMLP`); the float model it replaces is
scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with the same hidden layers.
Both are fitted on the same training rows (the MLP on standardized rows, as it
needs; the graph standardizes inside its input step) and then predict 10,000
rows, one BLAS thread:

* the four shared tasks (6,000 training rows, the default (100,) network; the
  test rows repeated up to 10,000);
* ``synthetic``: 10,000 x 20 ``make_classification`` rows, (100,).

Each predict is timed as the fastest of ``--repeats`` interleaved calls (noise
only ever slows a call down). ``graph_vs_mlp`` is the graph's time over the
MLP's alone (on rows scaled beforehand); ``graph_vs_pipeline`` over the MLP
with its ``StandardScaler`` (what a user calls on raw rows). ``identical``
checks that the graph's predictions are the estimator's. Run from the
repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.predict_speed --output benchmarks/results

Writes ``predict_speed.csv`` and ``predict_speed.md``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skqat import NMPQATClassifier, NMPQATRegressor

from .report import write_results
from .tasks import TASKS, Split, load_split

N_ROWS = 10_000


def synthetic_split():
    """10,000 x 20 binary classification rows, the first 6,000 to train."""
    X, y = make_classification(n_samples=N_ROWS, n_features=20, n_informative=10,
                               random_state=0)
    return Split("synthetic", "classification", X[:6000], y[:6000], X, y)


def elapsed_ms(call):
    """The time one call takes, in milliseconds."""
    start = time.perf_counter()
    call()
    return 1e3 * (time.perf_counter() - start)


def measure(split, repeats, max_iter=200):
    """One row: the fitted graph's and the MLP's predict times on 10,000 rows."""
    classify = split.kind == "classification"
    est = (NMPQATClassifier if classify else NMPQATRegressor)(max_iter=max_iter, random_state=0)
    mlp = (MLPClassifier if classify else MLPRegressor)(max_iter=max_iter, random_state=0)
    scaler = StandardScaler().fit(split.X_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(split.X_train, split.y_train)
        mlp.fit(scaler.transform(split.X_train), split.y_train)
    rows = np.resize(split.X_test, (N_ROWS, split.X_test.shape[1]))  # repeated rows
    scaled = scaler.transform(rows)
    graph = est.to_integer()
    calls = {"graph_ms": lambda: graph.predict(rows), "mlp_ms": lambda: mlp.predict(scaled),
             "pipeline_ms": lambda: mlp.predict(scaler.transform(rows))}
    # Interleaved, so that a slow spell hits every one; the fastest call of each kept.
    times = [{name: elapsed_ms(call) for name, call in calls.items()} for _ in range(repeats)]
    best = {name: min(t[name] for t in times) for name in calls}
    return dict(task=split.name, n_rows=N_ROWS, n_features=rows.shape[1],
                hidden=str(est.hidden_layer_sizes_), **best,
                graph_vs_mlp=best["graph_ms"] / best["mlp_ms"],
                graph_vs_pipeline=best["graph_ms"] / best["pipeline_ms"],
                identical=bool(np.array_equal(graph.predict(rows), est.predict(rows))))


def markdown(table):
    """The table, and the target: the graph at most as slow as the MLP alone."""
    lines = ["# Prediction time\n",
             f"{N_ROWS:,} rows per call, one BLAS thread, the fastest of the interleaved "
             "calls. `graph`: `IntegerMLP.predict`; `mlp`: scikit-learn's MLP on rows "
             "scaled beforehand; `pipeline`: the MLP behind its `StandardScaler`. Written by "
             "`python -m benchmarks.predict_speed`.\n",
             "| task | features | hidden | graph ms | MLP ms | pipeline ms | graph / MLP "
             "| graph / pipeline | identical to predict |", "|---" * 9 + "|"]
    for r in table.itertuples():
        lines.append(f"| {r.task} | {r.n_features} | {r.hidden} | {r.graph_ms:.2f} | "
                     f"{r.mlp_ms:.2f} | {r.pipeline_ms:.2f} | {r.graph_vs_mlp:.2f}x | "
                     f"{r.graph_vs_pipeline:.2f}x | {'yes' if r.identical else '**no**'} |")
    worst = table.graph_vs_mlp.max()
    lines += ["", "| target | measured | met |", "|---|---|---|",
              f"| `IntegerMLP.predict` at most 1.0x the MLP's predict, every row | "
              f"{worst:.2f}x (worst row) | {'yes' if worst <= 1.0 else 'no'} |"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    splits = [load_split(t, 0, 6000, 2000, args.data_home) for t in args.tasks.split(",") if t]
    with threadpool_limits(1):
        table = pd.DataFrame([measure(s, args.repeats) for s in [*splits, synthetic_split()]])
    write_results(args.output, "predict_speed", table, markdown(table))
    return table


if __name__ == "__main__":
    main()
