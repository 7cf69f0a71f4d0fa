"""The input clip: the same fits at two clips of the standardized inputs, paired by seed.

Four sets of fits, each run at every clip of ``--clips`` (the first is the
one compared against):

* ``bytes``: the size-budgeted defaults of the bytes benchmark
  (``bytes_frontier``'s ``nmp_size`` family, its splits of 6,000 training
  rows, 512 B to 4 KB);
* ``main``: the quantized methods of the main benchmark (``benchmarks.run``'s
  (64, 64) network, 15 epochs, 5,000 training rows and 3,000 test rows);
* ``stream``: ``partial_fit`` along the streams of ``stream_shift`` (whose
  first blocks mislead), the held-out R2 after the last pass;
* ``paper``: the quantized methods of ``paper_regime`` (Covertype, 4 x 512,
  100,000 training rows, 20 epochs; about 5 minutes a fit on one core).

Run from the repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.input_clip --output benchmarks/results

Writes ``input_clip/pairs.csv`` (one row per set, task, setting, seed and
clip; ``--sets`` refits some sets and keeps the file's rows of the others;
the ``paper`` rows leave ``size_bytes`` empty)
and ``input_clip/summary.md`` (the mean paired difference to the first
clip, its standard error, and the mean bits).
"""

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .bytes_frontier import _fit_one
from .measure import quality
from .methods import make_estimator
from .paper_regime import METHODS as PAPER_METHODS
from .paper_regime import run as paper_run
from .stream_shift import STREAMS, run_stream
from .tasks import TASKS, load_split

SIZES = (512, 1024, 2048, 4096)
MAIN_METHODS = ("uniform_w2", "layer_b2_a8", "nmp_b1.5_a8", "nmp_b2_a8", "nmp_bnone_a8",
                "nmp_bnone_anone")
MAIN = dict(max_train=5000, max_test=3000, hidden=(64, 64), epochs=15)
PAPER = dict(hidden=(512, 512, 512, 512), epochs=20, max_train=100_000)


def _bytes_fit(job):
    task, seed, size, clip = job
    row = _fit_one((task, seed, "nmp_size", f"size_{size}",
                    dict(size_budget=size, input_clip=clip), 6000, 4000))
    return dict(set="bytes", task=task, setting=f"size_{size}", seed=seed, clip=clip,
                score=row["score"], weight_bits=row["weight_bits"],
                activation_bits=row["activation_bits"], size_bytes=row["size_bytes"])


def _main_fit(job):
    task, seed, method, clip = job
    split = load_split(task, seed, MAIN["max_train"], MAIN["max_test"])
    est = make_estimator(method, split.kind, MAIN["hidden"], MAIN["epochs"], seed)
    est.set_params(input_clip=clip)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(split.X_train, split.y_train)
    scores = quality(split.kind, split.y_test, est.predict(split.X_test))
    return dict(set="main", task=task, setting=method, seed=seed, clip=clip,
                score=scores.get("accuracy", scores.get("r2")),
                weight_bits=est.mean_weight_bits_, activation_bits=est.mean_activation_bits_,
                size_bytes=est.model_size_bytes_)


