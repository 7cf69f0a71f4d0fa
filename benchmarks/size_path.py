"""A path along bytes against independent size-budgeted fits.

``NMPQATClassifierCV(size_budgets=...)`` and :func:`skqat.budget_path` with
``size_budgets`` train once, at the largest budget (from the width
``hidden_layer_sizes="auto"`` gives it), then walk down: each smaller budget
prunes and lowers the model above it and fine-tunes it briefly. An
independent fit at a small budget starts instead from a width made for that
budget. This benchmark measures what the path gives up for its cost: on
each task of :mod:`benchmarks.tasks`, each seed, the same training rows as
``make bench-bytes``, one path over ``SIZES``, compared with that
benchmark's independent ``nmp_size`` fits (``bytes_runs.csv``, same split
and seed), paired by seed.

Writes ``size_path.csv`` (one row per task, seed and size) and
``size_path.md``. Usage::

    python -m benchmarks.size_path --output benchmarks/results [--seeds 3]
        [--tasks covertype,ucc_5g] [--jobs 2] [--report-only]
"""

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from skqat import NMPQATClassifier, NMPQATRegressor, budget_path

from .bytes_frontier import SIZES
from .measure import hidden_neurons
from .report import markdown_table
from .tasks import TASKS, load_split

MAX_TRAIN, MAX_TEST = 6000, 4000  # as make bench-bytes


def _path_rows(job):
    task, seed = job
    torch.set_num_threads(1)
    split = load_split(task, seed, MAX_TRAIN, MAX_TEST)
    plain = (NMPQATClassifier if split.kind == "classification" else NMPQATRegressor)(
        random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = budget_path(plain, split.X_train, split.y_train, size_budgets=list(SIZES))
    seconds = time.perf_counter() - start
    rows = []
    for point in path:
        width, living = hidden_neurons(point)
        rows.append(dict(task=task, seed=seed, size=int(point.size_budget),
                         path_score=point.score(split.X_test, split.y_test),
                         path_bytes=point.model_size_bytes_, width=width, living=living,
                         path_seconds=seconds))
    return rows


def run(tasks, seeds, jobs):
    """One path per task and seed, in ``jobs`` processes of one torch thread."""
    work = [(task, seed) for task in tasks for seed in range(seeds)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return pd.DataFrame([row for rows in pool.map(_path_rows, work) for row in rows])


def compare(paths, independent):
    """Each path point beside the independent fit of the same task, seed and size."""
    fits = independent[independent.family == "nmp_size"].rename(
        columns={"score": "fit_score", "size_bytes": "fit_bytes"})
    fits = fits.assign(size=fits.budget.astype(int))[
        ["task", "seed", "size", "fit_score", "fit_bytes", "fit_seconds"]]
    rows = paths.merge(fits, on=["task", "seed", "size"], how="left")
    return rows.assign(difference=rows.path_score - rows.fit_score)


def summarize(rows):
    """Per task and size: means over seeds, and the paired difference with its spread."""
    table = rows.groupby(["task", "size"], sort=False).agg(
        path_score=("path_score", "mean"), fit_score=("fit_score", "mean"),
        difference=("difference", "mean"), difference_std=("difference", "std"),
        path_bytes=("path_bytes", "mean"), fit_bytes=("fit_bytes", "mean")).reset_index()
    cost = rows.groupby(["task", "seed"]).agg(path_seconds=("path_seconds", "first"),
                                              fits_seconds=("fit_seconds", "sum"))
    cost = (cost.path_seconds / cost.fits_seconds).groupby("task").mean()
    return table.round(4), cost.rename("path_over_fits").reset_index().round(3)


def write_markdown(path, table, cost, rows, seeds):
    diff = rows.difference
    lines = ["# A path along bytes against independent size-budgeted fits", "",
             f"{MAX_TRAIN:,} training rows, seeds 0 to {seeds - 1}, the splits of "
             "`bytes_runs.csv`; one `budget_path(size_budgets=[512, 1024, 2048, 4096])` per "
             "task and seed, from the default width of its largest budget, against the "
             "independent `nmp_size` fits of `make bench-bytes`. Written by "
             "`python -m benchmarks.size_path`.", "",
             "Mean test score over seeds; `difference` is the path minus the fit, paired "
             "by seed, with its standard deviation:", "",
             markdown_table(table, list(table.columns)), "",
             f"Over all {len(diff)} pairs: mean difference {diff.mean():+.4f}, standard "
             f"error {diff.std() / np.sqrt(len(diff)):.4f}.", "",
             "Wall time of the whole path over the sum of the four independent fits "
             "(both on the benchmark machine, two processes):", "",
             markdown_table(cost, list(cost.columns)), ""]
    Path(path).write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite size_path.md from size_path.csv")
    args = parser.parse_args(argv)
    out = Path(args.output)
    if args.report_only:
        rows = pd.read_csv(out / "size_path.csv")
    else:
        paths = run(args.tasks.split(","), args.seeds, args.jobs)
        rows = compare(paths, pd.read_csv(out / "bytes_runs.csv"))
        rows.to_csv(out / "size_path.csv", index=False)
    table, cost = summarize(rows)
    write_markdown(out / "size_path.md", table, cost, rows, args.seeds)
    print(table.to_string(index=False))
    print(cost.to_string(index=False))


if __name__ == "__main__":
    main()
