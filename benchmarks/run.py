"""Benchmark entry point: every method on every task and seed, in one run.

Writes under ``--output`` (default ``benchmarks/results``):

* ``runs.csv``: one row per task, method and seed (every measured column);
* ``summary.csv`` and ``summary.md``: mean and std over seeds, the training
  cost and memory checks, and the issue's targets met or missed;
* ``frontier.png`` (score against mean weight bits) and ``bit_allocation.png``;
* ``meta.json``: date, machine, versions, command and settings.

Every speed figure is a ratio against a baseline measured in the same run
(the float reference's epoch, scikit-learn's ``predict``), next to the
absolute numbers. Run from the repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.run            # full
    SKQAT_DATA_HOME=../shared/data python -m benchmarks.run --quick    # < 10 minutes
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning

from . import report
from .measure import (in_fresh_process, quality, rows_per_second, size_columns, timed_fit,
                      torch_forward)
from .methods import make_estimator, method_table
from .tasks import TASKS, covertype_rows, load_split

FULL = dict(seeds=3, max_train=10_000, max_test=5_000, hidden=(64, 64), epochs=15,
            throughput_rows=100_000, cost_rows=20_000, cost_hidden=(256, 256, 256),
            cost_epochs=3, cost_rounds=3, memory_rows=150_000)
QUICK = dict(seeds=1, max_train=3_000, max_test=2_000, hidden=(64, 64), epochs=4,
             throughput_rows=30_000, cost_rows=10_000, cost_hidden=(256, 256, 256),
             cost_epochs=2, cost_rounds=2, memory_rows=150_000)

# Columns that do not apply to a method (left NaN on purpose).
NOT_APPLICABLE = {
    "sklearn_mlp": {"torch_rows_s", "integer_rows_s", "integer_vs_mlp", "file_bytes",
                    "file_ratio", "epoch_ratio"},
    "skqat_float": {"integer_rows_s", "integer_vs_mlp", "file_bytes", "file_ratio"},
}


def run_task(name, seed, settings, methods, data_home, log):
    """Every method on one task and seed: a list of result dicts."""
    split = load_split(name, seed, settings["max_train"], settings["max_test"], data_home)
    rows, baseline = [], {}
    allocation = None
    for method in methods:
        est = make_estimator(method, split.kind, settings["hidden"], settings["epochs"], seed)
        row = {"task": name, "kind": split.kind, "method": method,
               "family": method_table()[method][0], "seed": seed,
               "n_train": len(split.X_train), "n_test": len(split.X_test)}
        row.update(timed_fit(est, split.X_train, split.y_train))
        row.update(quality(split.kind, split.y_test, est.predict(split.X_test)))
        row.update(size_columns(est))
        n, reps = settings["throughput_rows"], 3
        if method == "sklearn_mlp":
            baseline["mlp_rows_s"] = rows_per_second(est.predict, split.X_test, n, reps)
        else:
            row["torch_rows_s"] = rows_per_second(torch_forward(est), split.X_test, n, reps)
        if method == "skqat_float":
            baseline["float_epoch_s"] = row["epoch_s"]
        if getattr(est, "quantize", False):
            graph = est.to_integer()
            row["integer_rows_s"] = rows_per_second(graph.predict, split.X_test, n, reps)
            row["file_bytes"] = len(graph.to_bytes())
            # Issue 15's bound: the weights' bits, 5 B per neuron, 8 B per input, 64 B.
            bound = (-(-graph.weight_bit_count() // 8) + 5 * sum(graph.layer_sizes[1:])
                     + 8 * graph.n_features + 64)
            row["file_ratio"] = row["file_bytes"] / bound
            if allocation is None and method.startswith("nmp_b2_"):
                allocation = {"method": method, "weight_bits": [b.tolist() for b in est.weight_bits_],
                              "activation_bits": [b.tolist() for b in est.activation_bits_]}
        row["mlp_rows_s"] = baseline.get("mlp_rows_s", np.nan)
        row["integer_vs_mlp"] = row.get("integer_rows_s", np.nan) / row["mlp_rows_s"]
        row["epoch_ratio"] = row["epoch_s"] / baseline.get("float_epoch_s", np.nan)
        rows.append(row)
        log(f"  {name} seed {seed} {method:16s} fit {row['fit_s']:6.1f} s  "
            + "  ".join(f"{k} {row[k]:.4g}" for k in ("accuracy", "r2", "weight_bits")
                        if k in row))
    return rows, allocation


def training_cost(settings, data_home, log):
    """Seconds per epoch of float, uniform 2-bit, layer-level and NMP-QAT on Covertype.

    The methods are interleaved over ``cost_rounds`` rounds and the median
    epoch kept, so that machine noise hits all of them alike.
    """
    split = load_split("covertype", 0, settings["cost_rows"], 1000, data_home)
    methods = ["skqat_float", "uniform_w2", "layer_b2_a8", "nmp_b2_a8", "nmp_bnone_anone"]
    times = {m: [] for m in methods}
    for _ in range(settings["cost_rounds"]):
        for m in methods:
            est = make_estimator(m, "classification", settings["cost_hidden"],
                                 settings["cost_epochs"], 0)
            times[m].append(timed_fit(est, split.X_train, split.y_train)["epoch_s"])
    base = float(np.median(times["skqat_float"]))
    out = [{"method": m, "epoch_s": float(np.median(t)), "epoch_ratio": float(np.median(t)) / base,
            "hidden": str(settings["cost_hidden"]), "n_train": len(split.X_train),
            "batch_size": 200} for m, t in times.items()]
    log("training cost: " + ", ".join(f"{r['method']} {r['epoch_ratio']:.2f}x" for r in out))
    return out


def _memory_fit(settings, data_home):
    X, y = covertype_rows(settings["memory_rows"], data_home)
    est = make_estimator("nmp_b2_a8", "classification", settings["cost_hidden"], 2, 0)
    m = timed_fit(est, X, y)
    return {"rows": X.shape[0], "features": X.shape[1], "hidden": str(settings["cost_hidden"]),
            "epochs": 2, "peak_rss_mb": m["peak_rss_mb"], "fit_s": m["fit_s"]}


def memory_check(settings, data_home, log):
    """Peak RSS of one NMP-QAT fit on all of Covertype (150k x 54 after one-hot).

    In a fresh process (:func:`~benchmarks.measure.in_fresh_process`).
    """
    out = in_fresh_process(_memory_fit, settings, data_home)
    log(f"memory: fit on ({out['rows']}, {out['features']}) peaks at {out['peak_rss_mb']:.0f} MB")
    return out


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small settings, under 10 minutes")
    p.add_argument("--output", default="benchmarks/results")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--methods", nargs="+", choices=list(method_table()),
                   default=list(method_table()))
    p.add_argument("--data-home", default=None)
    for key, value in FULL.items():  # every setting can be overridden
        kind = type(value[0]) if isinstance(value, tuple) else type(value)
        p.add_argument("--" + key.replace("_", "-"), type=kind,
                       nargs="+" if isinstance(value, tuple) else None, default=None)
    p.add_argument("--skip-cost", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    for key in FULL:
        if getattr(args, key) is not None:
            value = getattr(args, key)
            settings[key] = tuple(value) if isinstance(value, list) else value
    return args, settings


def main(argv=None):
    """Run the benchmark; see the module docstring."""
    args, settings = _parse(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - start:7.1f} s] {message}", flush=True)

    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "scikit-learn": sklearn.__version__,
                    "numpy": np.__version__},
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "tasks": args.tasks, "methods": args.methods,
    }
    runs, allocations = [], {}
    methods = [m for m in method_table() if m in args.methods]
    for name in args.tasks:
        for seed in range(settings["seeds"]):
            rows, allocation = run_task(name, seed, settings, methods, args.data_home, log)
            runs += rows
            if allocation is not None and name not in allocations:
                allocations[name] = allocation
    runs = pd.DataFrame(runs)
    cost = None if args.skip_cost else pd.DataFrame(training_cost(settings, args.data_home, log))
    memory = None if args.skip_memory else memory_check(settings, args.data_home, log)
    meta["elapsed_s"] = round(time.perf_counter() - start, 1)

    runs.to_csv(out / "runs.csv", index=False)
    summary = report.aggregate(runs)
    summary.to_csv(out / "summary.csv", index=False)
    if cost is not None:
        cost.to_csv(out / "training_cost.csv", index=False)
    targets = report.check_targets(summary, cost, memory)
    (out / "meta.json").write_text(json.dumps(
        {**meta, "memory": memory, "allocations": allocations, "targets": targets},
        indent=2, default=float))
    report.plot_frontier(summary, out / "frontier.png")
    report.plot_allocation(allocations, out / "bit_allocation.png")
    (out / "summary.md").write_text(report.markdown(meta, summary, cost, memory, targets))
    log(f"wrote {out}/ in {meta['elapsed_s']} s")
    return runs


if __name__ == "__main__":
    main()
