"""The main job: the best 5G throughput model that fits in 2 KB, and ship it.

Run ``python -m skqat.demo`` (or ``make demo``). Steps:

1. Data: the UCC 5G throughput traces from the data home (downloaded when
   missing and the network allows), else the synthetic
   :func:`~skqat.datasets.make_cellular_kpis`; it says which.
2. A ``Pipeline`` of :func:`~skqat.preprocessing.make_tabular_preprocessor`
   and :class:`~skqat.NMPQATRegressorCV`, which cross-validates
   ``size_budget`` (512 B, 1 KB, 2 KB) along one budget path per fold
   (folds grouped by trace), recording R2 next to mean bits and model size.
3. It keeps the smallest model whose R2 is within a tolerance of the best,
   refitted at its budget on all training rows: the best model that fits
   in 2 KB, or a smaller one that is as good.
4. A printed trade-off table, the chosen model's R2 on held-out traces, and
   an output folder with the trade-off plot, the quantization report, and
   the whole pipeline as one integer model (:func:`skqat.to_integer`): its
   model file, and its C for microcontrollers with a test program of
   held-out rows; the printed resource report gives its flash and RAM.
"""

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from sklearn.pipeline import Pipeline

from ._cv import NMPQATRegressorCV
from ._fold import to_integer
from .datasets import DatasetError, fetch_ucc_5g, make_cellular_kpis
from .preprocessing import make_tabular_preprocessor

SIZE_BUDGETS = [512, 1024, 2048]


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


def build_search(size_budgets=SIZE_BUDGETS, bit_budgets=None, activation_bit_budget=None,
                 hidden_layer_sizes=(32, 32), max_iter=10, cv=3, tolerance=0.02, n_jobs=2,
                 random_state=0):
    """The demo's model: preprocessing, then the budget chosen by grouped CV along the path.

    Parameters
    ----------
    size_budgets : list of int or None
        Size budgets (bytes) to choose from; None chooses along ``bit_budgets``.
    bit_budgets : list of float or None
        Weight budgets: one per size budget, or the path itself without sizes.
    activation_bit_budget : float or None
        One activation budget for every point (None: the price of a bit holds them).
    hidden_layer_sizes : tuple of int
    max_iter : int
        Epochs of each path's first fit.
    cv : int
        Number of folds, grouped (pass ``model__groups`` to ``fit``).
    tolerance : float
        R2 the choice may give up for a smaller model.
    n_jobs : int
        Folds in parallel.
    random_state : int

    Returns
    -------
    Pipeline
        Steps ``prep`` and ``model`` (an :class:`~skqat.NMPQATRegressorCV`).

    Examples
    --------
    >>> from skqat.demo import build_search
    >>> build_search(size_budgets=[1024])[-1].size_budgets
    [1024]
    """
    return Pipeline([
        ("prep", make_tabular_preprocessor()),
        ("model", NMPQATRegressorCV(
            bit_budgets=None if bit_budgets is None else list(bit_budgets),
            size_budgets=None if size_budgets is None else list(size_budgets),
            activation_bit_budgets=activation_bit_budget,
            cv=GroupKFold(cv), tolerance=tolerance, n_jobs=n_jobs,
            hidden_layer_sizes=hidden_layer_sizes, max_iter=max_iter,
            random_state=random_state)),
    ])


def tradeoff_table(search):
    """The trade-off as a DataFrame, one row per budget of the path, the chosen one marked."""
    model = search[-1]
    res = model.cv_results_
    table = pd.DataFrame({
        "size_budget": res["param_size_budget"],
        "bit_budget": res["param_bit_budget"],
        "act_budget": res["param_activation_bit_budget"],
        "cv_r2": res["mean_test_score"], "cv_r2_std": res["std_test_score"],
        "weight_bits": res["mean_test_weight_bits"],
        "act_bits": res["mean_test_activation_bits"],
        "size_bytes": res["mean_test_size"],
    })
    table["chosen"] = np.where(np.arange(len(table)) == model.best_index_, "<==", "")
    return table


def write_artefacts(search, out_dir, test_rows=None):
    """Trade-off plot (PNG), quantization report (CSV), model file and C export.

    The model file and the C carry the whole pipeline (:func:`skqat.to_integer`):
    they read the raw KPI columns.

    Parameters
    ----------
    search : Pipeline
        The fitted demo pipeline.
    out_dir : str
    test_rows : DataFrame or None
        Raw rows for the C test program (``c/skqat_model_test.c``).

    Returns
    -------
    dict
        Name to path of everything written.
    """
    os.makedirs(out_dir, exist_ok=True)
    model = search[-1]
    paths = {
        "tradeoff_csv": os.path.join(out_dir, "tradeoff.csv"),
        "report_csv": os.path.join(out_dir, "quantization_report.csv"),
        "model_file": os.path.join(out_dir, "model.skqat"),
        "c_dir": os.path.join(out_dir, "c"),
        "plot": os.path.join(out_dir, "tradeoff.png"),
    }
    tradeoff_table(search).to_csv(paths["tradeoff_csv"], index=False)
    model.quantization_report().to_csv(paths["report_csv"])
    graph = to_integer(search)
    graph.save(paths["model_file"])
    graph.export_c(paths["c_dir"], test_rows=test_rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        from .plotting import plot_tradeoff

        fig = plot_tradeoff(model.cv_results_, score="score", size="size",
                            chosen=model.best_index_)
        fig.axes[0].set_title("Cross-validated R2 against model bytes")
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
    settings = (dict(size_budgets=[512, 2048], max_iter=3, hidden_layer_sizes=(16,))
                if args.quick else dict(max_iter=args.epochs))
    search = build_search(**settings)
    search.fit(data.data.iloc[train], data.target.iloc[train], model__groups=data.groups[train])

    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print("\nTrade-off (grouped CV along the budget path; the choice is the smallest model "
              f"within {search[-1].tolerance} R2 of the best):")
        print(tradeoff_table(search).to_string(index=False))
    model = search[-1]
    test_r2 = search.score(data.data.iloc[test], data.target.iloc[test])
    print(f"\nChosen: size_budget={model.size_budget_} B; R2 on held-out groups {test_r2:.3f}, "
          f"{model.mean_weight_bits_:.2f} weight bits, "
          f"{model.mean_activation_bits_:.2f} activation bits, "
          f"{model.model_size_bytes_} bytes.")
    test_rows = data.data.iloc[test[:200]]
    paths = write_artefacts(search, args.output_dir, test_rows=test_rows)
    report = to_integer(search).resource_report()
    print(f"On a Cortex-M0 (C export): the integer entry adds {report.flash_bytes} B of flash "
          f"({report.table_bytes} B of tables), the float entries with the preprocessing "
          f"{report.float_entry_bytes} B more; {report.ram_bytes} B of RAM buffers, "
          f"{report.macs_per_row} multiply-accumulates per row, "
          f"{report.widest_accumulator_bits}-bit accumulators.")
    print("Wrote:", ", ".join(paths.values()))
    print(f"Done in {time.perf_counter() - t0:.0f} s.")
    return search, paths


if __name__ == "__main__":
    main()
