"""The budget path and the CV estimators against independent fits and GridSearchCV.

Per task of :mod:`benchmarks.tasks`, the default (100,) network:

* *quality*: for each seed, one :func:`skqat.budget_path` over ``BUDGETS`` and
  an independent fit at each budget; per budget, the path's mean test score
  against the independent fits' mean and their seed-to-seed spread (min to
  max);
* *cost* (seed 0, ``n_jobs=1``): the path's wall time against the single
  fit at the largest budget; ``NMPQATClassifierCV`` / ``NMPQATRegressorCV``
  over ``BUDGETS`` and 3 folds against ``GridSearchCV`` over the same grid
  and folds, and the test score of each one's choice.

Writes ``budget_path_quality.csv``, ``budget_path_cost.csv`` and
``budget_path.md``. Usage::

    python -m benchmarks.budget_path --output benchmarks/results [--seeds 3]
        [--max-train 4000] [--tasks covertype,yt_qoe]
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV

from skqat import (NMPQATClassifier, NMPQATClassifierCV, NMPQATRegressor, NMPQATRegressorCV,
                   budget_path)

from .report import markdown_table
from .tasks import TASKS, load_split

BUDGETS = (1, 1.5, 2, 3, None)
FOLDS = 3


def _label(budget):
    return "none" if budget is None else f"{budget:g}"


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def quality_and_cost(task, seeds, max_train, max_test):
    quality, cost = [], None
    for seed in range(seeds):
        split = load_split(task, seed, max_train, max_test)
        classify = split.kind == "classification"
        plain = (NMPQATClassifier if classify else NMPQATRegressor)(random_state=seed)
        X, y, X_te, y_te = split.X_train, split.y_train, split.X_test, split.y_test
        path, path_s = _timed(lambda: budget_path(plain, X, y, bit_budgets=BUDGETS))
        single_s = None
        for point in path:
            budget = point.bit_budget
            alone, seconds = _timed(lambda: plain.set_params(bit_budget=budget).fit(X, y))
            if budget is None:
                single_s = seconds
            quality.append(dict(task=task, seed=seed, budget=_label(budget),
                                path_score=point.score(X_te, y_te),
                                path_bits=point.mean_weight_bits_,
                                independent_score=alone.score(X_te, y_te),
                                independent_bits=alone.mean_weight_bits_))
            print(quality[-1], flush=True)
        if seed == 0:
            cv_class = NMPQATClassifierCV if classify else NMPQATRegressorCV
            grid, grid_s = _timed(lambda: GridSearchCV(
                plain.set_params(bit_budget=None), {"bit_budget": list(BUDGETS)}, cv=FOLDS,
                n_jobs=1).fit(X, y))
            cv_est, cv_s = _timed(lambda: cv_class(bit_budgets=BUDGETS, cv=FOLDS, n_jobs=1,
                                                   random_state=seed).fit(X, y))
            grid_test, cv_test = grid.score(X_te, y_te), cv_est.score(X_te, y_te)
            cost = dict(task=task, kind=split.kind, single_fit_s=single_s, path_s=path_s,
                        path_over_fit=path_s / single_s, grid_search_s=grid_s, cv_s=cv_s,
                        cv_over_grid=cv_s / grid_s,
                        grid_choice=_label(grid.best_params_["bit_budget"]),
                        cv_choice=_label(cv_est.bit_budget_), grid_test_score=grid_test,
                        cv_test_score=cv_test, cv_bits=cv_est.mean_weight_bits_,
                        grid_bits=grid.best_estimator_.mean_weight_bits_)
            print(cost, flush=True)
    return quality, cost


def summarize(quality):
    """Per task and budget: path and independent means, the independent spread, the verdict."""
    g = quality.groupby(["task", "budget"], sort=False)
    table = g.agg(path_score=("path_score", "mean"), path_bits=("path_bits", "mean"),
                  independent_score=("independent_score", "mean"),
                  independent_min=("independent_score", "min"),
                  independent_max=("independent_score", "max"),
                  independent_bits=("independent_bits", "mean")).reset_index()
    table["within_spread"] = np.where(
        (table.path_score >= table.independent_min) & (table.path_score <= table.independent_max),
        "yes", np.where(table.path_score > table.independent_max, "above", "**below**"))
    return table.round(4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=4000)
    parser.add_argument("--max-test", type=int, default=4000)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--tag", default="", help="suffix of the output files (parallel runs)")
    args = parser.parse_args(argv)
    quality, costs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for task in args.tasks.split(","):
            q, c = quality_and_cost(task, args.seeds, args.max_train, args.max_test)
            quality += q
            costs.append(c)
    args.output.mkdir(parents=True, exist_ok=True)
    quality, costs = pd.DataFrame(quality), pd.DataFrame(costs)
    quality.to_csv(args.output / f"budget_path_quality{args.tag}.csv", index=False)
    costs.to_csv(args.output / f"budget_path_cost{args.tag}.csv", index=False)
    write_markdown(args.output / f"budget_path{args.tag}.md", quality, costs, args)


def write_markdown(path, quality, costs, args):
    """The two tables of the benchmark, with the settings."""
    table = summarize(quality)
    path.write_text(
        "# Budget path and CV estimators\n\n"
        f"Default (100,) network, {args.max_train} training rows, budgets {list(BUDGETS)}; "
        f"quality over {args.seeds} seeds, cost on seed 0 with n_jobs=1 and {FOLDS} folds.\n\n"
        "## Cost\n\n" + markdown_table(costs.round(4), list(costs.columns))
        + "\n## Path against independent fits (test scores)\n\n"
        + markdown_table(table, list(table.columns)))


if __name__ == "__main__":
    main()
