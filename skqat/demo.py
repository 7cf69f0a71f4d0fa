"""The main job: pick the smallest 5G throughput model that is good enough, and ship it.

Run ``python -m skqat.demo`` (or ``make demo``). Steps:

1. Data: the UCC 5G throughput traces from the data home (downloaded when
   missing and the network allows), else the synthetic
   :func:`~skqat.datasets.make_cellular_kpis`; it says which.
2. A ``Pipeline`` of :func:`~skqat.preprocessing.make_tabular_preprocessor`
   and :class:`~skqat.NMPQATRegressor`, searched by ``GridSearchCV`` over
   ``bit_budget`` and ``activation_bit_budget`` with folds grouped by trace,
   scoring R2 next to mean bits and model size.
3. The refit picks the smallest model whose R2 is within a tolerance of the
   best (:class:`~skqat.model_selection.smallest_within_tolerance`).
4. A printed trade-off table, the chosen model's R2 on held-out traces, and
   an output folder with the trade-off plot, the quantization report, the
   model file and the C export.
"""

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit
from sklearn.pipeline import Pipeline

from . import NMPQATRegressor
from .datasets import DatasetError, fetch_ucc_5g, make_cellular_kpis
from .model_selection import (mean_activation_bits_scorer, mean_weight_bits_scorer,
                              model_size_scorer, smallest_within_tolerance)
from .preprocessing import make_tabular_preprocessor

BIT_BUDGETS = [1.0, 1.5, 2.0, 3.0, None]
ACTIVATION_BUDGETS = [4.0, 8.0]


def load_data(max_rows=15000, random_state=0, data_home=None):
    """The 5G throughput data, or the synthetic KPIs when it is not available.

    Parameters
    ----------
    max_rows : int
        Rows kept (whole traces or cells, taken at random) to bound the run time.
    random_state : int
    data_home : str or None
        See :func:`skqat.datasets.get_data_home`.

    Returns
    -------
    (Bunch, str)
        The data (with ``groups``) and a line that says where it came from.
    """
    try:
        data = fetch_ucc_5g(data_home=data_home)
        source = "UCC 5G production traces (log1p of next-second downlink kbps)"
    except DatasetError as err:
        data = make_cellular_kpis(max_rows, random_state=random_state)
        source = f"synthetic cellular KPIs (make_cellular_kpis), because: {err}"
    rows = np.random.default_rng(random_state).permutation(len(data.target))[:max_rows]
    rows.sort()
    data.data = data.data.iloc[rows].reset_index(drop=True)
    data.target = data.target.iloc[rows].reset_index(drop=True)
    data.groups = np.asarray(data.groups)[rows]
    return data, source


def build_search(bit_budgets=BIT_BUDGETS, activation_budgets=ACTIVATION_BUDGETS,
                 hidden_layer_sizes=(32, 32), max_iter=10, cv=3, tolerance=0.02, n_jobs=2,
                 verbose=2, random_state=0):
    """The demo's search: preprocessing and regressor, grouped folds, smallest-within-tolerance.

    Parameters
    ----------
    bit_budgets, activation_budgets : list of float or None
        Values of ``bit_budget`` and ``activation_bit_budget`` to try.
    hidden_layer_sizes : tuple of int
    max_iter : int
        Epochs per fit.
    cv : int
        Number of folds, grouped (pass ``groups`` to ``fit``).
    tolerance : float
        R2 the refit may give up for a smaller model.
    n_jobs : int
    verbose : int
        2 prints a line per fitted candidate and fold.
    random_state : int

    Returns
    -------
    GridSearchCV

    Examples
    --------
    >>> from skqat.demo import build_search
    >>> sorted(build_search(bit_budgets=[2.0], activation_budgets=[8.0]).param_grid)
    ['model__activation_bit_budget', 'model__bit_budget']
    """
    pipeline = Pipeline([
        ("prep", make_tabular_preprocessor()),
        ("model", NMPQATRegressor(hidden_layer_sizes=hidden_layer_sizes, max_iter=max_iter,
                                  random_state=random_state)),
    ])
    return GridSearchCV(
        pipeline,
        {"model__bit_budget": list(bit_budgets),
         "model__activation_bit_budget": list(activation_budgets)},
        scoring={"r2": "r2", "weight_bits": mean_weight_bits_scorer,
                 "activation_bits": mean_activation_bits_scorer, "size": model_size_scorer},
        refit=smallest_within_tolerance(tolerance, score="r2", size="size"),
        cv=GroupKFold(cv), n_jobs=n_jobs, verbose=verbose,
    )


