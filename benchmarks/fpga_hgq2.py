"""The per-weight reference on FPGAs: HGQ2 models through the same da4ml flow, at equal LUTs.

HGQ2 (Keras 3, here on its torch backend) learns a bit-width for every weight
and activation, with a resource penalty ``beta`` on its estimated bit
operations. On the splits of :mod:`benchmarks.fpga` (seed 0, 6,000 training
rows, 2,000 test rows), one hidden layer of ``--width`` neurons is trained
for ``--epochs`` at each ``beta`` of ``--betas`` (Adam at 3e-3, batches of
128, standardized inputs; classifiers with softmax cross-entropy, regressors
with the squared error of the standardized target). Each model is traced by
da4ml (``da4ml.converter.trace_model``, HGQ2's own plugin) and priced by the
same estimate as skqat's (``CombLogic.cost``, LUTs), then set against the
skqat models of ``fpga.csv`` at equal LUTs: for each skqat model, the best
HGQ2 model that needs no more LUTs, and for each HGQ2 model, the best skqat
model that needs no more.

Not counted on HGQ2's side: the arg-max of a classifier (skqat's logic
includes its class port). Needs ``pip install hgq2 keras``; not part of CI.
Usage::

    python -m benchmarks.fpga_hgq2 --output benchmarks/results
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder, StandardScaler

from .report import markdown_table
from .tasks import TASKS, load_split


def fit_hgq2(split, beta, width, epochs):
    """One HGQ2 model at ``beta``: its test score and da4ml's LUT estimate."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is first imported
    import keras
    from da4ml.converter import trace_model
    from da4ml.trace import comb_trace
    from hgq.config import LayerConfigScope, QuantizerConfigScope
    from hgq.layers import QDense

    scaler = StandardScaler().fit(split.X_train)
    X_train = scaler.transform(split.X_train).astype("float32")
    X_test = scaler.transform(split.X_test).astype("float32")
    classify = split.kind == "classification"
    if classify:
        labels = LabelEncoder().fit(split.y_train)
        y_train, n_out = labels.transform(split.y_train), len(labels.classes_)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        mean, std = split.y_train.mean(), split.y_train.std()
        y_train, n_out, loss = ((split.y_train - mean) / std).astype("float32"), 1, "mse"
    keras.utils.set_random_seed(0)
    with (QuantizerConfigScope(place="all", default_q_type="kbi", overflow_mode="SAT_SYM"),
          QuantizerConfigScope(place="datalane", default_q_type="kif", overflow_mode="WRAP"),
          LayerConfigScope(enable_ebops=True, beta0=beta)):
        model = keras.Sequential([keras.Input((X_train.shape[1],)),
                                  QDense(width, activation="relu"), QDense(n_out)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    start = time.perf_counter()
    model.fit(X_train, y_train, epochs=epochs, batch_size=128, verbose=0)
    seconds = time.perf_counter() - start
    out = model.predict(X_test, verbose=0)
    if classify:
        score = accuracy_score(split.y_test, labels.inverse_transform(out.argmax(1)))
    else:
        score = r2_score(split.y_test, out[:, 0] * std + mean)
    inputs, outputs = trace_model(model)
    logic = comb_trace(inputs, outputs)
    return dict(task=split.name, beta=beta, width=width, epochs=epochs, score=score,
                luts=int(round(logic.cost)), depth=float(logic.latency[1]), fit_s=seconds)


def at_equal_luts(ours, theirs):
    """Each model of one family against the best of the other within its LUTs."""
    rows = []
    theirs = theirs[theirs.task.isin(ours.task)]
    for family, mine, other in (("skqat", ours, theirs), ("hgq2", theirs, ours)):
        for r in mine.itertuples():
            within = other[(other.task == r.task) & (other.luts <= r.luts)]
            best = within.score.max() if len(within) else np.nan
            rows.append(dict(task=r.task, family=family, luts=r.luts, score=r.score,
                             other_best_within=best, ahead=r.score - best))
    return pd.DataFrame(rows)


def markdown(hgq2, paired, epochs, width):
    """The page: HGQ2's models, then both families at equal LUTs."""
    lines = ["# skqat against HGQ2 at equal LUTs\n",
             f"HGQ2 (one hidden layer of {width}, {epochs} epochs, one resource penalty "
             "`beta` per row) and the skqat models of `fpga.md`, both priced by da4ml's "
             "LUT estimate of their logic. Written by `python -m benchmarks.fpga_hgq2`.\n",
             markdown_table(hgq2, ["task", "beta", "score", "luts", "depth", "fit_s"]),
             "Each model against the best model of the other family that needs no more "
             "LUTs (`ahead` > 0: this model scores higher; empty: none fits).\n",
             markdown_table(paired, ["task", "family", "luts", "score", "other_best_within",
                                     "ahead"])]
    return "\n".join(lines) + "\n"


def page_table(paired):
    """The benchmarks page's summary (a test keeps the page equal to the committed CSV)."""
    lines = ["| task | skqat models ahead of HGQ2 within their LUTs | HGQ2 models ahead of "
             "skqat within theirs |", "|---|---|---|"]
    for task, rows in paired.groupby("task", sort=False):
        cells = []
        for family in ("skqat", "hgq2"):
            mine = rows[(rows.family == family) & rows.other_best_within.notna()]
            cells.append(f"{int((mine.ahead > 0).sum())} of {len(mine)}")
        lines.append(f"| {task} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def page_notes(fpga, hgq2):
    """The figures the benchmarks page quotes, in its words (a test keeps them equal)."""
    small = fpga[fpga.size_budget == fpga.size_budget[fpga.size_budget > 0].min()]
    least = hgq2.loc[hgq2.groupby("task").luts.idxmin()]
    worst = least.loc[(least.score - least.task.map(small.set_index("task").score)).idxmin()]
    ours = small.set_index("task").loc[worst.task]
    return (f"Its smallest models ({int(ours.size_budget)} B) need {small.luts.min():,} to "
            f"{small.luts.max():,} LUTs, while HGQ2's smallest need {least.luts.min():,} to "
            f"{least.luts.max():,}, at a cost in score: on {worst.task}, {worst.score:.3f} at "
            f"{worst.luts:,} LUTs against skqat's {ours.score:.3f} at {int(ours.luts):,}. "
            f"skqat's logic is also deeper: a delay of {fpga.depth.min():g} to "
            f"{fpga.depth.max():g} against HGQ2's {hgq2.depth.min():g} to "
            f"{hgq2.depth.max():g}")


def main(argv=None):
    """Run the comparison; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--betas", default="1e-6,1e-5,1e-4,3e-4")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--pair-only", action="store_true",
                        help="reuse fpga_hgq2.csv; pair it with a newer fpga.csv")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    if not args.pair_only:
        torch.set_num_threads(1)
        rows = []
        for name in [t for t in args.tasks.split(",") if t]:
            split = load_split(name, 0, 6000, 2000, args.data_home)
            for beta in [float(b) for b in args.betas.split(",")]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rows.append(fit_hgq2(split, beta, args.width, args.epochs))
                print(rows[-1], flush=True)
        pd.DataFrame(rows).to_csv(args.output / "fpga_hgq2.csv", index=False)
    hgq2 = pd.read_csv(args.output / "fpga_hgq2.csv")
    ours = pd.read_csv(args.output / "fpga.csv")  # written by benchmarks.fpga
    paired = at_equal_luts(ours, hgq2)
    paired.to_csv(args.output / "fpga_hgq2_paired.csv", index=False)
    epochs, width = int(hgq2.epochs.iloc[0]), int(hgq2.width.iloc[0])
    (args.output / "fpga_hgq2.md").write_text(markdown(hgq2, paired, epochs, width))


if __name__ == "__main__":
    main()
