"""Streams that shift: ``partial_fit`` on time-ordered blocks, scored on the future.

Four generated streams, each fed block by block in time order for several
passes, the held-out R2 recorded after every pass:

* ``service``: shaped like a service-mesh KPI stream. 30 blocks of 1,000
  rows; the first 9 are an idle window (the target, a p95 latency, is
  exactly 0 and two counters are constant 0); then the load ramps up and
  the latency's spread narrows. Scored on the next 6,000 rows (the future
  of the ramp). ``(64, 64)``, ``bit_budget=2``, ``activation_bit_budget=6``,
  5 passes.
* ``quiet_first``: ``X ~ N(0, 1)``, 2,000 rows in blocks of 100, target
  ``2 x0 + x1``; in the first pass only, the very first block's target is
  the constant 5,000 (a quiet window logged in other units). ``(16,)``,
  20 passes, scored on 2,000 fresh rows.
* ``other_units``: the same stream whose first block (first pass only) is
  in other units: ``1000 y + 5000``, not constant.
* ``stationary``: the same stream without the quiet block (the control).

Models: ``skqat_raw`` (NMPQATRegressor on the raw blocks), ``skqat_float``
(``quantize=False`` on blocks pre-scaled by a StandardScaler fitted in
advance on every training row) and ``mlp`` (scikit-learn's MLPRegressor on
the same pre-scaled blocks), the same widths; and ``skqat_raw`` again at
other ``statistics_halflife`` values (``halflife_<rows>``, ``none``: never
forget), which chose its default. Writes ``stream_shift.csv``
(one row per stream, model, seed and pass) and ``stream_shift.md``. Run
from the repository root::

    python -m benchmarks.stream_shift --output benchmarks/results
"""

import argparse
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from skqat import NMPQATRegressor

from .report import markdown_table


@dataclass
class BlockStream:
    """Time-ordered training blocks and the rows to score on.

    Attributes
    ----------
    blocks : list of (ndarray, ndarray)
        ``(X, y)`` of each block, in time order, for every pass.
    first_block : (ndarray, ndarray) or None
        What the very first block of the first pass is instead (None: the
        first of ``blocks``).
    X_test, y_test : ndarray
        The rows scored after every pass.
    params : dict
        The estimators' shared parameters (widths, budgets).
    passes : int
    """

    blocks: list
    first_block: tuple
    X_test: np.ndarray
    y_test: np.ndarray
    params: dict
    passes: int

    def training_rows(self):
        """Every training row of a pass, stacked (what a scaler fitted in advance sees)."""
        return np.vstack([X for X, _ in self.blocks])


def service_stream(seed, *, n_blocks=30, block_rows=1000, idle_blocks=9, test_rows=6000):
    """The service-mesh-shaped stream (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = n_blocks * block_rows + test_rows
    t = np.arange(n) / (n_blocks * block_rows)   # 0 to 1 over the training rows
    idle = np.arange(n) < idle_blocks * block_rows
    # Load ramps up after the idle window, then settles (the future is the plateau).
    ramp = np.clip((t - idle_blocks / n_blocks) / (1 - idle_blocks / n_blocks), 0, 1)
    load = np.where(idle, 0.0, 0.1 + 0.75 * np.sqrt(ramp))
    load = load * (1 + 0.1 * rng.standard_normal(n)).clip(0.5, 1.5)
    requests = np.where(idle, 0.0, rng.poisson(800 * load))           # constant when idle
    connections = np.where(idle, 0.0, rng.poisson(40 * load))         # constant when idle
    cpu = 3 + 90 * load + rng.normal(0, 2, n)
    memory_mb = 1800 + 600 * load + rng.normal(0, 40, n)
    payload_kb = rng.lognormal(2, 0.5, n)
    retries = rng.poisson(0.5 + 4 * load)
    upstream_ms = rng.gamma(4, 2 + 3 * load)
    X = np.column_stack([requests, connections, cpu, memory_mb, payload_kb, retries,
                         upstream_ms, rng.normal(0, 1, n)])
    # Latency: queueing grows with utilisation; the noise of a cold start narrows as the
    # caches warm up, so the future's spread is narrower than the ramp's.
    util = np.clip(cpu / 130, 0, 0.9)
    spread = 1.5 - 1.2 * np.clip(ramp, 0, 1)
    latency = (30 + 10 * util / (1 - util) + 0.5 * upstream_ms + 2 * np.log1p(payload_kb)
               + 3 * retries + spread * rng.normal(0, 8, n))
    y = np.where(idle, 0.0, latency)
    rows = np.arange(n_blocks * block_rows)
    blocks = [(X[b], y[b]) for b in np.array_split(rows, n_blocks)]
    return BlockStream(blocks=blocks, first_block=None, X_test=X[rows.size:],
                       y_test=y[rows.size:], passes=5,
                       params=dict(hidden_layer_sizes=(64, 64), bit_budget=2.0,
                                   activation_bit_budget=6.0))


def linear_stream(seed, *, first="normal"):
    """The ``2 x0 + x1`` stream; ``first``: "normal", "quiet" or "other_units" (see above)."""
    rng = np.random.default_rng(seed)
    X, X_test = rng.standard_normal((2000, 5)), rng.standard_normal((2000, 5))
    y, y_test = 2 * X[:, 0] + X[:, 1], 2 * X_test[:, 0] + X_test[:, 1]
    blocks = [(X[b], y[b]) for b in np.array_split(np.arange(2000), 20)]
    X0, y0 = blocks[0]
    first = {"normal": None, "quiet": (X0, np.full(len(y0), 5000.0)),
             "other_units": (X0, 1000 * y0 + 5000)}[first]
    return BlockStream(blocks=blocks, first_block=first, X_test=X_test, y_test=y_test,
                       passes=20, params=dict(hidden_layer_sizes=(16,)))


STREAMS = {"service": service_stream,
           "quiet_first": lambda seed: linear_stream(seed, first="quiet"),
           "other_units": lambda seed: linear_stream(seed, first="other_units"),
           "stationary": lambda seed: linear_stream(seed, first="normal")}
HALFLIVES = {"none": None, "halflife_2000": 2000, "halflife_20000": 20000}


def _models(stream, seed):
    params = stream.params
    return {
        "skqat_raw": (NMPQATRegressor(random_state=seed, **params), None),
        **{f"skqat_raw_{name}": (NMPQATRegressor(random_state=seed, statistics_halflife=h,
                                                 **params), None)
           for name, h in HALFLIVES.items()},
        "skqat_float": (NMPQATRegressor(random_state=seed, quantize=False,
                                        hidden_layer_sizes=params["hidden_layer_sizes"]),
                        StandardScaler().fit(stream.training_rows())),
        "mlp": (MLPRegressor(hidden_layer_sizes=params["hidden_layer_sizes"],
                             random_state=seed),
                StandardScaler().fit(stream.training_rows())),
    }


def run_stream(stream, model, scaler):
    """Held-out R2 after each pass of ``model.partial_fit`` over the stream's blocks."""
    def scaled(X):
        return X if scaler is None else scaler.transform(X)

    scores = []
    for n_pass in range(stream.passes):
        for i, (X, y) in enumerate(stream.blocks):
            if n_pass == 0 and i == 0 and stream.first_block is not None:
                X, y = stream.first_block
            model.partial_fit(scaled(X), y)
        scores.append(float(model.score(scaled(stream.X_test), stream.y_test)))
    return scores