def tradeoff_table(search):
    """The search's trade-off as a DataFrame, one row per candidate, the chosen one marked."""
    res = search.cv_results_
    table = pd.DataFrame({
        "bit_budget": res["param_model__bit_budget"],
        "act_budget": res["param_model__activation_bit_budget"],
        "cv_r2": res["mean_test_r2"], "cv_r2_std": res["std_test_r2"],
        "weight_bits": res["mean_test_weight_bits"],
        "act_bits": res["mean_test_activation_bits"],
        "size_bytes": res["mean_test_size"],
    })
    table["chosen"] = np.where(np.arange(len(table)) == search.best_index_, "<==", "")
    return table


def write_artefacts(search, out_dir):
    """Trade-off plot (PNG), quantization report (CSV), model file and C export.

    Returns
    -------
    dict
        Name to path of everything written.
    """
    os.makedirs(out_dir, exist_ok=True)
    model = search.best_estimator_[-1]
    paths = {
        "tradeoff_csv": os.path.join(out_dir, "tradeoff.csv"),
        "report_csv": os.path.join(out_dir, "quantization_report.csv"),
        "model_file": os.path.join(out_dir, "model.skqat"),
        "c_dir": os.path.join(out_dir, "c"),
        "plot": os.path.join(out_dir, "tradeoff.png"),
    }
    tradeoff_table(search).to_csv(paths["tradeoff_csv"], index=False)
    model.quantization_report().to_csv(paths["report_csv"])
    graph = model.to_integer()
    graph.save(paths["model_file"])
    graph.export_c(paths["c_dir"])
    try:
        import matplotlib

        matplotlib.use("Agg")
        from .plotting import plot_tradeoff

        fig = plot_tradeoff(search.cv_results_, score="r2", size="weight_bits",
                            group_by="model__activation_bit_budget", chosen=search.best_index_)
        fig.axes[0].set_title("Cross-validated R2 against mean weight bits")
        fig.savefig(paths["plot"], dpi=120)
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'skqat[plot]').")
        del paths["plot"]
    return paths


def main(argv=None):
    """Run the demo; ``argv`` as on the command line (see ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m skqat.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default="demo_output")
    parser.add_argument("--max-rows", type=int, default=15000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help="a small grid and few rows (what the test suite runs)")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    t0 = time.perf_counter()

    max_rows = 3000 if args.quick else args.max_rows
    data, source = load_data(max_rows, data_home=args.data_home)
    print(f"Data: {source}; {len(data.target)} rows, {len(np.unique(data.groups))} groups.")
    train, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=0)
                       .split(data.data, data.target, data.groups))
    grid = (dict(bit_budgets=[1.0, 2.0], activation_budgets=[8.0], max_iter=3,
                 hidden_layer_sizes=(16,)) if args.quick else dict(max_iter=args.epochs))
    search = build_search(**grid)
    search.fit(data.data.iloc[train], data.target.iloc[train], groups=data.groups[train])

    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print("\nTrade-off (grouped CV; the refit takes the smallest model within "
              f"{search.refit.tolerance} R2 of the best):")
        print(tradeoff_table(search).to_string(index=False))
    model = search.best_estimator_
    test_r2 = model.score(data.data.iloc[test], data.target.iloc[test])
    print(f"\nChosen: {search.best_params_}; R2 on held-out groups {test_r2:.3f}, "
          f"{model[-1].mean_weight_bits_:.2f} weight bits, "
          f"{model[-1].mean_activation_bits_:.2f} activation bits, "
          f"{model[-1].model_size_bytes_} bytes.")
    paths = write_artefacts(search, args.output_dir)
    print("Wrote:", ", ".join(paths.values()))
    print(f"Done in {time.perf_counter() - t0:.0f} s.")
    return search, paths


if __name__ == "__main__":
    main()
