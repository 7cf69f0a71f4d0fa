"""Does a budget path's larger budget score at least as well as its smaller ones?

A path (:func:`skqat.budget_path`) fits the largest bit budget, then lowers
the bits and fine-tunes for each smaller one. On a small regression, a point
can end its fine-tuning on a bad epoch (a code of a low-bit row flipped) and
score below the next, smaller budget. For each seed this fits the path
of the test suite's check (scikit-learn's diabetes data, its first train /
test split, a (16,) network, ``max_iter=200``, bit budgets 8, 4, 2 and 1) and
records every point's training and test R2. ``max_rise`` is the largest gain
of a point's training R2 over the point before it (a larger budget): the
suite allows 0.02.

Writes ``path_monotone.csv`` (one row per seed and budget) and
``path_monotone.md`` under ``--output``.

Usage::

    python -m benchmarks.path_monotone --output benchmarks/results [--seeds 70] [--jobs 2]
"""

import argparse
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from .report import write_results

BUDGETS = (8, 4, 2, 1)
#: The rise the test suite allows (tests/test_stream_shift.py).
ALLOWED_RISE = 0.02


def _fit_path(seed):
    import torch

    from skqat import NMPQATRegressor, budget_path

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    X, y = load_diabetes(return_X_y=True)
    X, X_test, y, y_test = train_test_split(X, y, random_state=0)
    path = budget_path(NMPQATRegressor(hidden_layer_sizes=(16,), max_iter=200,
                                       random_state=seed), X, y, bit_budgets=list(BUDGETS))
    return [{"seed": seed, "bit_budget": budget, "train_r2": est.score(X, y),
             "test_r2": est.score(X_test, y_test), "weight_bits": est.mean_weight_bits_,
             "output_bits": int(est.weight_bits_[-1].min()), "epochs": est.n_iter_}
            for budget, est in zip(BUDGETS, path)]


def run(seeds, jobs=2):
    """One row per seed and budget, with each seed's ``max_rise``."""
    with ProcessPoolExecutor(jobs) as pool:
        rows = [row for rows in pool.map(_fit_path, range(seeds)) for row in rows]
    table = pd.DataFrame(rows)
    rise = table.groupby("seed").train_r2.apply(lambda s: float(np.max(np.diff(s.to_numpy()))))
    return table.assign(max_rise=table.seed.map(rise))


def markdown(table):
    """Violations of the allowed rise, and the rises' distribution."""
    rise = table.groupby("seed").max_rise.first()
    over = int((rise > ALLOWED_RISE).sum())
    test = table.groupby("bit_budget", sort=False).test_r2.mean()
    return (f"Budget paths over {len(rise)} seeds (diabetes, (16,), bit budgets "
            f"{', '.join(map(str, BUDGETS))}): a point's training R2 above the point of the "
            f"larger budget before it by more than {ALLOWED_RISE} in {over} seeds; largest "
            f"rise {rise.max():.3f}, mean {rise.mean():.4f}. Mean test R2 by budget: "
            f"{', '.join(f'{b}: {s:.4f}' for b, s in test.items())}.\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=70)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    table = run(args.seeds, args.jobs)
    write_results(args.output, "path_monotone", table, markdown(table))
    return table


if __name__ == "__main__":
    main()
