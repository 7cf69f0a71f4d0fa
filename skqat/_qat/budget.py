"""The bit budget: a multiplier controller during training, a projection after.

During training, the loss gets ``lambda * expected_mean_bits / max_bits``;
:class:`BudgetMultiplier` raises ``lambda`` while the hard bits exceed the
budget and lets it decay while they do not (multiplicatively, so it reaches the
scale of the task gradients whatever that scale is). At the end,
:func:`project_to_budget` lowers the neurons whose lower precision costs the
least, relative to the bits it saves, until the hard mean is within budget:
that step makes the budget a guarantee.
"""

import heapq

import numpy as np


class BudgetMultiplier:
    """Multiplicative controller of one Lagrange multiplier.

    Parameters
    ----------
    budget : float or None
        Largest allowed mean bit-width; None disables the controller.
    rate : float
        Relative change of the multiplier per update.
    floor : float
        Value the multiplier restarts from when the budget is first exceeded.
    """

    def __init__(self, budget, rate=0.1, floor=1e-2):
        self.budget = budget
        self.rate = rate
        self.floor = floor
        self.value = 0.0

    def update(self, mean_bits):
        """Adapt the multiplier to the current hard mean bit-width."""
        if self.budget is None:
            return
        if mean_bits > self.budget:
            self.value = max(self.value, self.floor) * (1.0 + self.rate)
        else:
            self.value *= 1.0 - self.rate
            if self.value < self.floor * 1e-3:
                self.value = 0.0


def project_to_budget(levels, candidates, weights, errors, budget):
    """Lower neuron levels greedily until the weighted mean bit-width fits a budget.

    Parameters
    ----------
    levels : list of ndarray of int
        Current level (index into ``candidates``) of every neuron, per layer.
    candidates : list of sequence of int
        Candidate bit-widths of each layer, ascending (the output layer has
        no 0-bit candidate when the others have one).
    weights : list of ndarray
        What each neuron's bits count for in the mean (fan-in for weights,
        1 for activations), per layer.
    errors : list of ndarray of shape (n_neurons, n_candidates)
        Relative quantization error of each neuron at each candidate.
    budget : float or None
        Largest allowed weighted mean bit-width.

    Returns
    -------
    list of ndarray of int
        New levels (copies); each neuron only moves down. The result is within
        budget whenever every neuron at its layer's lowest candidate is.
    """
    levels = [lv.copy() for lv in levels]
    if budget is None:
        return levels
    cand = [np.asarray(c, dtype=np.float64) for c in candidates]
    total_weight = sum(float(w.sum()) for w in weights)
    used = sum(float((w * c[lv]).sum()) for w, c, lv in zip(weights, cand, levels))
    # A small tolerance keeps float round-off from forcing one needless step.
    limit = budget * total_weight * (1 + 1e-12)

    def cost(layer, neuron):
        lv = levels[layer][neuron]
        saved = weights[layer][neuron] * (cand[layer][lv] - cand[layer][lv - 1])
        harm = errors[layer][neuron, lv - 1] - errors[layer][neuron, lv]
        return max(harm, 0.0) / saved

    heap = [(cost(li, ni), li, ni)
            for li, lv in enumerate(levels) for ni in np.flatnonzero(lv > 0)]
    heapq.heapify(heap)
    while used > limit and heap:
        _, li, ni = heapq.heappop(heap)
        lv = levels[li][ni]
        used -= weights[li][ni] * (cand[li][lv] - cand[li][lv - 1])
        levels[li][ni] = lv - 1
        if lv - 1 > 0:
            heapq.heappush(heap, (cost(li, ni), li, ni))
    return levels
