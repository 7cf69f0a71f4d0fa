"""Pruning along a stream: ``partial_fit`` with and without a 0-bit candidate.

Whether pruning could be on by default depends on the streams too: each
``partial_fit`` call projects the network onto its budgets, and a 0-bit
candidate lets that projection remove neurons after a single block. On the
5G throughput stream of the test suite (:func:`benchmarks.tasks.kpi_stream`:
8 time-ordered blocks, the preprocessing fitted on the first one, a quarter
of the traces held out), 3 passes, each seed and setting is run with the
candidates ``(1, 2, 4, 8)`` and ``(0, 1, 2, 4, 8)``:

* ``budget``: the test's model, (32,) at ``bit_budget=2,
  activation_bit_budget=6``;
* ``defaults``: the default (100,) network with its price per bit.

Both at ``learning_rate_init=0.003`` (as the test; the stream is short).
Writes ``prune_stream.csv`` (the held-out R2 after each pass, the pruned
neurons and the mean weight bits) and ``prune_stream.md``. Run from the
repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.prune_stream --output benchmarks/results
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from skqat import NMPQATRegressor
from skqat.datasets import fetch_ucc_5g

from .report import markdown_table
from .tasks import kpi_stream

CANDIDATES = {"no_pruning": (1, 2, 4, 8), "pruning": (0, 1, 2, 4, 8)}
SETTINGS = {"budget": dict(hidden_layer_sizes=(32,), bit_budget=2.0, activation_bit_budget=6.0),
            "defaults": {}}
PASSES = 3


def run(seeds, data_home=None, log=print):
    """One row per setting, candidates, seed and pass."""
    stream = kpi_stream(fetch_ucc_5g(data_home=data_home))
    rows = []
    for setting, params in SETTINGS.items():
        for candidates, bits in CANDIDATES.items():
            for seed in range(seeds):
                reg = NMPQATRegressor(weight_bits=bits, learning_rate_init=0.003,
                                      random_state=seed, **params)
                for n_pass in range(1, PASSES + 1):
                    for block in stream.blocks:
                        reg.partial_fit(stream.X[block], stream.y[block])
                    rows.append({"setting": setting, "candidates": candidates, "seed": seed,
                                 "pass": n_pass, "r2": reg.score(stream.X_test, stream.y_test),
                                 "pruned_neurons": int(sum((b == 0).sum()
                                                           for b in reg.weight_bits_[:-1])),
                                 "mean_weight_bits": reg.mean_weight_bits_,
                                 "model_bytes": reg.model_size_bytes_})
                    log(rows[-1])
    return pd.DataFrame(rows)


def summarize(runs):
    """Per setting, candidates and pass: mean and spread over seeds, and the paired difference."""
    keys = ["setting", "pass", "candidates"]
    table = runs.groupby(keys).agg(
        r2=("r2", "mean"), r2_min=("r2", "min"), r2_max=("r2", "max"),
        pruned_neurons=("pruned_neurons", "mean"), model_bytes=("model_bytes", "mean"),
        seeds=("seed", "nunique")).reset_index()
    wide = runs.pivot_table(index=["setting", "pass", "seed"], columns="candidates", values="r2")
    diff = (wide["pruning"] - wide["no_pruning"]).groupby(level=["setting", "pass"])
    paired = pd.DataFrame({"r2_difference": diff.mean(),
                           "standard_error": diff.std(ddof=1) / np.sqrt(diff.count())})
    return table, paired.reset_index()


def main(argv=None):
    """Run the comparison; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)  # the first block's constant columns
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    runs = run(args.seeds, args.data_home)
    runs.to_csv(out / "prune_stream.csv", index=False)
    table, paired = summarize(runs)
    (out / "prune_stream.md").write_text(
        "# Pruning along a stream\n\n5G throughput stream, 8 blocks, held-out R2 after each "
        f"pass; mean, lowest and highest over {args.seeds} seeds. Written by "
        "`python -m benchmarks.prune_stream`.\n\n" + markdown_table(table, list(table.columns))
        + "\nPaired by seed: R2 with the 0-bit candidate minus R2 without it.\n\n"
        + markdown_table(paired, list(paired.columns)))
    return runs


if __name__ == "__main__":
    main()
