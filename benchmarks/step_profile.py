"""Where a training step's time goes: the profile behind the step-cost table.

The shapes, methods and settings of ``step_cost`` (batch 200, one thread,
the convergence stop off). Every part of the training step (the layers'
forward and backward passes, the checks and rebuilds of their levels, the
budget penalties, the optimizer, the bookkeeping) is wrapped in a named
scope, and each method is fitted twice:

* timed: each scope adds its own wall time (the parts inside it, such as a
  level check inside a layer's forward, count where they belong; what no
  part covers, the zeroing of the gradients, the L2 term, the loop and the
  float step's loss, is the rest), and of ``--rounds`` fits the one with
  the fastest step is kept; the wrappers cost about a microsecond each,
  some twenty per step;
* under torch's profiler, which only counts the tensor operations each part
  dispatches from Python (an operation that another one calls inside itself
  is not counted again; the profiler slows every dispatch down, so its
  times are not used).

Run from the repository root::

    SKQAT_DATA_HOME=../shared/data python -m benchmarks.step_profile --output benchmarks/results

Writes ``step_profile.csv`` (one row per shape, method and part) and
``step_profile.md``.
"""

import argparse
import contextlib
import functools
import time
import warnings
from collections import defaultdict
from pathlib import Path

import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from torch.profiler import ProfilerActivity, profile, record_function

from skqat._qat import layers, network, objectives, penalties, ste, tape, training
from skqat._qat.data import TrainData

from .step_cost import BATCH, SHAPES, load_shape, make

METHODS = ["skqat_float", "uniform_w2_a8", "nmp_b2_a6"]
# (shape, method): the most operations per step over a whole fit (the training-speed targets).
OPERATION_TARGETS = {("small", "nmp_b2_a6"): 110, ("medium", "nmp_b2_a6"): 200}
STEP = "training step"
REST = "rest of the step"
# (owner, attribute, part): what is wrapped in a named scope.
SCOPES = [
    (training._Trainer, "_step", STEP),
    (TrainData, "rows", "batch rows"),
    (layers.QuantLinear, "forward", "dense layers, forward"),
    (layers.QuantReLU, "forward", "activations, forward"),
    (torch.Tensor, "backward", "backward: autograd engine and loss"),
    (objectives.TaskLoss, "batch", "loss and its gradient"),
    (tape.Tape, "backward", "backward: chaining the layers"),
    (ste.QuantLinearFunction, "backward", "dense layers, backward"),
    (ste.QuantReLUFunction, "backward", "activations, backward"),
    (penalties.BitCosts, "add_gradients", "budget penalty gradients"),
    (training, "adam_step", "optimizer (Adam)"),
    (network.QuantMLP, "constrain_", "clamping strengths and steps"),
    (penalties.BitCosts, "update", "budget controllers"),
    (layers._LearnedBits, "levels", "levels: checks"),
    (layers, "build_levels", "levels: rebuilds"),
]
PARTS = [part for *_, part in SCOPES[1:]] + [REST]


@contextlib.contextmanager
def scopes(wrap):
    """Replace every callable of :data:`SCOPES` by ``wrap(callable, part)``, for the duration."""
    saved = [(owner, attr, owner.__dict__[attr]) for owner, attr, _ in SCOPES]
    try:
        for owner, attr, name in SCOPES:
            original = owner.__dict__[attr]
            if isinstance(original, staticmethod):  # an autograd function's backward
                setattr(owner, attr, staticmethod(wrap(original.__func__, name)))
            else:
                setattr(owner, attr, wrap(original, name))
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


class Timer:
    """Own wall time per part, inside training steps only (a wrapper for :func:`scopes`).

    Parameters
    ----------
    clock : callable, default=time.perf_counter
        Seconds, increasing.
    """

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.seconds = defaultdict(float)
        self.steps = 0
        self._inner = []  # per open scope: the time of the named parts inside it

    def __call__(self, function, name):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if name != STEP and not self._inner:  # outside a step: not this profile's
                return function(*args, **kwargs)
            self._inner.append(0.0)
            start = self.clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = self.clock() - start
                self.seconds[REST if name == STEP else name] += elapsed - self._inner.pop()
                if self._inner:
                    self._inner[-1] += elapsed
                else:
                    self.steps += 1
        return timed


def _recorded(function, name):
    @functools.wraps(function)
    def recorded(*args, **kwargs):
        with record_function(name):
            return function(*args, **kwargs)
    return recorded


def count_operations(events):
    """Tensor operations dispatched from Python per part, and the number of steps.

    Parameters
    ----------
    events : list of torch.autograd.profiler_util.FunctionEvent
        Of a fit run under :func:`scopes` with :func:`_recorded` scopes.
    """
    ops, steps = defaultdict(int), 0
    for event in events:
        steps += event.name == STEP
        if event.name.startswith("aten::"):
            owner = _owner(event)
            if owner is not None:
                ops[owner] += 1
    return ops, steps


