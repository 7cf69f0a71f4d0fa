"""The training-step profile benchmark: its timer, its operation counts and its table."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skqat._qat import layers, ste

step_profile = pytest.importorskip("benchmarks.step_profile")
ROOT = Path(__file__).resolve().parents[1]


def test_timer_gives_each_part_its_own_time_and_ignores_calls_outside_a_step():
    ticks = itertools.count()
    timer = step_profile.Timer(clock=lambda: float(next(ticks)))
    inner = timer(lambda: None, "levels: checks")          # 1 tick of its own
    middle = timer(lambda: inner(), "dense layers, forward")  # 3 ticks, 1 of them inner's
    step = timer(lambda: middle(), step_profile.STEP)

    inner()  # outside a step: not timed, and takes no tick
    step()
    step()
    assert timer.steps == 2
    assert dict(timer.seconds) == {"levels: checks": 2.0, "dense layers, forward": 4.0,
                                   step_profile.REST: 4.0}


def test_scopes_wrap_every_part_and_restore_the_originals():
    seen = []
    originals = {(owner, attr): owner.__dict__[attr] for owner, attr, _ in step_profile.SCOPES}

    def wrap(function, name):
        seen.append(name)
        return lambda *args, **kwargs: name

    with step_profile.scopes(wrap):
        # An autograd function's backward stays a static method the engine can call.
        assert isinstance(ste.QuantLinearFunction.__dict__["backward"], staticmethod)
        assert ste.QuantLinearFunction.backward(None, None) == "dense layers, backward"
        assert layers.QuantReLU(3, (2,), True, 0.1, True).forward(None) == "activations, forward"
    assert seen == [name for *_, name in step_profile.SCOPES]
    for owner, attr, _ in step_profile.SCOPES:
        assert owner.__dict__[attr] is originals[(owner, attr)]


def test_profile_of_a_short_fit_attributes_time_and_operations_to_the_parts():
    X, y = step_profile.load_shape("small")
    forward = layers.QuantLinear.__dict__["forward"]
    rows = {m: step_profile.profile_fit(m, X[:400], y[:400], (8,), 1, 1)
            for m in ("skqat_float", "nmp_b2_a6")}
    for method, fit in rows.items():
        assert [r["part"] for r in fit] == step_profile.PARTS
        assert all(r["steps"] == 2 for r in fit)  # 400 rows in batches of 200
        assert sum(r["share"] for r in fit) == pytest.approx(1.0)
        assert all(r["us_per_step"] >= 0 for r in fit)
    ops = {m: {r["part"]: r["ops_per_step"] for r in fit} for m, fit in rows.items()}
    # The float network has no quantizer: its layers are one operation each way,
    # and its backward is autograd's; the learned bits write theirs out.
    assert ops["skqat_float"]["dense layers, backward"] == 0
    assert ops["nmp_b2_a6"]["dense layers, backward"] > 0
    assert ops["nmp_b2_a6"]["dense layers, forward"] > ops["skqat_float"]["dense layers, forward"]
    # The first step builds every layer's levels: numpy writes into the layer's
    # own tensors, which takes time and dispatches no tensor operation.
    us = {m: {r["part"]: r["us_per_step"] for r in fit} for m, fit in rows.items()}
    assert us["nmp_b2_a6"]["levels: rebuilds"] > 0
    assert ops["nmp_b2_a6"]["levels: rebuilds"] == 0
    assert layers.QuantLinear.__dict__["forward"] is forward  # the scopes undone

    table = pd.DataFrame(
        [{"shape": "small", "n_rows": 400, "n_features": 13, "hidden": "(8,)",
          "batch_size": 200, **r} for fit in rows.values() for r in fit])
    text = step_profile.markdown(table)
    assert "| part | skqat_float | nmp_b2_a6 |" in text
    assert text.count("| **whole step** |") == 1
    assert np.isfinite(table[["us_per_step", "share", "ops_per_step"]].to_numpy()).all()


# Tensor operations dispatched from Python per training step, over one epoch
# (10 steps) on the small shape, with one hidden layer and with three: today's
# counts (44.2, 81.1 and 87.5; 73.4, 152.7 and 164.5: the strengths' step with
# one batch's noise takes about 14 operations on one batch in four, and each
# layer's workspace one operation once per fit: 0.7 per step in the deep
# network's 10 steps), with a little room.
# Counts do not depend on the machine's speed, so a change that dispatches more
# fails here, where a timing would only be noise.
OPERATION_BUDGET = {((100,), "skqat_float"): 46, ((100,), "uniform_w2_a8"): 82,
                    ((100,), "nmp_b2_a6"): 88, ((32, 32, 32), "skqat_float"): 76,
                    ((32, 32, 32), "uniform_w2_a8"): 153, ((32, 32, 32), "nmp_b2_a6"): 166}


@pytest.mark.parametrize("hidden, method", sorted(OPERATION_BUDGET))
def test_a_training_step_dispatches_no_more_operations_than_its_budget(hidden, method):
    X, y = step_profile.load_shape("small")
    fit = step_profile.profile_fit(method, X[:2000], y[:2000], hidden, 1, 1)
    assert fit[0]["steps"] == 10
    ops = sum(r["ops_per_step"] for r in fit)
    assert ops <= OPERATION_BUDGET[hidden, method], (hidden, method, ops)


def test_the_committed_profile_meets_the_operation_targets():
    table = pd.read_csv(ROOT / "benchmarks/results/step_profile.csv")
    ops = table.groupby(["shape", "method"]).ops_per_step.sum()
    for (shape, method), most in step_profile.OPERATION_TARGETS.items():
        assert ops[shape, method] <= most, (shape, method, ops[shape, method])
    text = (ROOT / "benchmarks/results/step_profile.md").read_text()
    assert "| small: nmp_b2_a6 at most 110 operations per step |" in text


def test_readme_training_speed_figures_are_those_of_the_committed_runs():
    results = ROOT / "benchmarks/results"
    readme = " ".join((ROOT / "README.md").read_text().split())
    steps = pd.read_csv(results / "step_cost.csv").set_index(["shape", "method"])
    medium = steps.loc[("medium", "nmp_b2_a6"), "vs_skqat_float"]
    assert f"a step costs {medium:.1f}x a float step (`make bench-steps`" in readme
    ratio = pd.read_csv(results / "fit_time.csv").ratio
    assert (f"take {ratio.min():.1f} to {ratio.max():.1f}x the time of scikit-learn's MLP "
            "(`benchmarks/results/fit_time.md`" in readme)
    profile = (results / "step_profile.md").read_text()
    assert profile.count("| **whole step** |") == 2  # both shapes profiled


def test_docs_profile_figures_are_those_of_the_committed_profile():
    table = pd.read_csv(ROOT / "benchmarks/results/step_profile.csv")
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    ops = table.groupby(["shape", "method"]).ops_per_step.sum().round().astype(int)
    assert (f"dispatches {ops[('small', 'nmp_b2_a6')]} tensor operations against the float "
            f"step's {ops[('small', 'skqat_float')]}") in page
    part = table.set_index(["shape", "method", "part"])
    dense = sum(part.loc[("medium", "nmp_b2_a6", f"dense layers, {d}"), "us_per_step"]
                for d in ("forward", "backward"))
    assert f"forward and backward take {dense / 1e3:.1f} ms" in page
    us = part.us_per_step
    engine = us[("small", "skqat_float", "backward: autograd engine and loss")]
    loss = us[("small", "nmp_b2_a6", "loss and its gradient")]
    chain = us[("small", "nmp_b2_a6", "backward: chaining the layers")]
    assert (f"the float step spends {engine:.0f} us on the small table in autograd's engine "
            f"and the loss, the learned-bits step spends {loss:.0f} us on the loss and its "
            f"gradient and {chain:.0f} us chaining the layers") in page
    levels = sum(part.loc[("medium", "nmp_b2_a6", f"levels: {d}"), "us_per_step"]
                 for d in ("checks", "rebuilds"))
    assert f"The levels take {levels / 1e3:.1f} ms" in page
    # The rest of the part-by-part reading.
    total = table.groupby(["shape", "method"]).us_per_step.sum()
    assert (f"({100 * levels / total['medium', 'nmp_b2_a6']:.0f}%)") in page
    assert f"and uniform QAT's {ops[('small', 'uniform_w2_a8')]}, on" in page
    host = sum(us[("small", "nmp_b2_a6", p)] for p in ("budget penalty gradients",
                                                       "budget controllers",
                                                       "levels: checks", "levels: rebuilds"))
    ratio = total["small", "nmp_b2_a6"] / total["small", "uniform_w2_a8"]
    assert (f"and {host:.0f} us a step together. The learned-bits step is {ratio:.1f}x "
            "uniform QAT's") in page
    assert round(total["medium", "nmp_b2_a6"] / total["medium", "skqat_float"]) == 2  # about 2x
    float_forward = us[("medium", "skqat_float", "dense layers, forward")]
    float_engine = us[("medium", "skqat_float", "backward: autograd engine and loss")]
    assert (f"against the float layers' {float_forward / 1e3:.1f} ms forward (and a share of "
            f"autograd's {float_engine / 1e3:.1f} ms backward)") in page
    acts = sum(us[("medium", "nmp_b2_a6", f"activations, {d}")] for d in ("forward", "backward"))
    relu = us[("medium", "skqat_float", "activations, forward")]
    assert f"add {acts / 1e3:.1f} ms against a float ReLU's {relu / 1e3:.1f} ms" in page
    uniform = part.loc["medium", "uniform_w2_a8"]
    assert (f"Its quantizer is {uniform.ops_per_step['dense layers, forward']:.0f} operations "
            f"forward and {uniform.ops_per_step['dense layers, backward']:.0f} backward over 4 "
            f"layers: {uniform.us_per_step['dense layers, forward'] / 1e3:.1f} ms forward and "
            f"{uniform.us_per_step['dense layers, backward'] / 1e3:.1f} ms backward against "
            f"float's {float_forward / 1e3:.1f} ms and its share of autograd's "
            f"{float_engine / 1e3:.1f} ms") in page
