"""Accuracy per byte: NMP-QAT with a size budget against every family a practitioner sweeps.

On each task of :mod:`benchmarks.tasks`, each seed, the same training rows:

* ``nmp_size``: NMP-QAT at ``size_budget`` 512 B, 1 KB, 2 KB and 4 KB, as
  shipped (``hidden_layer_sizes="auto"``: as wide as the budget holds at 2
  bits per weight, :func:`skqat.model_selection.starting_width`);
* ``nmp_cv``: the same budgets with ``alpha`` chosen from 1e-4, 1e-2 and 1 by
  ``NMPQATClassifierCV`` / ``NMPQATRegressorCV`` (3-fold cross-validation of
  the training rows), then refitted on all of them (:func:`cv_estimator`);
* ``nmp_defaults``: NMP-QAT as shipped; ``nmp_bits``: at bit budgets;
* ``uniform``: uniform QAT, 1/2/4/8-bit weights (8-bit activations) at widths
  4, 8, 16, 32, 64 and 128;
* ``layer``: layer-level learned precision, (100,);
* ``float``: skqat's float32 network at widths 4, 8, 16, 32 and 100;
* ``mlp``: scikit-learn's MLP (100,), the ceiling, behind a ``StandardScaler``
  (the regressor on a standardized target too, as skqat standardizes its own);
* ``tree``, ``forest``, ``lightgbm``: what would be shipped instead of a
  network, sized by a formula per node (:mod:`benchmarks.tree_bytes`).

Sizes are ``model_size_bytes_`` (the MLP's: float32 weights and biases, and
the same input and output steps; the trees': their formula). :func:`frontier`
gives, at each size, the best configuration of each family whose bytes are at
most that size on every seed (best mean score), with its spread over seeds.

Writes ``bytes_runs.csv`` (one row per fit), ``bytes.md`` and
``bytes_frontier.png``. Fits run in ``--jobs`` processes, one torch thread each.

Usage::

    python -m benchmarks.bytes_frontier --output benchmarks/results [--seeds 3]
        [--max-train 6000] [--tasks california] [--jobs 2]
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skqat import NMPQATClassifier, NMPQATClassifierCV, NMPQATRegressor, NMPQATRegressorCV

from .measure import final_step, hidden_neurons, size_columns
from .report import (best_within_sizes, markdown_table, paired_difference,
                     plot_score_against_bytes, run_logged)
from .tasks import TASKS, load_split
from .tree_bytes import TREE_FAMILIES, tree_targets
from .tree_bytes import configs as tree_configs
from .tree_bytes import fit as fit_tree

SIZES = (512, 1024, 2048, 4096)
WIDTHS = (4, 8, 16, 32, 64, 128)
#: The penalties ``nmp_cv`` chooses from by 3-fold cross-validation.
CV_ALPHAS = (1e-4, 1e-2, 1.0)
#: The families fitted at each size budget.
NMP_BUDGET_FAMILIES = ("nmp_size", "nmp_cv")


def configs():
    """Every configuration: (family, name, estimator parameters); ``None`` is the MLP."""
    out = [("nmp_size", f"size_{s}", dict(size_budget=s)) for s in SIZES]
    out += [("nmp_cv", f"cv_size_{s}", dict(size_budget=s)) for s in SIZES]
    out.append(("nmp_defaults", "defaults", {}))
    out += [("nmp_bits", "b1.5_a6", dict(bit_budget=1.5, activation_bit_budget=6.0)),
            ("nmp_bits", "b2_a8", dict(bit_budget=2.0, activation_bit_budget=8.0))]
    out += [("uniform", f"w{b}_x{w}", dict(hidden_layer_sizes=(w,), weight_bits=(b,),
                                          activation_bits=(8,)))
            for b in (1, 2, 4, 8) for w in WIDTHS]
    out += [("layer", "layer_defaults", dict(granularity="layer")),
            ("layer", "layer_b2_a8", dict(granularity="layer", bit_budget=2.0,
                                          activation_bit_budget=8.0))]
    out += [("float", f"float_x{w}", dict(hidden_layer_sizes=(w,), quantize=False))
            for w in (4, 8, 16, 32, 100)]
    out.append(("mlp", "mlp_x100", None))
    return out + tree_configs()


def _fit_one(job):
    task, seed, family, name, params, max_train, max_test = job
    split = load_split(task, seed, max_train, max_test)
    classify = split.kind == "classification"
    if family in TREE_FAMILIES:
        start = time.perf_counter()
        tree = fit_tree(family, split, seed, params)
        return dict(task=task, kind=split.kind, seed=seed, family=family, config=name,
                    budget=np.nan, score=tree["score"], size_bytes=tree["size_bytes"],
                    weight_bits=np.nan, activation_bits=np.nan, living_neurons=np.nan,
                    epochs=np.nan, fit_seconds=time.perf_counter() - start,
                    width=np.nan)
    if family == "nmp_cv":
        est = cv_estimator(classify, seed, **params)
    elif params is None:  # scaled inputs, and the regressor on a standardized target, as skqat
        mlp = MLPClassifier(random_state=seed) if classify else MLPRegressor(random_state=seed)
        est = make_pipeline(StandardScaler(), mlp)
        if not classify:
            est = TransformedTargetRegressor(est, transformer=StandardScaler())
    else:
        est = (NMPQATClassifier if classify else NMPQATRegressor)(random_state=seed, **params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(split.X_train, split.y_train)
    seconds = time.perf_counter() - start
    sizes = size_columns(est)
    net = final_step(est)
    width, living = hidden_neurons(net)
    return dict(task=task, kind=split.kind, seed=seed, family=family, config=name,
                budget=(params or {}).get("size_budget", np.nan),
                alpha=getattr(est, "alpha_", getattr(est, "alpha", np.nan)),
                score=est.score(split.X_test, split.y_test), size_bytes=sizes["size_bytes"],
                weight_bits=sizes["weight_bits"], activation_bits=sizes["activation_bits"],
                living_neurons=living, epochs=net.n_iter_, fit_seconds=seconds, width=width)


def cv_estimator(classify, seed, size_budget, **params):
    """NMP-QAT at ``size_budget``, its ``alpha`` chosen from :data:`CV_ALPHAS`.

    The CV estimator scores each penalty by 3-fold cross-validation on the
    training rows (shuffled; stratified for a classifier) and refits the best
    on all of them; with ``alpha=1e-4`` chosen, the model is ``nmp_size``'s
    fit. ``params`` go to the estimator (a test's short ``max_iter``).
    """
    splitter = StratifiedKFold if classify else KFold
    cls = NMPQATClassifierCV if classify else NMPQATRegressorCV
    return cls(random_state=seed, bit_budgets=None, size_budgets=[size_budget],
               alphas=CV_ALPHAS, cv=splitter(n_splits=3, shuffle=True, random_state=seed),
               **params)


def _surely_too_large(family, params, n_features, n_outputs):
    """Whether a uniform or float configuration must take more than the largest size.

    Its weights alone (and the steps) are known before fitting; such a fit
    cannot enter the frontier, and its hour of CPU is better spent elsewhere.
    """
    if family not in ("uniform", "float") or params.get("hidden_layer_sizes", (100,))[0] >= 100:
        return False
    width = params["hidden_layer_sizes"][0]
    bits = 32 if family == "float" else params["weight_bits"][0]
    weights = width * (n_features + n_outputs) * bits / 8
    steps = (8 if family == "float" else 4) * n_features  # float32 or bfloat16, twice
    return steps + weights > 1.25 * max(SIZES)


def run(tasks, seeds, max_train, jobs, max_test=4000, log=None, families=None, done=None):
    """Fit every configuration; rows of ``done`` (a runs table) are kept, not refitted."""
    rows = [] if done is None else done.to_dict("records")
    have = {(r["task"], r["seed"], r["config"]) for r in rows}
    shapes = {}
    for task in tasks:
        split = load_split(task, 0, max_train, 10)
        shapes[task] = (split.X_train.shape[1], split.n_outputs)
    work = [(task, seed, family, name, params, max_train, max_test)
            for task in tasks for seed in range(seeds) for family, name, params in configs()
            if (families is None or family in families) and (task, seed, name) not in have
            and not (params and _surely_too_large(family, params, *shapes[task]))]
    return run_logged(_fit_one, work, jobs=jobs, rows=rows, log=log)


def frontier(runs, sizes=SIZES):
    """At each size, each family's best configuration that fits it on every seed.

    Returns
    -------
    pandas.DataFrame
        One row per task, size and family: the configuration, its mean
        score, the spread over seeds (std), and its mean and largest bytes.
        ``nmp_size`` and ``nmp_cv`` take only their fit at that budget.
    """
    per_config = (runs.groupby(["task", "kind", "family", "config"], sort=False)
                  .agg(score=("score", "mean"), spread=("score", "std"),
                       bytes=("size_bytes", "mean"), max_bytes=("size_bytes", "max"),
                       budget=("budget", "first"))
                  .reset_index())
    return best_within_sizes(per_config, sizes, limit="max_bytes",
                             columns=["score", "spread", "bytes", "max_bytes"],
                             budget_families=NMP_BUDGET_FAMILIES)


def targets(front, runs):
    """The issue's targets at each size, with the numbers behind each verdict."""
    out = []
    for (task, size), g in front.groupby(["task", "size"], sort=False):
        nmp, uni = g[g.family == "nmp_size"], g[g.family == "uniform"]
        if size <= 2048 and len(nmp) and len(uni):
            n, u = nmp.iloc[0], uni.iloc[0]
            spread = max(n.spread, u.spread)
            # Paired by seed (the same split): the spread of the difference itself.
            mean, std, _ = paired_difference(runs, task, n.config, u.config)
            out.append(dict(task=task, size=size, target="above best uniform by > spread",
                            nmp=n.score, other=u.score, other_config=u.config, spread=spread,
                            margin=n.score - u.score, above=n.score - u.score > spread,
                            not_below=n.score - u.score >= -spread,
                            paired_spread=std, paired_above=mean > std))
    for task, g in runs.groupby("task", sort=False):
        nmp = g[(g.family == "nmp_size") & (g.budget == 4096)].score.mean()
        ref = g[g.config == "float_x100"].score.mean() if "float_x100" in set(g.config) else \
            g[g.family == "mlp"].score.mean()
        kind = g.kind.iloc[0]
        gap = (ref - nmp) * 100 if kind == "classification" else 100 * (ref - nmp) / abs(ref)
        limit = 1.0 if kind == "classification" else 2.0
        out.append(dict(task=task, size=4096, target="within 1 pt / 2% R2 of float (100,)",
                        nmp=nmp, other=ref, other_config="float (100,)", spread=np.nan,
                        margin=-gap, above=gap <= limit, not_below=gap <= limit,
                        paired_spread=np.nan, paired_above=gap <= limit))
    return pd.DataFrame(out)


def readme_table(front, sizes=SIZES):
    """The README's headline: per task and size, NMP-QAT's budget against the best uniform.

    Each cell reads ``NMP-QAT score / best uniform score``, the better one in
    bold; ``-`` where no uniform network of width 4 or more fits.
    """
    header = "| task | " + " | ".join(f"{s:,} B" for s in sizes) + " |"
    lines = [header, "|---" * (len(sizes) + 1) + "|"]
    for task, g in front.groupby("task", sort=False):
        kind = g.kind.iloc[0]
        cells = []
        for size in sizes:
            at = g[g["size"] == size].set_index("family").score
            nmp, uni = at.get("nmp_size", np.nan), at.get("uniform", np.nan)
            if np.isnan(uni):
                cells.append(f"{nmp:.4f} / -")
                continue
            a, b = f"{nmp:.4f}", f"{uni:.4f}"
            a, b = (f"**{a}**", b) if nmp > uni else (a, f"**{b}**") if uni > nmp else (a, b)
            cells.append(f"{a} / {b}")
        metric = "accuracy" if kind == "classification" else "R2"
        lines.append(f"| {task} ({metric}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs, path):
    """Score against bytes (log axis), one panel per task, one colour per family."""
    plot_score_against_bytes(runs, path, x="size_bytes", xlabel="model_size_bytes_",
                             line_family="nmp_size")


def write_report(runs, output, max_train, seeds):
    front = frontier(runs)
    goals = targets(front, runs)
    wide = front.assign(cell=[f"{s:.4f} ± {d:.4f} ({c}, {b:,.0f} B)" for s, d, c, b in
                              zip(front.score, front.spread.fillna(0), front.config, front.bytes)])
    table = wide.pivot_table(index=["task", "size"], columns="family", values="cell",
                             aggfunc="first", sort=False).reset_index().fillna("does not fit")
    text = ("# Accuracy per byte\n\n"
            f"{max_train} training rows, {seeds} seeds, test rows as in `benchmarks/tasks.py`. "
            "At each size, each family's best configuration whose bytes are at most that size "
            "on every seed: mean score ± spread over seeds (configuration, mean bytes).\n\n"
            + markdown_table(table, list(table.columns))
            + "\n\n## Targets\n\n"
            "`spread` is the larger of the two seed spreads (std over seeds, each seed its own "
            "split); `paired_spread` is the std over seeds of the difference on the same "
            "split, and `paired_above` asks whether the mean difference exceeds it. For the "
            "4 KB rows `margin` is in points of accuracy or % of R2.\n\n"
            + markdown_table(goals.round(4), list(goals.columns)) + "\n")
    trees = pd.DataFrame([row for family in NMP_BUDGET_FAMILIES if family in set(runs.family)
                          for row in tree_targets(front, runs, SIZES, family)])
    if not trees.empty:
        text += ("\n## Against trees\n\n`paired_difference`: NMP-QAT's mean score minus "
                 "the tree family's on the same splits, with its std over seeds; for the last "
                 "row of a task, the largest drop of the mean score from one size budget to "
                 "the next (0 when none). `nmp_size`: the defaults at each size budget; "
                 "`nmp_cv`: the penalty chosen by 3-fold cross-validation.\n\n"
                 + markdown_table(trees.round(4), list(trees.columns)) + "\n")
    (output / "bytes.md").write_text(text)
    front.round(4).to_csv(output / "bytes_frontier.csv", index=False)
    plot(runs, output / "bytes_frontier.png")
    return front, goals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=6000)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from bytes_runs.csv")
    parser.add_argument("--resume", action="store_true",
                        help="keep the fits bytes_runs.csv already holds")
    parser.add_argument("--refit", default=None,
                        help="families to fit again (e.g. nmp_size), the others kept")
    parser.add_argument("--families", default=None, help="fit only these families")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    log = args.output / "bytes_runs.csv"
    done = pd.read_csv(log) if (args.resume or args.refit or args.report_only) else None
    families = args.families.split(",") if args.families else None
    if args.refit:
        families = args.refit.split(",")
        done = done[~done.family.isin(families)]
    runs = done if args.report_only else run(
        args.tasks.split(","), args.seeds, args.max_train, args.jobs, log=log,
        families=families, done=done)
    write_report(runs, args.output, args.max_train, args.seeds)


if __name__ == "__main__":
    main()