def run(seeds, streams=tuple(STREAMS), log=print):
    """One row per stream, model, seed and pass."""
    rows = []
    for name in streams:
        for seed in range(seeds):
            stream = STREAMS[name](seed)
            for model_name, (model, scaler) in _models(stream, seed).items():
                for n_pass, r2 in enumerate(run_stream(stream, model, scaler), start=1):
                    rows.append({"stream": name, "model": model_name, "seed": seed,
                                 "pass": n_pass, "r2": r2})
                log(f"{name} {model_name} seed {seed}: "
                    + " ".join(f"{r['r2']:.3f}" for r in rows[-stream.passes:]))
    return pd.DataFrame(rows)


def summarize(runs):
    """Mean R2 per stream, model and pass over seeds, as one column per model."""
    mean = runs.groupby(["stream", "pass", "model"])["r2"].mean().unstack("model")
    return mean.reset_index()


def check_targets(runs):
    """The stream targets, each with its measured number and whether it is met."""
    out = []
    last = runs[runs["pass"] == runs.groupby("stream")["pass"].transform("max")]
    final = last.groupby(["stream", "model"])["r2"].mean()
    raw, mlp = final["service", "skqat_raw"], final["service", "mlp"]
    out.append({"target": "service: skqat raw within 0.1 of the pre-scaled MLP after the "
                          "last pass",
                "measured": f"{raw:.3f} vs {mlp:.3f}", "met": bool(raw >= mlp - 0.1)})
    for name in STREAMS:
        per_seed = runs[(runs.stream == name) & (runs.model == "skqat_raw")].pivot(
            index="seed", columns="pass", values="r2")
        worst = float(per_seed.diff(axis=1).min().min())
        out.append({"target": f"{name}: skqat raw never more than 0.3 below the previous pass",
                    "measured": f"largest drop {-worst:.3f}", "met": bool(worst >= -0.3)})
    normal = final["stationary", "skqat_raw"]
    for name in ("quiet_first", "other_units"):
        first = final[name, "skqat_raw"]
        out.append({"target": f"{name}: within 0.1 of the normal start after the last pass",
                    "measured": f"{first:.3f} vs {normal:.3f}",
                    "met": bool(first >= normal - 0.1)})
    default, never = final["stationary", "skqat_raw"], final["stationary", "skqat_raw_none"]
    out.append({"target": "stationary: the default forgetting within 0.02 of never forgetting",
                "measured": f"{default:.3f} vs {never:.3f}", "met": bool(default >= never - 0.02)})
    return pd.DataFrame(out)


def main(argv=None):
    """Run the streams; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)  # the first blocks' constant columns
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    runs = run(args.seeds)
    runs.to_csv(out / "stream_shift.csv", index=False)
    table, targets = summarize(runs), check_targets(runs)
    targets["met"] = targets["met"].map({True: "yes", False: "no"})
    (out / "stream_shift.md").write_text(
        "# Streams that shift\n\nHeld-out R2 after each pass of `partial_fit` over the "
        f"time-ordered blocks, mean over {args.seeds} seeds. Written by "
        "`python -m benchmarks.stream_shift`.\n\n" + markdown_table(table, list(table.columns))
        + "\nTargets.\n\n" + markdown_table(targets, list(targets.columns)))
    return runs


if __name__ == "__main__":
    main()
