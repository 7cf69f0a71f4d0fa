"""Aggregation over seeds, the targets check, the Markdown summary and the plots."""

from pathlib import Path

import numpy as np
import pandas as pd

from .methods import method_table

QUALITY = {"classification": ("accuracy", "macro_f1"), "regression": ("mse", "r2")}
MEANS = ["weight_bits", "activation_bits", "size_bytes", "compression", "fit_s", "epoch_s",
         "epoch_ratio", "torch_rows_s", "integer_rows_s", "mlp_rows_s", "integer_vs_mlp",
         "file_bytes", "file_ratio", "peak_rss_mb"]


def aggregate(runs):
    """Mean (and std over seeds, for quality) per task and method, in method order."""
    order = {m: i for i, m in enumerate(method_table())}
    rows = []
    for (task, method), g in runs.groupby(["task", "method"], sort=False):
        row = {"task": task, "kind": g["kind"].iloc[0], "method": method,
               "family": g["family"].iloc[0], "seeds": len(g)}
        for metric in QUALITY[row["kind"]]:
            row[metric] = g[metric].mean()
            row[metric + "_std"] = g[metric].std(ddof=1) if len(g) > 1 else 0.0
        for col in MEANS:
            if col in g:
                row[col] = g[col].mean()
        rows.append(row)
    out = pd.DataFrame(rows)
    out["_order"] = out["method"].map(order)
    return out.sort_values(["task", "_order"], kind="stable").drop(columns="_order")


def _get(summary, task, method, col):
    hit = summary[(summary.task == task) & (summary.method == method)]
    return float(hit[col].iloc[0]) if len(hit) and col in hit else np.nan


def check_targets(summary, cost, memory):
    """The issue's four targets, each with its measured number and whether it is met."""
    out = []

    def add(target, measured, met):
        out.append({"target": target, "measured": measured, "met": bool(met)})

    for task in summary.task.unique():
        kind = summary[summary.task == task].kind.iloc[0]
        score = "accuracy" if kind == "classification" else "r2"
        nmp = _get(summary, task, "nmp_b2_a8", score)
        ref = _get(summary, task, "skqat_float", score)
        if kind == "classification":
            gap = 100 * (ref - nmp)
            add(f"{task}: NMP-QAT b=2 within 0.5 points of float", f"{gap:+.2f} points below", gap <= 0.5)
        else:
            rel = (ref - nmp) / abs(ref) if ref else np.nan
            add(f"{task}: NMP-QAT b=2 within 2% of float R2", f"{100 * rel:+.1f}% below", rel <= 0.02)
        for other in ("uniform_w2", "layer_b2_a8"):
            o, o_std = _get(summary, task, other, score), _get(summary, task, other, score + "_std")
            add(f"{task}: NMP-QAT b=2 not below {other} by more than 1 std",
                f"{nmp:.4f} vs {o:.4f} (std {o_std:.4f})", nmp >= o - o_std)
    if cost is not None:
        ratio = dict(zip(cost.method, cost.epoch_ratio))
        for m, limit in (("nmp_b2_a8", 1.3), ("nmp_bnone_anone", 1.3), ("uniform_w2", 1.15)):
            add(f"training cost: {m} epoch <= {limit}x float", f"{ratio[m]:.2f}x", ratio[m] <= limit)
    quantized = summary[summary.method.str.startswith("nmp_b2_")]
    if len(quantized):
        speed = float(np.nanmean(quantized.integer_vs_mlp))
        add("inference: integer graph at least as fast as MLP predict", f"{speed:.2f}x", speed >= 1)
        ratio = float(np.nanmax(summary.file_ratio))
        add("model file <= bits / 8 + 5 B per neuron + 8 B per input + 64 B",
            f"{ratio:.3f}x the bound (worst row)", ratio <= 1)
    if memory is not None:
        add(f"memory: fit on {memory['rows']:,} x {memory['features']} Covertype under 2 GB",
            f"{memory['peak_rss_mb']:.0f} MB", memory["peak_rss_mb"] < 2048)
    return out


def _fmt(v, digits=4):
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if abs(v) >= 1e3:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def paired_difference(runs, task, mine, theirs):
    """Configuration ``mine`` minus ``theirs`` on the same splits (seeds): mean, std, pairs."""
    at = runs[runs.task == task]
    a = at[at.config == mine].set_index("seed").score
    b = at[at.config == theirs].set_index("seed").score
    diff = (a - b).dropna()
    return diff.mean(), diff.std(), len(diff)


