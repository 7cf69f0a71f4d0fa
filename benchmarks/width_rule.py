"""How wide a size-budgeted fit should start: three width rules, paired by seed.

A size budget prunes and lowers neurons but never adds any, so the starting
width decides what training can choose from. On each task, size and seed
(the same training rows for every rule), NMP-QAT with ``size_budget`` starts from

* ``floor100``: never below 100 (the budget at 2 bits per weight, 8 bytes
  per feature and 16 per output reserved for the steps, or 100 if wider);
* ``bits2``: the default ``hidden_layer_sizes="auto"``, that is
  :func:`skqat.model_selection.starting_width` (the budget at 2 bits per
  weight, the steps as stored: 4 bytes per feature, 2 per 0/1 column);
* ``bits4``: the same at 4 bits per weight, 4 bytes per feature (narrower).

Covertype, the 5G traces and California by default: on QoE every family
scores within a few thousandths of float at every size, whatever the width.
Writes ``width_rule.csv`` (one row per fit) and ``width_rule.md``.

Usage::

    python -m benchmarks.width_rule --output benchmarks/results
        [--tasks covertype,ucc_5g,california] [--seeds 3] [--jobs 2]
"""

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from skqat import NMPQATClassifier, NMPQATRegressor
from skqat.model_selection import starting_width

from .measure import hidden_neurons
from .report import markdown_table
from .tasks import load_split

SIZES = (512, 1024, 2048, 4096)
RULES = ("floor100", "bits2", "bits4")


def width(rule, size_budget, n_features, n_outputs):
    """The starting width of ``rule`` (see the module docstring)."""
    if rule == "floor100":
        free = size_budget - 8 * n_features - 16 * n_outputs
        return max(100, int(free // ((n_features + n_outputs) * 2 / 8 + 4)))
    bits = {"bits2": 2, "bits4": 4}[rule]
    return starting_width(size_budget, n_features=n_features, n_outputs=n_outputs,
                          weight_bits=bits)


def _fit_one(job):
    import torch

    torch.set_num_threads(1)
    task, size_budget, seed, rule, max_train, max_test = job
    split = load_split(task, seed, max_train, max_test)
    classify = split.kind == "classification"
    w = (None if rule == "bits2"   # the estimator's own rule, exact step bytes
         else width(rule, size_budget, split.X_train.shape[1], split.n_outputs))
    est = (NMPQATClassifier if classify else NMPQATRegressor)(
        size_budget=size_budget, hidden_layer_sizes="auto" if w is None else (w,),
        random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(split.X_train, split.y_train)
    w = est.hidden_layer_sizes_[0] if w is None else w
    return dict(task=task, size=size_budget, seed=seed, rule=rule, width=w,
                score=est.score(split.X_test, split.y_test), bytes=est.model_size_bytes_,
                alive=hidden_neurons(est)[1],
                weight_bits=est.mean_weight_bits_, epochs=est.n_iter_,
                seconds=time.perf_counter() - start)


def report(runs):
    """Means per task, size and rule (score, width, living neurons); differences to floor100."""

    def mean(column):
        return runs.pivot_table(index=["task", "size"], columns="rule", values=column,
                                aggfunc="mean")[list(RULES)].reset_index()

    paired = runs.pivot_table(index=["task", "size", "seed"], columns="rule", values="score")
    rows = []
    for rule in RULES[1:]:
        diff = paired[rule] - paired["floor100"]
        rows.append(dict(rule=rule, pairs=len(diff), mean_difference=diff.mean(),
                         standard_error=diff.std(ddof=1) / np.sqrt(len(diff))))
    return mean("score"), mean("width"), mean("alive"), pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--tasks", default="covertype,ucc_5g,california")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=6000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    jobs = [(t, s, seed, rule, args.max_train, 4000) for s in SIZES
            for t in args.tasks.split(",") for seed in range(args.seeds) for rule in RULES]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = pd.DataFrame(pool.map(_fit_one, jobs))
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / "width_rule.csv", index=False)
    write_report(runs, args.output, args.max_train, args.seeds)


def write_report(runs, output, max_train, seeds):
    """``width_rule.md`` from the runs."""
    means, widths, alive, paired = report(runs)
    text = ["# Starting width of a size-budgeted fit", "",
            f"{max_train:,} training rows, seeds 0 to {seeds - 1}; the rules are in "
            "`benchmarks/width_rule.py`. Written by `python -m benchmarks.width_rule`.", "",
            "Mean test score:", "", markdown_table(means, list(means.columns)), "",
            "Mean starting width:", "", markdown_table(widths, list(widths.columns)), "",
            "Mean living hidden neurons of the fitted model:", "",
            markdown_table(alive, list(alive.columns)), "",
            "Paired by task, size and seed, against `floor100`:", "", markdown_table(paired, list(paired.columns)), ""]
    (output / "width_rule.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