def _owner(event):
    """The part an operation dispatched from Python belongs to, or None.

    None for an operation that another one calls, and for one outside the
    training steps (set-up, the epoch's checks, the projection, the export).
    """
    owner, parent = None, event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::") and owner is None:
            return None
        if parent.name == STEP:
            return owner or REST
        if owner is None and parent.name in PARTS:
            owner = parent.name
        parent = parent.cpu_parent
    return None


def _fit(method, X, y, hidden, epochs, wrap):
    est = make(method, hidden, epochs)
    with scopes(wrap):
        est.fit(X, y)


def profile_fit(method, X, y, hidden, epochs, rounds):
    """Rows of one method: each part's microseconds (timed) and operations (profiled) per step."""
    timers = []
    for _ in range(rounds):
        timers.append(Timer())
        _fit(method, X, y, hidden, epochs, timers[-1])
    timer = min(timers, key=lambda t: sum(t.seconds.values()) / t.steps)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _fit(method, X, y, hidden, epochs, _recorded)
    ops, steps = count_operations(prof.events())
    total = sum(timer.seconds.values())
    return [{"method": method, "part": part, "us_per_step": 1e6 * timer.seconds[part] / timer.steps,
             "share": timer.seconds[part] / total, "ops_per_step": ops[part] / steps,
             "steps": timer.steps} for part in PARTS]


def run(shapes, rounds, data_home=None, epochs=None, log=print):
    """The profile of every shape and method of :data:`METHODS`."""
    rows = []
    for shape in shapes:
        X, y = load_shape(shape, data_home)
        hidden, n_epochs = SHAPES[shape]["hidden"], epochs or SHAPES[shape]["epochs"]
        for method in METHODS:
            profile_fit(method, X[:400], y[:400], hidden, 1, 1)  # first-call costs left out
            fit_rows = profile_fit(method, X, y, hidden, n_epochs, rounds)
            for row in fit_rows:
                rows.append({"shape": shape, "n_rows": X.shape[0], "n_features": X.shape[1],
                             "hidden": str(hidden), "batch_size": BATCH, **row})
            total = sum(r["us_per_step"] for r in fit_rows)
            n_ops = sum(r["ops_per_step"] for r in fit_rows)
            log(f"{shape:6s} {method:22s} {total / 1e3:6.2f} ms per step, "
                f"{n_ops:5.0f} operations per step")
    return pd.DataFrame(rows)


def markdown(table):
    """Per shape, a row per part and a column per method: microseconds, share, operations."""
    lines = []
    for shape, block in table.groupby("shape", sort=False):
        first = block.iloc[0]
        methods = list(dict.fromkeys(block["method"]))
        lines += [f"**{shape}** ({first.n_rows:,} x {first.n_features}, {first.hidden}, "
                  f"batch {first.batch_size}): microseconds per step, share of the step, "
                  "tensor operations per step", "",
                  "| part | " + " | ".join(methods) + " |",
                  "|---|" + "---|" * len(methods)]
        cells = block.set_index(["part", "method"])
        for part in PARTS:
            values = [cells.loc[(part, m)] for m in methods]
            if all(v.ops_per_step < 0.05 and v.share < 0.0005 for v in values):
                continue
            lines.append(f"| {part} | " + " | ".join(
                f"{v.us_per_step:.0f} us, {v.share:.0%}, {v.ops_per_step:.0f}" for v in values)
                + " |")
        totals = block.groupby("method", sort=False)[["us_per_step", "ops_per_step"]].sum()
        lines.append("| **whole step** | " + " | ".join(
            f"**{totals.loc[m, 'us_per_step'] / 1e3:.2f} ms, {totals.loc[m, 'ops_per_step']:.0f}**"
            for m in methods) + " |")
        lines.append("")
    totals = table.groupby(["shape", "method"]).ops_per_step.sum()
    lines += ["| target | operations per step | met |", "|---|---|---|"]
    for (shape, method), most in OPERATION_TARGETS.items():
        if (shape, method) in totals.index:
            value = totals[shape, method]
            lines.append(f"| {shape}: {method} at most {most} operations per step | "
                         f"{value:.0f} | {'yes' if value <= most else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the profile; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/results")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None,
                        help="override every shape's epochs (a quick look)")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(1)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(1):
        table = run(args.shapes, args.rounds, args.data_home, args.epochs)
    table.to_csv(out / "step_profile.csv", index=False)
    (out / "step_profile.md").write_text(markdown(table))
    return table


if __name__ == "__main__":
    main()
