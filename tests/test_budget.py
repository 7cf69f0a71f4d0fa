"""The budget projection and the multiplier controller."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skqat._qat.budget import BudgetMultiplier, project_to_budget

CANDS = (1, 2, 4, 8)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), budget=st.floats(0.0, 8.0), prune=st.booleans())
def test_projection_meets_budget_and_only_lowers(data, budget, prune):
    # With pruning, the hidden layers have a 0-bit candidate and the last does not.
    n_layers = data.draw(st.integers(1, 3))
    cands = [(0, *CANDS) if prune and i < n_layers - 1 else CANDS for i in range(n_layers)]
    levels, weights, errors = [], [], []
    for c in cands:
        n, k = data.draw(st.integers(1, 12)), len(c)
        levels.append(np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n,
                                                  max_size=n))))
        weights.append(np.array(data.draw(st.lists(st.integers(1, 50), min_size=n,
                                                   max_size=n)), dtype=float))
        err = np.sort(np.array(data.draw(st.lists(st.floats(0, 1), min_size=k * n,
                                                   max_size=k * n))).reshape(n, k), axis=1)
        errors.append(err[:, ::-1].copy())  # more bits, less error
    total = sum(w.sum() for w in weights)
    lowest = sum(w.sum() * c[0] for w, c in zip(weights, cands)) / total
    new = project_to_budget(levels, cands, weights, errors, budget)
    mean = sum((w * np.array(c, dtype=float)[lv]).sum()
               for w, c, lv in zip(weights, cands, new)) / total
    assert mean <= max(budget, lowest) + 1e-9
    assert all((a <= b).all() for a, b in zip(new, levels))


def test_projection_lowers_the_least_harmful_neuron_first():
    levels = [np.array([1, 1])]
    errors = [np.array([[0.5, 0.0, 0, 0], [0.01, 0.0, 0, 0]])]
    new = project_to_budget(levels, [CANDS], [np.ones(2)], errors, 1.5)
    assert new[0].tolist() == [1, 0]


def test_multiplier_rises_while_over_budget_and_decays_after():
    m = BudgetMultiplier(2.0)
    for _ in range(20):
        m.update(3.0)
    high = m.value
    assert high > m.floor
    for _ in range(20):
        m.update(1.0)
    assert m.value < high
    none = BudgetMultiplier(None)
    none.update(100.0)
    assert none.value == 0.0
