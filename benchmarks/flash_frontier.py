"""Which model for my device? Score against linked Cortex-M0 flash, every family an engineer ships.

On each task of :mod:`benchmarks.tasks`, each seed (the splits of
``make bench-bytes``), the families of :mod:`benchmarks.flash_models` over
their sizes: NMP-QAT at a ``flash_budget`` of 1, 2, 4 and 8 KB, skqat's
uniform 4- and 8-bit networks of every width, emlearn's decision trees,
random forests and float MLPs, and LightGBM through TL2cgen. Each model is
compiled and linked for a Cortex-M0 (:mod:`benchmarks.mcu_flash`): the
``linked`` flash (its code, tables and every C library helper it pulls) and
the ``objects`` flash (its own code and tables).

:func:`frontier` gives, at each flash size, each family's best
configuration that fits on every seed; :func:`paired` compares NMP-QAT with
each other family's best on the same splits (the mean difference and the
spread of the difference over seeds).

Writes ``flash_runs.csv`` (one row per fit), ``flash.md`` and
``flash_frontier.png``. Fits run in ``--jobs`` processes, one thread each.

Usage::

    python -m benchmarks.flash_frontier --output benchmarks/results [--seeds 3]
        [--max-train 6000] [--tasks california] [--jobs 2] [--resume] [--refit nmp_flash]
"""

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .report import (best_within_sizes, markdown_table, plot_score_against_bytes,
                     run_logged)
from .tasks import TASKS, load_split

SIZES = (1024, 2048, 4096, 8192)
MEASURES = ("linked", "objects")
WIDTHS = (4, 8, 16, 32, 64, 128)


def configs():
    """Every configuration: (family, name, parameters)."""
    out = [("nmp_flash", f"flash_{s}", dict(flash_budget=s)) for s in SIZES]
    out += [(f"uniform{b}", f"w{b}_x{w}", dict(hidden_layer_sizes=(w,), weight_bits=(b,),
                                                activation_bits=(8,)))
            for b in (4, 8) for w in WIDTHS]
    out += [("tree", f"leaves_{n}", dict(max_leaf_nodes=n))
            for n in (4, 8, 16, 32, 64, 128, 256, 512)]
    out += [("forest", f"trees_{t}_leaves_{n}", dict(n_estimators=t, max_leaf_nodes=n))
            for t in (3, 10) for n in (8, 32, 128)]
    out += [("emlearn_mlp", f"mlp_x{w}", dict(hidden_layer_sizes=(w,))) for w in (4, 8, 16)]
    out += [("lightgbm", f"lgbm_{t}x{n}", dict(n_estimators=t, num_leaves=n))
            for t, n in ((5, 4), (10, 4), (10, 8), (20, 8), (20, 16), (50, 8))]
    return out


def _fit_one(job):
    from .flash_models import fit_and_measure

    task, seed, family, name, params, max_train, max_test = job
    split = load_split(task, seed, max_train, max_test)
    row = fit_and_measure(family, split, seed, params)
    return dict(task=task, kind=split.kind, seed=seed, family=family, config=name,
                budget=params.get("flash_budget", np.nan), **row)


def _surely_too_large(family, params, n_features):
    """A uniform network whose weights alone exceed the largest size (never in the frontier)."""
    if not family.startswith("uniform"):
        return False
    return params["hidden_layer_sizes"][0] * n_features * params["weight_bits"][0] / 8 > (
        1.25 * max(SIZES))


def run(tasks, seeds, max_train, jobs, max_test=4000, log=None, families=None, done=None,
        quick=False):
    """Fit every configuration; rows of ``done`` are kept, not refitted."""
    rows = [] if done is None else done.to_dict("records")
    have = {(r["task"], r["seed"], r["config"]) for r in rows}
    n_features = {t: load_split(t, 0, max_train, 10).X_train.shape[1] for t in tasks}
    work = []
    for task in tasks:
        for seed in range(seeds):
            for family, name, params in configs():
                if (families and family not in families) or (task, seed, name) in have:
                    continue
                if _surely_too_large(family, params, n_features[task]):
                    continue
                if quick:  # the suite's smoke test: few epochs and iterations
                    params = {**params, **({"max_iter": 3} if "lgbm" not in name and
                                           family not in ("tree", "forest") else {})}
                work.append((task, seed, family, name, params, max_train, max_test))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return run_logged(_fit_one, work, jobs=jobs, rows=rows, log=log)


def frontier(runs, measure="linked", sizes=SIZES):
    """At each size, each family's best configuration whose ``measure`` fits on every seed.

    ``nmp_flash`` takes its fit at the budget of that size where it fits
    (its budget caps the linked flash; in object flash its smaller budgets
    may fit a size too).
    """
    per = (runs.groupby(["task", "kind", "family", "config"], sort=False)
           .agg(score=("score", "mean"), spread=("score", "std"), flash=(measure, "mean"),
                max_flash=(measure, "max"), budget=("budget", "first"), ram=("ram", "max"),
                ops=("ops", "mean"))
           .reset_index())
    return best_within_sizes(per, sizes, limit="max_flash",
                             columns=["score", "spread", "flash", "ram", "ops"],
                             budget_families=("nmp_flash",) if measure == "linked" else ())