def _stream_fit(job):
    name, seed, clip = job
    from skqat import NMPQATRegressor

    stream = STREAMS[name](seed)
    est = NMPQATRegressor(random_state=seed, input_clip=clip, **stream.params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = run_stream(stream, est, None)[-1]
    return dict(set="stream", task=name, setting="skqat_raw", seed=seed, clip=clip,
                score=score, weight_bits=est.mean_weight_bits_,
                activation_bits=est.mean_activation_bits_, size_bytes=est.model_size_bytes_)


def _paper_fit(job):
    method, seed, clip = job
    row, = paper_run([method], seed=seed, params=dict(input_clip=clip), **PAPER)
    return dict(set="paper", task="covertype", setting=method, seed=seed, clip=clip,
                score=row["accuracy"], weight_bits=row["mean_weight_bits"],
                activation_bits=row["mean_activation_bits"],
                size_bytes=np.nan)  # the regime's table keeps KiB (to 0.1) only


_FITS = {"bytes": _bytes_fit, "main": _main_fit, "stream": _stream_fit, "paper": _paper_fit}


def _one(args):
    kind, job = args
    with threadpool_limits(1):
        import torch

        torch.set_num_threads(1)
        return _FITS[kind](job)


def run(clips, seeds, main_seeds, jobs, sets=tuple(_FITS), tasks=TASKS, log=print,
        paper_seeds=1):
    """Every fit of ``sets`` at every clip: one row each."""
    work = [("bytes", (t, s, z, c)) for t in tasks for z in SIZES for s in range(seeds)
            for c in clips if "bytes" in sets]
    work += [("main", (t, s, m, c)) for t in tasks for m in MAIN_METHODS
             for s in range(main_seeds) for c in clips if "main" in sets]
    work += [("stream", (name, s, c)) for name in STREAMS for s in range(3) for c in clips
             if "stream" in sets]
    work += [("paper", (m, s, c)) for m in PAPER_METHODS if m != "float"
             for s in range(paper_seeds) for c in clips if "paper" in sets]
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        rows = []
        for i, row in enumerate(pool.map(_one, work), 1):
            rows.append(row)
            if i % 50 == 0 or i == len(work):
                log(f"[{time.perf_counter() - start:6.0f} s] {i} of {len(work)} fits")
    return pd.DataFrame(rows)


def paired(pairs, base_clip):
    """Per set and task, each clip's mean difference to ``base_clip`` on the same fits."""
    keys = ["set", "task", "setting", "seed"]
    clips = pairs["clip"]  # not pairs.clip: DataFrame.clip is a method
    base = pairs[clips == base_clip].set_index(keys)
    out = []
    for clip, rows in pairs[clips != base_clip].groupby("clip"):
        rows = rows.set_index(keys)
        diff = rows.score - base.score.loc[rows.index]
        bits = rows.weight_bits - base.weight_bits.loc[rows.index]
        act = rows.activation_bits - base.activation_bits.loc[rows.index]
        frame = pd.DataFrame({"diff": diff, "bits": bits, "act": act}).reset_index()
        for (set_, task), g in [*frame.groupby(["set", "task"]),
                                *[((s, "all"), g) for s, g in frame.groupby("set")]]:
            out.append(dict(set=set_, task=task, clip=clip, pairs=len(g),
                            difference=g["diff"].mean(),
                            standard_error=g["diff"].std() / np.sqrt(len(g)),
                            positive=int((g["diff"] > 0).sum()),
                            weight_bits=g.bits.mean(), activation_bits=g.act.mean()))
    return pd.DataFrame(out)


def write(pairs, output, base_clip):
    """``pairs.csv`` and ``summary.md`` under ``output/input_clip``."""
    folder = Path(output) / "input_clip"
    folder.mkdir(parents=True, exist_ok=True)
    # Whole bytes, left empty where a set has none (not 1017.0 beside NaN).
    pairs.assign(size_bytes=pairs["size_bytes"].round().astype("Int64")).to_csv(
        folder / "pairs.csv", index=False)
    table = paired(pairs, base_clip)
    lines = ["# The input clip", "",
             f"Test score at each clip minus the score at a clip of {base_clip:g} standard "
             "deviations, the same fit otherwise (paired by set, task, setting and seed): "
             "mean, standard error, pairs above 0, and the mean change of the weight and "
             "activation bits. `bytes`: the size-budgeted defaults of the bytes benchmark "
             "(512 B to 4 KB); `main`: the quantized methods of the main benchmark; `stream`: "
             "`partial_fit` along the streams of `stream_shift.md` (R2 after the last "
             "pass); `paper`: the quantized methods of `paper_regime.md` (Covertype, "
             "100,000 training rows, 4 x 512). Written by `python -m benchmarks.input_clip`.",
             "",
             "| set | task | clip | pairs | difference | standard error | above 0 "
             "| weight bits | activation bits |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.set} | {r.task} | {r.clip:g} | {r.pairs} | {r.difference:+.4f} "
                     f"| {r.standard_error:.4f} | {r.positive} | {r.weight_bits:+.3f} "
                     f"| {r.activation_bits:+.3f} |")
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    return table


def main(argv=None):
    """Run the sets; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", default="benchmarks/results")
    p.add_argument("--clips", nargs="+", type=float, default=[6.0, 3.0])
    p.add_argument("--seeds", type=int, default=6, help="seeds of the bytes set")
    p.add_argument("--main-seeds", type=int, default=4)
    p.add_argument("--paper-seeds", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--sets", nargs="+", choices=list(_FITS), default=list(_FITS))
    p.add_argument("--report-only", action="store_true",
                   help="rewrite summary.md from input_clip/pairs.csv")
    args = p.parse_args(argv)
    path = Path(args.output) / "input_clip" / "pairs.csv"
    kept = pd.read_csv(path) if path.exists() else None
    if args.report_only:
        pairs = kept
    else:
        pairs = run(args.clips, args.seeds, args.main_seeds, args.jobs, sets=args.sets,
                    paper_seeds=args.paper_seeds)
        if kept is not None:  # the rows of the sets not refitted
            pairs = pd.concat([kept[~kept["set"].isin(args.sets)], pairs], ignore_index=True)
    print(write(pairs, args.output, args.clips[0]).round(4).to_string())


if __name__ == "__main__":
    main()
