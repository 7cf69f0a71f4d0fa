"""What the defaults compress, and the paper's low-bit regime, on every shared dataset.

For each task of :mod:`benchmarks.tasks` and each seed, with the estimators'
default network ((100,)) and training settings:

* ``float``: the float reference (``quantize=False``);
* ``defaults``: ``NMPQATClassifier()`` / ``NMPQATRegressor()`` as shipped
  (no budget; the bit price);
* ``no_price``: the defaults without the price (``bit_price=0``,
  ``activation_bit_price=0``): what the defaults did before it;
* ``defaults_prune``: the defaults with a 0-bit candidate (pruning);
* ``b1.5_a6``: ``bit_budget=1.5, activation_bit_budget=6`` (budgeted bits
  pay no price), and ``b1.5_a6_prune`` the same with a 0-bit candidate;
* ``uniform_w1``, ``uniform_w2``: uniform 1- and 2-bit weights, 8-bit
  activations.

Writes ``compression_runs.csv`` (one row per fit, with its wall time) and
``compression.md`` (means over seeds, and each row's gap to float; no times:
the scores are the point, and they do not depend on the machine's load).

Usage::

    python -m benchmarks.compression --output benchmarks/results [--seeds 3]
        [--max-train 6000] [--tasks covertype,yt_qoe] [--rows float,defaults]
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from skqat import NMPQATClassifier, NMPQATRegressor

from .report import markdown_table
from .tasks import TASKS, load_split

PRUNE = (0, 1, 2, 4, 8)
ROWS = {
    "float": dict(quantize=False),
    "defaults": dict(),
    "no_price": dict(bit_price=0.0, activation_bit_price=0.0),
    "defaults_prune": dict(weight_bits=PRUNE),
    "b1.5_a6": dict(bit_budget=1.5, activation_bit_budget=6.0),
    "b1.5_a6_prune": dict(bit_budget=1.5, activation_bit_budget=6.0, weight_bits=PRUNE),
    "uniform_w1": dict(weight_bits=(1,), activation_bits=(8,)),
    "uniform_w2": dict(weight_bits=(2,), activation_bits=(8,)),
}


def run(tasks, seeds, max_train, rows=tuple(ROWS), max_test=4000):
    runs = []
    for task in tasks:
        for seed in range(seeds):
            split = load_split(task, seed, max_train, max_test)
            cls = NMPQATClassifier if split.kind == "classification" else NMPQATRegressor
            for name in rows:
                params = ROWS[name]
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = cls(random_state=seed, **params).fit(split.X_train, split.y_train)
                bits = np.concatenate(est.weight_bits_)
                pruned = int((bits == 0).sum()) if est.quantize else 0
                runs.append(dict(task=task, kind=split.kind, seed=seed, row=name,
                                 score=est.score(split.X_test, split.y_test),
                                 mean_weight_bits=est.mean_weight_bits_,
                                 mean_activation_bits=est.mean_activation_bits_,
                                 neurons_at_1_bit=float((bits == 1).mean()),
                                 pruned_neurons=pruned, model_bytes=est.model_size_bytes_,
                                 epochs=est.n_iter_, fit_seconds=time.perf_counter() - start))
                print({k: (round(v, 4) if isinstance(v, float) else v)
                       for k, v in runs[-1].items()}, flush=True)
    return pd.DataFrame(runs)


def summarize(runs):
    """Means over seeds, with the gap to float: points of accuracy, or % of R2."""
    mean = (runs.groupby(["task", "kind", "row"], sort=False)
            .agg(score=("score", "mean"), score_std=("score", "std"),
                 mean_weight_bits=("mean_weight_bits", "mean"),
                 mean_activation_bits=("mean_activation_bits", "mean"),
                 neurons_at_1_bit=("neurons_at_1_bit", "mean"),
                 pruned_neurons=("pruned_neurons", "mean"), model_bytes=("model_bytes", "mean"),
                 epochs=("epochs", "mean"))
            .reset_index())
    ref = mean[mean.row == "float"].set_index("task").score
    float_score = mean.task.map(ref)
    points = 100 * (mean.score - float_score)
    percent = 100 * (mean.score - float_score) / float_score.abs()
    mean["gap_to_float"] = [f"{p:+.2f} pt" if k == "classification" else f"{r:+.1f}% R2"
                            for k, p, r in zip(mean.kind, points, percent)]
    return mean.round(4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=6000)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--rows", default=",".join(ROWS), help="a subset of the rows")
    args = parser.parse_args(argv)
    runs = run(args.tasks.split(","), args.seeds, args.max_train, args.rows.split(","))
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / "compression_runs.csv", index=False)
    table = summarize(runs)
    (args.output / "compression.md").write_text(
        "# Compression of the defaults and the low-bit regime\n\n"
        f"(100,) network, default training settings, {args.max_train} training rows, "
        f"means over {args.seeds} seeds; test rows held out as in `benchmarks/tasks.py`.\n\n"
        + markdown_table(table, list(table.columns)))


if __name__ == "__main__":
    main()
