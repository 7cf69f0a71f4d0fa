"""The budgets: a multiplier controller during training, a projection after (numpy).

During training, the loss gets ``lambda * expected_mean_bits / max_bits``
(and ``lambda * expected_bytes / size_budget`` for a size budget);
:class:`BudgetMultiplier` raises ``lambda`` while the hard value exceeds the
budget and lets it decay while it does not (multiplicatively, so it reaches the
scale of the task gradients whatever that scale is). At the end,
:func:`project_to_budget` lowers the neurons whose lower precision costs the
least, relative to the bits it saves, until the hard mean is within budget;
:func:`lower_to_size` does the same per byte, pruning neurons too; and
:func:`raise_within` spends what the budgets leave on the neurons whose extra
bits buy the most. Together they make the budgets a guarantee that is used.
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


def layer_bytes(bits, n_features, fields):
    """Estimated bytes of each layer (weights and fields) for given bit-widths, and fan-ins.

    Parameters
    ----------
    bits : list of ndarray of int
        Weight bits of every neuron, per layer (0: pruned).
    n_features : int
        Fan-in of the first layer; a later layer's fan-in is the number of
        living neurons before it (at least 1: the graph keeps a neuron).
    fields : list of float
        Bytes of the per-neuron fields of each layer, per living neuron.

    Returns
    -------
    (ndarray of float, list of int)
        Bytes per layer, as :func:`skqat.runtime._layer.layer_size_bytes`
        rounds them, and each layer's fan-in.
    """
    out, fan_in, n_in = [], [], n_features
    for b, per_neuron in zip(bits, fields):
        alive = int(np.count_nonzero(b))
        fan_in.append(n_in)
        out.append(np.ceil(n_in * int(np.sum(b)) / 8.0) + np.ceil(alive * per_neuron))
        n_in = max(alive, 1)
    return np.array(out), fan_in


def _bytes_per_layer(levels, candidates, n_features, fields):
    return layer_bytes([np.asarray(c)[lv] for lv, c in zip(levels, candidates)], n_features,
                       fields)


def estimated_bytes(levels, candidates, n_features, fields):
    """Bytes of the layers at ``levels``, each living neuron's fields at ``fields`` bytes.

    Parameters
    ----------
    levels : list of ndarray of int
        Level of every neuron, per layer.
    candidates : list of sequence of int
        Candidate bit-widths per layer, ascending (0: pruned).
    n_features : int
        Fan-in of the first layer; later layers' fan-in is the number of
        living neurons before them.
    fields : list of float
        Bytes of the per-neuron fields of each layer, per living neuron.

    Returns
    -------
    float
    """
    return float(_bytes_per_layer(levels, candidates, n_features, fields)[0].sum())


def _move_bytes(levels, candidates, fan_in, fields, layer, direction):
    """Bytes each neuron of ``layer`` adds (``direction`` +1) or saves (-1) by one level."""
    cand = np.asarray(candidates[layer], dtype=np.float64)
    lv = levels[layer]
    other = np.clip(lv + direction, 0, len(cand) - 1)
    delta = np.abs(cand[other] - cand[lv]) * fan_in[layer] / 8.0
    # A neuron leaving or entering 0 bits gains or loses its fields and its column.
    switches = (cand[np.minimum(lv, other)] == 0) & (other != lv)
    nxt = (float(np.asarray(candidates[layer + 1])[levels[layer + 1]].sum()) / 8.0
           if layer + 1 < len(levels) else 0.0)
    return delta + switches * (fields[layer] + nxt)


def lower_to_size(levels, candidates, n_features, fields, harm, limit):
    """Lower neuron levels greedily until the estimated bytes are at most ``limit``.

    Each move lowers one neuron by one level (to 0 bits: pruned); the move
    taken is the one of least harm per byte saved. A hidden layer keeps at
    least one living neuron.

    Parameters
    ----------
    levels, candidates, n_features, fields
        As in :func:`estimated_bytes`.
    harm : list of ndarray of shape (n_neurons, n_candidates)
        Harm of each neuron at each candidate, in one unit across layers
        (higher at fewer bits).
    limit : float
        Largest estimated size, in bytes.

    Returns
    -------
    list of ndarray of int
        New levels (copies); each neuron only moves down. Over ``limit`` only
        when no move is left.
    """
    levels = [np.asarray(lv).copy() for lv in levels]
    while True:
        sizes, fan_in = _bytes_per_layer(levels, candidates, n_features, fields)
        if sizes.sum() <= limit * (1 + 1e-12):
            return levels
        best, choice = np.inf, None
        for li, lv in enumerate(levels):
            cand = np.asarray(candidates[li])
            movable = lv > 0
            if cand[0] == 0 and np.count_nonzero(cand[lv]) <= 1:
                movable &= lv > 1  # the last living neuron of a layer stays
            if not movable.any():
                continue
            saved = _move_bytes(levels, candidates, fan_in, fields, li, -1)
            idx = np.arange(lv.size)
            step = np.maximum(harm[li][idx, np.maximum(lv - 1, 0)] - harm[li][idx, lv], 0.0)
            ratio = np.where(movable, step / np.maximum(saved, 1e-12), np.inf)
            j = int(np.argmin(ratio))
            if ratio[j] < best:
                best, choice = ratio[j], (li, j)
        if choice is None:
            return levels
        levels[choice[0]][choice[1]] -= 1


def raise_within(levels, candidates, harm, fits, cost):
    """Raise neuron levels greedily while ``fits`` holds: spend what a budget leaves.

    Each move raises one living neuron by one level; the move taken is the
    one that cuts the most harm per unit of ``cost`` (ties: the first layer,
    then the first neuron), among those after which ``fits`` still holds.
    Pruned neurons stay pruned.

    Parameters
    ----------
    levels, candidates, harm
        As in :func:`lower_to_size`.
    fits : callable
        ``fits(levels)`` -> bool: whether every budget holds.
    cost : callable
        ``cost(levels, layer)`` -> ndarray: what raising each neuron of the
        layer by one level costs (bytes or weighted bits), positive; it may
        depend on that layer's levels, not on another layer's.

    Returns
    -------
    list of ndarray of int
        New levels (copies); each neuron only moves up.
    """
    levels = [np.asarray(lv).copy() for lv in levels]
    # Every neuron's harm cut per cost, layer after layer in one array (argmax
    # takes the first maximum: the tie rule above). A move changes only its
    # own layer's ratios, so each move recomputes one layer, not all: a
    # network of a thousand neurons makes a thousand moves.
    ratios = [_raise_ratios(levels, candidates, harm, cost, li) for li in range(len(levels))]
    offsets = np.cumsum([0] + [r.size for r in ratios])
    flat = np.concatenate(ratios) if ratios else np.zeros(0)
    while flat.size:
        k = int(np.argmax(flat))
        if not flat[k] > 0.0:
            break
        li = int(np.searchsorted(offsets, k, side="right")) - 1
        j = k - offsets[li]
        levels[li][j] += 1
        if fits(levels):
            blocked = np.isneginf(flat[offsets[li]:offsets[li + 1]])
            flat[offsets[li]:offsets[li + 1]] = np.where(
                blocked, -np.inf, _raise_ratios(levels, candidates, harm, cost, li))
        else:
            levels[li][j] -= 1
            flat[k] = -np.inf  # blocked for good
    return levels


def _raise_ratios(levels, candidates, harm, cost, li):
    # Harm removed per unit of cost by raising each neuron of layer li; -inf
    # where it cannot rise (pruned, at the top, or no number).
    lv, cand = levels[li], np.asarray(candidates[li])
    idx = np.arange(lv.size)
    gain = np.maximum(harm[li][idx, lv] - harm[li][idx, np.minimum(lv + 1, len(cand) - 1)], 0.0)
    ratio = gain / np.maximum(cost(levels, li), 1e-12)
    movable = (cand[lv] > 0) & (lv < len(cand) - 1) & ~np.isnan(ratio)
    return np.where(movable, ratio, -np.inf)