def markdown_table(df, columns):
    """``df``'s ``columns`` as a Markdown table, numbers to 4 significant digits."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(_fmt(r[c]) for c in columns) + " |\n"
                          for _, r in df.iterrows())


_HEADLINE_LABELS = {"covertype": "covertype (accuracy)", "yt_qoe": "yt_qoe (accuracy)",
                  "ucc_5g": "ucc_5g (R2, trace split)", "california": "california (R2)"}


def headline_table(summary):
    """The benchmarks page's table at 2 bits, from ``summary.csv`` (a test keeps them equal)."""
    lines = ["| task | sklearn MLP | skqat float | uniform 2-bit | layer-level, budget 2 | "
             "NMP-QAT, budget 2 |", "|---|---|---|---|---|---|"]
    for task, label in _HEADLINE_LABELS.items():
        part = summary[summary.task == task].set_index("method")
        score = QUALITY[part.kind.iloc[0]][1 if part.kind.iloc[0] == "regression" else 0]
        nmp, layer = part.loc["nmp_b2_a8"], part.loc["layer_b2_a8"]
        # The best of the three 2-bit columns in bold (every one that rounds to it).
        best = f"{max(part.loc[m, score] for m in ('uniform_w2', 'layer_b2_a8', 'nmp_b2_a8')):.3f}"
        mark = lambda v: f"**{v:.3f}**" if f"{v:.3f}" == best else f"{v:.3f}"  # noqa: E731
        cells = [f"{part.loc[m, score]:.3f}" for m in ("sklearn_mlp", "skqat_float")]
        cells.append(mark(part.loc["uniform_w2", score]))
        cells.append(f"{mark(layer[score])} ({layer.weight_bits:.2f} b)")
        cells.append(f"{mark(nmp[score])} ({nmp.weight_bits:.2f} b, {nmp.size_bytes:,.0f} B, "
                     f"{nmp.compression:.1f}x)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(meta, summary, cost, memory, targets):
    """The summary page: settings, targets, one table per task, cost and memory."""
    m, s = meta["machine"], meta["settings"]
    lines = [
        "# skqat benchmark results\n",
        f"- Date: {meta['date']}; elapsed {meta['elapsed_s']:.0f} s",
        f"- Command: `{meta['command']}`",
        f"- Machine: {m['cpu_cores']} cores ({m['torch_threads']} torch threads), "
        f"Python {m['python']}, torch {m['torch']}, scikit-learn {m['scikit-learn']}, "
        f"numpy {m['numpy']}; {m['platform']}",
        f"- Every method: hidden layers {tuple(s['hidden'])}, {s['epochs']} epochs, batch 200, "
        f"Adam; {s['seeds']} seed(s) (split and initialization); at most {s['max_train']:,} "
        f"training and {s['max_test']:,} test rows per task.",
        "- Speed columns are ratios to baselines of the same run: `epoch_ratio` against the "
        "skqat float reference's epoch, `integer_vs_mlp` against scikit-learn's `predict`.\n",
        "## Targets\n",
        "| target | measured | met |\n|---|---|---|",
    ]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |"
              for t in targets]
    for task in summary.task.unique():
        part = summary[summary.task == task]
        kind = part.kind.iloc[0]
        q = QUALITY[kind]
        cols = ["method", q[0], q[0] + "_std", q[1], q[1] + "_std", "weight_bits",
                "activation_bits", "size_bytes", "compression", "fit_s", "epoch_ratio",
                "torch_rows_s", "integer_rows_s", "mlp_rows_s", "peak_rss_mb"]
        lines += [f"\n## {task} ({kind}, {int(part.seeds.max())} seed(s))\n", markdown_table(part, cols)]
    if cost is not None:
        lines += ["\n## Training cost (Covertype, interleaved rounds, median epoch)\n",
                  markdown_table(cost, ["method", "hidden", "n_train", "batch_size", "epoch_s",
                                "epoch_ratio"])]
    if memory is not None:
        lines += ["\n## Memory\n",
                  f"NMP-QAT (`bit_budget=2`, hidden {memory['hidden']}, {memory['epochs']} epochs) "
                  f"on {memory['rows']:,} x {memory['features']} Covertype rows: peak resident "
                  f"set {memory['peak_rss_mb']:.0f} MB, fit {memory['fit_s']:.1f} s.\n"]
    lines += ["\n![Score against mean weight bits](frontier.png)\n",
              "![Bit allocation per layer](bit_allocation.png)\n"]
    return "\n".join(lines)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_frontier(summary, path):
    """Accuracy (or R2) against mean weight bits, one panel per task, one line per family."""
    plt = _pyplot()
    tasks = list(summary.task.unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = summary[summary.task == task]
        score = "accuracy" if part.kind.iloc[0] == "classification" else "r2"
        for family, g in part.groupby("family", sort=False):
            if g.weight_bits.max() >= 32:  # float rows: a reference line
                ax.axhline(g[score].iloc[0], ls="--", lw=1, label=family,
                           color="grey" if "sklearn" in family else "black")
                continue
            g = g.sort_values("weight_bits")
            ax.errorbar(g.weight_bits, g[score], yerr=g[score + "_std"], marker="o",
                        ms=4, capsize=2, label=family)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("mean weight bits")
        ax.set_ylabel(score)
        ax.set_title(task)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_allocation(allocations, path):
    """Neurons per weight bit-width in each layer, NMP-QAT at ``bit_budget=2``, one panel per task."""
    plt = _pyplot()
    tasks = list(allocations) or ["(none)"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        if task not in allocations:
            ax.set_axis_off()
            continue
        layers = allocations[task]["weight_bits"]
        bits = sorted({b for layer in layers for b in layer})
        bottom = np.zeros(len(layers))
        names = [f"hidden {i + 1}" for i in range(len(layers) - 1)] + ["output"]
        for b in bits:
            share = np.array([np.mean(np.asarray(layer) == b) for layer in layers])
            ax.bar(names, share, bottom=bottom, label=f"{b} bit")
            bottom += share
        ax.set_ylabel("share of neurons")
        ax.set_title(f"{task}: {allocations[task]['method']}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_score_against_bytes(runs, path, *, x, xlabel, line_family, depth=0.15):
    """Score against bytes (log axis), one panel per task, one colour per family.

    Each configuration is a point at its means over seeds; ``line_family``'s
    points are joined. ``depth`` sets how far below the best score the axis goes
    (a fraction of the best score, at least of 0.5).
    """
    import matplotlib.ticker

    plt = _pyplot()
    tasks = list(runs.task.unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        g = runs[runs.task == task]
        mean = g.groupby(["family", "config"]).agg(score=("score", "mean"),
                                                   size=(x, "mean")).reset_index()
        for family, f in mean.groupby("family"):
            f = f.sort_values("size")
            ax.plot(f["size"], f.score, "-o" if family == line_family else "o", label=family,
                    alpha=0.8, markersize=4)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("R2" if g.kind.iloc[0] == "regression" else "accuracy")
        top = mean.score.max()
        ax.set_ylim(top - depth * max(abs(top), 0.5), top + 0.01)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def best_within_sizes(per_config, sizes, *, limit, columns, budget_families=()):
    """At each size, each family's best configuration whose ``limit`` column fits it.

    Parameters
    ----------
    per_config : pandas.DataFrame
        One row per task, kind, family and configuration, with ``score``,
        ``limit`` (its largest bytes over the seeds) and ``budget``.
    sizes : list of int
    limit : str
    columns : list of str
        The columns each row of the result keeps, beside the configuration.
    budget_families : tuple of str
        Families fitted at each size's budget: only their fit at that budget counts.

    Returns
    -------
    pandas.DataFrame
        One row per task, size and family that fits.
    """
    rows = []
    for (task, kind), g in per_config.groupby(["task", "kind"], sort=False):
        for size in sizes:
            for family, f in g.groupby("family", sort=False):
                fits = f[f[limit] <= size]
                if family in budget_families:
                    fits = fits[fits.budget == size]
                if len(fits):
                    best = fits.loc[fits.score.idxmax()]
                    rows.append(dict(task=task, kind=kind, size=size, family=family,
                                     config=best.config, **{c: best[c] for c in columns}))
    return pd.DataFrame(rows)


def write_results(output, stem, table, text):
    """Write ``table`` as ``stem.csv`` and ``text`` as ``stem.md`` under ``output``; print it."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    table.to_csv(output / f"{stem}.csv", index=False)
    (output / f"{stem}.md").write_text(text)
    print(text)


def run_logged(fit_one, work, *, jobs, rows, log=None):
    """Run ``fit_one`` on every job in ``jobs`` processes; rows appended and logged as they end.

    Each finished row is printed and, with ``log``, the table so far written
    there, so that a long run can resume from what it has done.

    Returns
    -------
    pandas.DataFrame
        ``rows`` (the rows kept from before) and the new ones.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for future in as_completed([pool.submit(fit_one, job) for job in work]):
            rows.append(future.result())
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()},
                  flush=True)
            if log is not None:
                pd.DataFrame(rows).to_csv(log, index=False)
    return pd.DataFrame(rows)
