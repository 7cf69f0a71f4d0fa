"""Plots of fitted models and searches (needs the optional matplotlib)."""

import numpy as np


__all__ = ["plot_bit_allocation", "plot_tradeoff"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install 'skqat[plot]' (or matplotlib)."
        ) from err
    return plt


def plot_bit_allocation(estimator, axes=None):
    """Bar charts of how many neurons of each layer use each bit-width.

    Left: weight bit-widths per dense layer; right: activation bit-widths per
    hidden layer. Bars are stacked by bit-width, so a bar's height is the
    layer's number of neurons.

    Parameters
    ----------
    estimator : NMPQATClassifier or NMPQATRegressor
        A fitted estimator.
    axes : sequence of two matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from skqat import NMPQATClassifier, plot_bit_allocation
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    >>> fig = plot_bit_allocation(clf.fit(X, y))
    >>> [ax.get_title() for ax in fig.axes]
    ['Weight bits per neuron', 'Activation bits per neuron']
    """
    plt = _pyplot()
    report = estimator.quantization_report()
    layers = report.drop(index=["input_output_steps", "total"])
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    else:
        fig = axes[0].figure
    for ax, prefix, title, rows in (
        (axes[0], "w", "Weight bits per neuron", layers),
        (axes[1], "a", "Activation bits per neuron", layers.drop(index="output")),
    ):
        cols = [c for c in report.columns if c[0] == prefix and c[1:].isdigit()]
        bottom = np.zeros(len(rows))
        colors = plt.cm.viridis(np.linspace(0.15, 0.9, max(len(cols), 1)))
        for col, color in zip(cols, colors):
            counts = rows[col].to_numpy(dtype=float)
            ax.bar(rows.index, counts, bottom=bottom, color=color, label=f"{col[1:]} bits")
            bottom += counts
        ax.set_title(title)
        ax.set_ylabel("neurons")
        if cols:
            ax.legend(fontsize="small")
    return fig


def plot_tradeoff(cv_results, score="score", size="weight_bits", group_by=None, chosen=None,
                  ax=None):
    """Score against model size for every candidate of a multi-metric search.

    Parameters
    ----------
    cv_results : dict
        ``search.cv_results_`` of a search whose ``scoring`` has the metrics
        ``score`` and ``size`` (see :mod:`skqat.model_selection`).
    score, size : str, default="score", "weight_bits"
        Metric names: the y axis (with its standard deviation over folds as
        error bars) and the x axis.
    group_by : str or None, default=None
        A parameter name (e.g. ``"est__activation_bit_budget"``): one line per value.
    chosen : int or None, default=None
        Index of the chosen candidate (``search.best_index_``), circled.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> results = {"mean_test_score": [0.8, 0.9], "std_test_score": [0.01, 0.02],
    ...            "mean_test_weight_bits": [1.0, 2.0]}
    >>> plot_tradeoff(results, chosen=1).axes[0].get_xlabel()
    'mean test weight_bits'
    """
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    else:
        fig = ax.figure
    x = np.asarray(cv_results[f"mean_test_{size}"], dtype=float)
    y = np.asarray(cv_results[f"mean_test_{score}"], dtype=float)
    err = np.asarray(cv_results.get(f"std_test_{score}", np.zeros_like(y)), dtype=float)
    groups = (np.asarray(cv_results[f"param_{group_by}"], dtype=object) if group_by
              else np.full(len(x), None, dtype=object))
    for value in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == value) if value is not None else np.arange(len(x))
        idx = idx[np.argsort(x[idx])]
        label = None if group_by is None else f"{group_by.split('__')[-1]} = {value}"
        ax.errorbar(x[idx], y[idx], yerr=err[idx], marker="o", capsize=3, label=label)
    if chosen is not None:
        ax.scatter([x[chosen]], [y[chosen]], s=260, facecolors="none", edgecolors="crimson",
                   linewidths=2, zorder=5, label="chosen")
    ax.set_xlabel(f"mean test {size}")
    ax.set_ylabel(f"mean test {score}")
    ax.grid(alpha=0.3)
    if group_by is not None or chosen is not None:
        ax.legend(fontsize="small")
    return fig
