"""Larger than memory: ``dask_ml``'s ``Incremental`` over about 2 million KPI rows.

The rows come from :func:`skqat.datasets.make_cellular_kpis`, generated
chunk by chunk inside the dask graph (a different seed per chunk, so a
different set of cells) and never all in memory. A preprocessor (imputation
with indicators, one-hot bands) is fitted on a 100,000-row sample, then
applied per chunk; ``Incremental(NMPQATRegressor(...))`` makes one pass of
``partial_fit`` over the chunks. It is compared with the same regressor
fitted on the sample for as many epochs as the stream has chunks (the same
number of optimizer steps), both scored (R2) on 50,000 held-out rows of
unseen cells. The stream also runs on a quarter of the chunks: its peak
memory must not grow with the number of rows. Each configuration runs in a
fresh process, so its peak resident memory is its own. Run from the
repository root::

    python -m benchmarks.dask_incremental --output benchmarks/results

Writes ``dask_incremental.csv`` and ``dask_incremental.md`` under ``--output``.
"""

import argparse
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .measure import in_fresh_process

SAMPLE_SEED, TEST_SEED = 10_000, 20_000


def _estimator(max_iter):
    from skqat import NMPQATRegressor

    return NMPQATRegressor(hidden_layer_sizes=(64, 64), bit_budget=2.0,
                           activation_bit_budget=6.0, max_iter=max_iter, random_state=0)


def _rows(n_rows, seed, prep):
    from skqat.datasets import make_cellular_kpis

    kpis = make_cellular_kpis(n_rows, random_state=seed)
    return (np.asarray(prep.transform(kpis.data), dtype=np.float64),
            kpis.target.to_numpy(dtype=np.float64))


def _child(mode, n_chunks, chunk_rows, test_rows):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score

    from skqat.datasets import make_cellular_kpis
    from skqat.preprocessing import make_tabular_preprocessor

    warnings.simplefilter("ignore", ConvergenceWarning)
    prep = make_tabular_preprocessor().fit(make_cellular_kpis(chunk_rows,
                                                              random_state=SAMPLE_SEED).data)
    X_test, y_test = _rows(test_rows, TEST_SEED, prep)
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if mode == "incremental":
        import dask
        import dask.array as da
        from dask_ml.wrappers import Incremental

        n_features = X_test.shape[1]
        chunks = [dask.delayed(_rows, nout=2)(chunk_rows, seed, prep) for seed in range(n_chunks)]
        X = da.concatenate([da.from_delayed(x, (chunk_rows, n_features), np.float64)
                            for x, _ in chunks])
        y = da.concatenate([da.from_delayed(t, (chunk_rows,), np.float64) for _, t in chunks])
        model = Incremental(_estimator(1), shuffle_blocks=False)
        with dask.config.set(scheduler="synchronous"):
            model.fit(X, y)
        est, rows_seen = model.estimator_, n_chunks * chunk_rows
    else:
        X, y = _rows(chunk_rows, SAMPLE_SEED, prep)
        est, rows_seen = _estimator(n_chunks).fit(X, y), chunk_rows
    fit_s = time.perf_counter() - t0
    return {
        "mode": mode, "rows": rows_seen, "chunk_rows": chunk_rows, "chunks": n_chunks,
        "features": int(X_test.shape[1]), "samples_seen": int(est.t_),
        "dense_float64_mib": rows_seen * X_test.shape[1] * 8 / 2**20,
        "peak_rss_before_fit_mib": before_kib / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "fit_s": fit_s, "test_r2": float(r2_score(y_test, est.predict(X_test))),
        "mean_weight_bits": est.mean_weight_bits_,
        "mean_activation_bits": est.mean_activation_bits_,
    }


def main(argv=None):
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--test-rows", type=int, default=50_000)
    args = parser.parse_args(argv)
    rows = []
    for mode, chunks in (("incremental", args.chunks), ("incremental", max(1, args.chunks // 4)),
                         ("sample", args.chunks)):
        rows.append(in_fresh_process(_child, mode, chunks, args.chunk_rows, args.test_rows))
        print(rows[-1], flush=True)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(Path(args.output) / "dask_incremental.csv", index=False)
    (Path(args.output) / "dask_incremental.md").write_text(markdown(table))
    return table


def markdown(table):
    """The benchmark's table as Markdown."""
    lines = ["| training | rows | as dense float64 | peak resident memory (process) | fit time | test R2 "
             "| weight bits | activation bits |", "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        what = (f"Incremental, {r.chunks} chunks of {r.chunk_rows:,}" if r.mode == "incremental"
                else f"fit on a {r.rows:,}-row sample, {r.chunks} epochs")
        lines.append(f"| {what} | {r.rows:,} | {r.dense_float64_mib:,.0f} MiB "
                     f"| {r.peak_rss_mib:,.0f} MiB | {r.fit_s:.0f} s | {r.test_r2:.3f} "
                     f"| {r.mean_weight_bits:.2f} | {r.mean_activation_bits:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
