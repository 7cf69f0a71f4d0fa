"""FPGA logic of fitted models: LUTs and latency by da4ml, and bit-exact runs in Verilator.

On each task of :mod:`benchmarks.tasks` (seed 0, 6,000 training rows, 2,000
test rows), the default estimator and four size-budgeted ones (256, 512,
1,024 and 2,048 bytes). For each fitted model's integer graph:

* its score on the test rows, hidden width and model-file bytes;
* da4ml's estimate of the logic (:meth:`IntegerMLP.resource_report` with
  ``fpga=True``): LUTs, adders, the delay through it, and, pipelined at
  ``--latency-cutoff``, the clock cycles from input to output and the
  flip-flops of the registers;
* the Verilog of both designs (combinational and pipelined) built with
  Verilator and run on every test row: the rows whose outputs or label differ
  from :class:`IntegerMLP` (``mismatched_rows``, 0 when bit-exact), the
  build time, and the same count for da4ml's emulation.

No vendor synthesis or timing closure is run: LUTs are da4ml's estimate.
Usage::

    python -m benchmarks.fpga --output benchmarks/results
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from skqat import NMPQATClassifier, NMPQATRegressor

from .report import markdown_table
from .tasks import TASKS, load_split

def mismatched_rows(result, graph, codes):
    """Rows whose integer outputs or label differ from the graph's."""
    outputs = graph.forward_codes(codes)
    bad = (result.outputs != outputs).any(axis=1)
    if graph.task == "multiclass":
        bad |= result.labels != outputs.argmax(1)
    elif graph.task == "binary":
        bad |= result.labels != (outputs[:, 0] > 0)
    elif graph.task == "multilabel":
        bad |= (result.labels != (outputs > 0)).any(axis=1)
    return int(bad.sum())


def measure(split, budget, latency_cutoff, work, max_iter=200):
    """One row: a model fitted at ``budget`` (None: the defaults) and its logic."""
    classify = split.kind == "classification"
    est = (NMPQATClassifier if classify else NMPQATRegressor)(size_budget=budget,
                                                              max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(split.X_train, split.y_train)
    graph = est.to_integer()
    codes = graph.quantize_input(split.X_test)
    row = dict(task=split.name, size_budget=budget or 0, score=est.score(split.X_test,
                                                                          split.y_test),
               hidden=int(sum(graph.layer_sizes[1:-1])),
               model_bytes=int(graph.theoretical_size_bytes()), test_rows=len(codes))
    for design, cutoff in (("comb", None), ("piped", latency_cutoff)):
        export = graph.to_verilog(Path(work) / f"{split.name}_{budget}_{design}",
                                  latency_cutoff=cutoff)
        start = time.perf_counter()
        export.build()
        row[f"{design}_build_s"] = time.perf_counter() - start
        row[f"{design}_mismatched_rows"] = mismatched_rows(export.simulate(codes), graph, codes)
        if design == "comb":
            row["emulated_mismatched_rows"] = mismatched_rows(export.emulate(codes), graph,
                                                              codes)
            est_c = export.estimate
            row.update(luts=est_c.luts, adders=est_c.adders, clips=est_c.clips,
                       depth=est_c.depth, input_bits=est_c.input_bits,
                       output_bits=est_c.output_bits)
        else:
            row.update(latency_cycles=export.estimate.latency_cycles,
                       register_bits=export.estimate.register_bits)
    return row


def markdown(table, latency_cutoff):
    """The results page: one table, and whether every row ran bit-exact."""
    exact = int(table[["comb_mismatched_rows", "piped_mismatched_rows",
                       "emulated_mismatched_rows"]].to_numpy().sum())
    view = table.assign(budget=table.size_budget.map(lambda b: f"{b:,} B" if b else "default"))
    cols = {"task": "task", "budget": "budget", "score": "test score", "hidden": "hidden",
            "model_bytes": "model bytes", "luts": "LUTs (est.)", "adders": "adders",
            "depth": "delay", "latency_cycles": f"cycles at {latency_cutoff:g}",
            "register_bits": "register bits", "comb_build_s": "build s",
            "comb_mismatched_rows": "comb. mismatches", "piped_mismatched_rows":
            "piped mismatches", "test_rows": "test rows"}
    lines = ["# FPGA logic of fitted models\n",
             "da4ml's Verilog of each fitted model's integer graph (seed 0, 6,000 training "
             "rows), built with Verilator and run on every test row. LUTs and delay are "
             "da4ml's estimates (no vendor synthesis or timing closure); `cycles` and "
             f"`register bits` are for the design pipelined at a latency cutoff of "
             f"{latency_cutoff:g}. Mismatches: test rows whose integer outputs or label "
             "differ from `IntegerMLP`. Written by `python -m benchmarks.fpga`.\n",
             markdown_table(view.rename(columns=cols), list(cols.values())),
             f"Rows that differ, over all models, both designs and da4ml's emulation: "
             f"**{exact}** of {3 * int(table.test_rows.sum()):,}."]
    return "\n".join(lines) + "\n"


def page_table(table):
    """The benchmarks page's table (a test keeps the page equal to ``fpga.csv``)."""
    lines = ["| task | model | test score | LUTs (est.) | delay | cycles | flip-flops "
             "| test rows bit-exact in Verilator |", "|---" * 8 + "|"]
    for r in table.itertuples():
        model = f"{r.size_budget:,} B" if r.size_budget else "default"
        exact = r.test_rows - max(r.comb_mismatched_rows, r.piped_mismatched_rows)
        lines.append(f"| {r.task} | {model} | {r.score:.3f} | {r.luts:,} | {r.depth:g} | "
                     f"{r.latency_cycles} | {r.register_bits:,} | {exact:,} of "
                     f"{r.test_rows:,} |")
    return "\n".join(lines)


def main(argv=None):
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--budgets", default="0,256,512,1024,2048",
                        help="bytes; 0: the defaults")
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--latency-cutoff", type=float, default=5.0)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in [t for t in args.tasks.split(",") if t]:
            split = load_split(name, 0, 6000, 2000, args.data_home)
            for budget in [int(b) or None for b in args.budgets.split(",")]:
                rows.append(measure(split, budget, args.latency_cutoff, work, args.max_iter))
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    args.output.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output / "fpga.csv", index=False)
    (args.output / "fpga.md").write_text(markdown(table, args.latency_cutoff))


if __name__ == "__main__":
    main()
