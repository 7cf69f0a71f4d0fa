"""Per-neuron fields of the integer graph: bits before and after the narrower multipliers.

The requantization multiplier keeps ``GUARD_BITS`` bits below each neuron's
largest result (``skqat.runtime._fixed_point``). Training never sees it, so the
same fitted model is exported twice, at 12 guard bits (before) and at 4 (what
ships): on each task (seed 0, 6,000 training rows), NMP-QAT at
``size_budget=1024`` (its default width, "auto"), the defaults, and uniform QAT
at 8 and 4 bits. Written: each export's bytes and test score, and the mean
bits per neuron of each stored field (pair index, shift, multiplier, bias).

Usage::

    python -m benchmarks.lean_fields --output benchmarks/results
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from skqat import NMPQATClassifier, NMPQATRegressor
from skqat.runtime import _fixed_point as fp
from skqat.runtime._layer import metadata_widths

from .report import markdown_table
from .tasks import TASKS, load_split

GUARDS = (12, 4)
FIELDS = ("index", "shift", "multiplier", "bias")


CONFIGS = {"size_1024": dict(size_budget=1024),
           "defaults": {},
           "w8_x32": dict(hidden_layer_sizes=(32,), weight_bits=(8,), activation_bits=(8,)),
           "w4_x64": dict(hidden_layer_sizes=(64,), weight_bits=(4,), activation_bits=(8,))}


def _score(graph, split):
    pred = graph.predict(split.X_test)
    if split.kind == "classification":
        return float(np.mean(pred == split.y_test))
    y = split.y_test
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def measure(task):
    """Rows of one task: each configuration exported at every guard width."""
    split = load_split(task, 0, 6000, 4000)
    classify = split.kind == "classification"
    rows = []
    for name, params in CONFIGS.items():
        est = (NMPQATClassifier if classify else NMPQATRegressor)(random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(split.X_train, split.y_train)
        for guard in GUARDS:
            saved, fp.GUARD_BITS = fp.GUARD_BITS, guard
            try:
                graph = est.to_integer()
            finally:
                fp.GUARD_BITS = saved
            n = sum(layer.n_out for layer in graph.layers)
            bits = np.sum([np.array(metadata_widths(layer)[3]) * layer.n_out
                           for layer in graph.layers], axis=0) / n
            rows.append({"task": task, "config": name, "guard_bits": guard, "neurons": n,
                         "bytes": graph.theoretical_size_bytes(), "score": _score(graph, split),
                         **{f"{f}_bits": b for f, b in zip(FIELDS, bits)},
                         "field_bits": float(bits.sum())})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = pd.DataFrame([row for task in TASKS for row in measure(task)])
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / "lean_fields.csv", index=False)
    columns = ["task", "config", "guard_bits", "neurons", "bytes", "score",
               *[f"{f}_bits" for f in FIELDS], "field_bits"]
    text = ("# Per-neuron fields\n\nSeed 0, 6,000 training rows. Each fitted model exported "
            "with 12 guard bits in its multipliers and with 4 (what the package writes); `*_bits`: mean "
            "bits per neuron of each stored field. Written by "
            "`python -m benchmarks.lean_fields`.\n\n" + markdown_table(runs, columns))
    (args.output / "lean_fields.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