def paired(runs, front):
    """NMP-QAT against each other family's best at each size, paired by seed.

    Returns
    -------
    pandas.DataFrame
        Per task, size and family: both mean scores, the mean difference
        (NMP-QAT minus the other), the std of the difference over seeds,
        whether NMP-QAT is at or above it (mean difference >= 0), and whether
        it is not below it by more than that std (``not_below``).
    """
    out = []
    for (task, size), g in front.groupby(["task", "size"], sort=False):
        mine = g[g.family == "nmp_flash"]
        if not len(mine):
            continue
        mine_scores = runs[(runs.task == task) & (runs.config == mine.iloc[0].config)]
        mine_scores = mine_scores.set_index("seed").score
        for _, other in g[g.family != "nmp_flash"].iterrows():
            theirs = runs[(runs.task == task) & (runs.config == other.config)]
            diff = (mine_scores - theirs.set_index("seed").score).dropna()
            out.append(dict(task=task, size=size, family=other.family, config=other.config,
                            nmp=mine.iloc[0].score, other=other.score, diff=diff.mean(),
                            diff_std=diff.std(), at_or_above=diff.mean() >= 0,
                            not_below=diff.mean() >= -np.nan_to_num(diff.std())))
    return pd.DataFrame(out)


def verdicts(pairs):
    """The issue's bars: per size, on how many tasks NMP-QAT is at or above the named rivals."""
    rows = []
    for size, g in pairs.groupby("size"):
        rivals = (["tree", "forest", "uniform4", "uniform8"] if size <= 2048
                  else sorted(set(g.family)))
        by_task = g[g.family.isin(rivals)].groupby("task")
        above, close = by_task.at_or_above.all(), by_task.not_below.all()
        rows.append(dict(size=size, rivals=", ".join(rivals), tasks=len(above),
                         at_or_above=int(above.sum()), where=", ".join(above.index[above]),
                         within_spread=int(close.sum()),
                         where_within=", ".join(close.index[close])))
    return pd.DataFrame(rows)


def plot(runs, path, measure="linked"):
    """Score against flash (log axis), one panel per task, one colour per family."""
    plot_score_against_bytes(runs, path, x=measure, xlabel=f"{measure} Cortex-M0 flash (bytes)",
                             line_family="nmp_flash", depth=0.25)


def write_report(runs, output, max_train, seeds):
    parts = ["# Which model for my device? Score against Cortex-M0 flash\n\n"
             f"{max_train} training rows, {seeds} seeds (the splits of `make bench-bytes`). "
             "Each cell: the family's best configuration whose flash is at most that size on "
             "every seed, mean score ± spread over seeds (configuration, mean flash in "
             "bytes). `linked`: one call in a minimal `main`, linked with newlib-nano and "
             "`--gc-sections`, less the same `main` without it (C library helpers "
             "included); `objects`: the model's own code and tables.\n"]
    for measure in MEASURES:
        front = frontier(runs, measure)
        cells = front.assign(cell=[f"{s:.4f} ± {d:.4f} ({c}, {b:,.0f} B)" for s, d, c, b in zip(
            front.score, front.spread.fillna(0), front.config, front.flash)])
        table = cells.pivot_table(index=["task", "size"], columns="family", values="cell",
                                  aggfunc="first", sort=False).reset_index().fillna("-")
        parts.append(f"\n## {measure.capitalize()} flash\n\n"
                     + markdown_table(table, list(table.columns)) + "\n")
        front.round(4).to_csv(output / f"flash_frontier_{measure}.csv", index=False)
        if measure == "linked":
            pairs = paired(runs, front)
            bars = verdicts(pairs)
            pairs.round(4).to_csv(output / "flash_paired.csv", index=False)
            parts.append("\n## NMP-QAT against each family, paired by seed (linked flash)\n\n"
                         "`diff`: NMP-QAT's score minus the family's best at that size, "
                         "mean over seeds; `diff_std`: its spread over seeds.\n\n"
                         + markdown_table(pairs.round(4), list(pairs.columns)) + "\n"
                         + "\n## The bars\n\n"
                         "At 1 and 2 KB: at or above the best tree, forest and uniform "
                         "network; at 4 and 8 KB: at or above every family. Per size, the "
                         "tasks where NMP-QAT's mean paired difference is at least 0 against "
                         "every rival (`at_or_above`), and where it is not below any rival "
                         "by more than the spread of the difference (`within_spread`).\n\n"
                         + markdown_table(bars, list(bars.columns)) + "\n")
    cal = runs.dropna(subset=["report_flash"])
    err = (cal.report_flash - cal.linked) / cal.linked
    extra = cal.linked - cal.model_bytes
    parts.append("\n## The resource report against the linker\n\n"
                 f"`resource_report().flash_bytes` against the linked figure over the "
                 f"{len(cal)} skqat models: relative error {err.min():+.4f} to "
                 f"{err.max():+.4f} (mean {err.mean():+.4f}); NMP-QAT fits over their "
                 f"flash budget when linked: {int((runs.linked > runs.budget).sum())}. "
                 "The integer entry's linked flash less the model's own bytes "
                 "(`model_size_bytes_`, which counts the input steps the entry does not "
                 f"hold): {extra.min():.0f} to {extra.max():.0f} bytes (median "
                 f"{extra.median():.0f}); at most 500 bytes for {(extra <= 500).mean():.0%} "
                 "of the models.\n")
    (output / "flash.md").write_text("".join(parts))
    plot(runs, output / "flash_frontier.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=6000)
    parser.add_argument("--max-test", type=int, default=4000)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="few epochs (a smoke test)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--resume", action="store_true",
                        help="keep the fits flash_runs.csv holds, fit the missing ones")
    parser.add_argument("--refit", default=None,
                        help="families to fit again (their rows dropped), as --resume")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    log = args.output / "flash_runs.csv"
    done = pd.read_csv(log) if (args.resume or args.refit or args.report_only) else None
    if args.refit:
        done = done[~done.family.isin(args.refit.split(","))]
    runs = done if args.report_only else run(
        args.tasks.split(","), args.seeds, args.max_train, args.jobs, args.max_test, log=log,
        done=done, quick=args.quick)
    write_report(runs, args.output, args.max_train, args.seeds)


if __name__ == "__main__":
    main()
