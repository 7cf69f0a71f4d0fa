"""The budget projection of a trained network (torch side of :mod:`skqat._qat.budget`).

After the bits are learned, :func:`project_network` measures, on a sample of
the training rows, how much each neuron's output would degrade at each
candidate bit-width, lowers the least harmful neurons until every budget
holds (:func:`skqat._qat.budget.project_to_budget`,
:func:`skqat._qat.budget.lower_to_size`): the step that makes the budgets a
guarantee. Then it raises the neurons whose extra bits buy the most while
every budget still holds (:func:`skqat._qat.budget.raise_within`): a budget
is spent, not only respected.

The size is checked on the integer graph itself (:func:`skqat._qat.size.exact_bytes`):
the greedy steps work on an estimate whose field widths may differ by a bit.
"""

from dataclasses import dataclass

import numpy as np
import torch

from . import quantizers as Q
from .budget import estimated_bytes, lower_to_size, project_to_budget, raise_within
from .size import exact_bytes, field_bytes, measure

_PROJECTION_ROWS = 4096
_PROJECTION_BLOCK = 512
# A raise that multiplies the sample's loss by more than this is undone: the
# frozen-bits fine-tuning repairs a few percent (measured: rises of 0.3% to
# 4.5% ended better kept), not a network the raise has broken (15% and 75%
# ended better undone).
_SPEND_LOSS_RISE = 1.10


def _relative_errors_weights(lin, input_m2, in_step):
    """Output error of each neuron at each candidate, relative to its signal.

    ``input_m2`` is the mean square of each input code over the sample.
    """
    w = lin.weight.detach() * in_step
    signal = (w.pow(2) * input_m2).sum(1).clamp_min(1e-30)
    return np.stack([
        (((Q.quantize_weight(w, b) - w).pow(2) * input_m2).sum(1) / signal).cpu().numpy()
        for b in lin.candidates
    ], axis=1)


def _relative_errors_activations(act, pre):
    """Error of each neuron's activation at each candidate (clipping included)."""
    a = pre.clamp_min(0.0)
    signal = a.pow(2).mean(0).clamp_min(1e-30)
    step = act.step.detach()
    # Q.quantize_activation_int, its rounding once for every candidate: the
    # sample is large (4,096 rows), so each pass over it counts.
    unclipped = Q.unclipped_activation_codes(pre, step)
    error = torch.empty_like(pre)
    errors = []
    for b in act.candidates:
        qmax = torch.as_tensor(Q.activation_qmax(b), dtype=pre.dtype, device=pre.device)
        torch.minimum(unclipped, qmax, out=error).mul_(step).sub_(a).pow_(2)
        errors.append((error.mean(0) / signal).cpu().numpy())
    return np.stack(errors, axis=1)


def _levels(modules):
    """Current level of every neuron of the given layers (or activations)."""
    return [np.broadcast_to(Q.strength_to_level(m.strength, len(m.candidates)).cpu().numpy(),
                            (m.n_neurons,)).astype(np.int64)
            for m in modules]


@dataclass
class _Sample:
    """What one forward pass over the projection's sample of training rows measured.

    Attributes
    ----------
    m2 : list of torch.Tensor
        Mean square of each dense layer's input codes, shape (fan_in,), in
        squared codes.
    pre : list of torch.Tensor
        Each hidden layer's pre-activations on the sample, (n_rows, width).
    loss : float or None
        The weighted training loss on the sample (None: no loss function given).
    """

    m2: list
    pre: list
    loss: float | None


def _block_loss(loss_fn, out, data, idx):
    """Weighted loss sum and weight sum of the rows ``idx``, as floats."""
    w = data.weight[idx]
    return float((loss_fn(out, data.target[idx]) * w).sum()), float(w.sum())


def _sample_statistics(net, data, rows, loss_fn=None):
    """One pass over the sample: a :class:`_Sample` of the network's current levels.

    Computed block by block: a wide sparse input is densified a few hundred
    rows at a time. The loss is :func:`sample_loss`'s, bit for bit (the
    same blocks and operations).
    """
    sums, pre = None, [[] for _ in net.activations]
    total = weight = 0.0
    for start in range(0, len(rows), _PROJECTION_BLOCK):
        idx = rows[start:start + _PROJECTION_BLOCK]
        block = net.layer_inputs(data.rows(idx), data.in_step)
        block_sums = [x.pow(2).sum(0) for x in block.inputs]
        sums = block_sums if sums is None else [a + b for a, b in zip(sums, block_sums)]
        for acc, p in zip(pre, block.pre):
            acc.append(p)
        if loss_fn is not None:
            block_total, block_weight = _block_loss(loss_fn, block.output, data, idx)
            total, weight = total + block_total, weight + block_weight
    return _Sample(m2=[s / len(rows) for s in sums], pre=[torch.cat(p) for p in pre],
                   loss=None if loss_fn is None else total / max(weight, 1e-12))


def _importance(net, m2, steps):
    """How much each neuron's relative error reaches the outputs, per layer.

    An output neuron counts 1. A hidden neuron ``j`` passes its relative
    error on to each neuron ``k`` of the next layer in proportion to its
    share of that neuron's signal, ``m2_j W_kj^2 / S_k`` (``W`` folded with
    the input step, ``S_k`` the signal with the bias), weighted by ``k``'s
    own importance: harms of different layers then share one unit.
    """
    importance = [None] * len(net.linears)
    importance[-1] = torch.ones(net.linears[-1].n_neurons, dtype=torch.float64)
    for li in range(len(net.linears) - 2, -1, -1):
        nxt = net.linears[li + 1]
        w = (nxt.weight.detach() * steps[li + 1]).double().cpu()
        contrib = w.pow(2) * m2[li + 1].double().cpu()
        signal = (contrib.sum(1) + nxt.bias.detach().double().cpu().pow(2)).clamp_min(1e-30)
        importance[li] = (contrib / signal[:, None] * importance[li + 1][:, None]).sum(0)
    return [g.numpy() for g in importance]


def _weight_errors(net, m2, in_step):
    """Relative error of each neuron at each weight candidate, and the same weighted
    by the neuron's :func:`_importance` (the harm the size budget compares).

    ``m2`` is the sample's :attr:`_Sample.m2`, ``in_step`` the data's input steps.
    """
    steps = [in_step] + [a.step.detach() for a in net.activations]
    errors = [_relative_errors_weights(lin, x, st) for lin, x, st in zip(net.linears, m2, steps)]
    harm = [e * g[:, None] for e, g in zip(errors, _importance(net, m2, steps))]
    return errors, harm


def _set_weight_levels(net, levels):
    # Only on a change: setting levels also moves every strength to its level's centre.
    if any((a != b).any() for a, b in zip(_levels(net.linears), levels)):
        net.set_levels_(levels, _levels(net.activations))


_FIXED_PART = {"size_budget": "the input and output steps",
               "flash_budget": "the integer entry's code and layer table"}


def _fit_size(net, levels, harm, size):
    """Lower weight levels until the integer graph's bytes are within ``size.budget``.

    The greedy step works on estimated bytes; each round measures the
    graph, and lowers the estimate's limit by what the graph exceeds.
    Raises ValueError when no lower level is left and the graph is still
    too large.
    """
    cands = [lin.candidates for lin in net.linears]
    n_features = net.linears[0].weight.shape[1]
    limit = size.budget - size.fixed_bytes
    _, fields = measure(net, size)  # at the current levels
    while True:  # the limit falls by at least a byte a round: it ends
        new = lower_to_size(levels, cands, n_features, fields, harm, limit)
        _set_weight_levels(net, new)
        exact, next_fields = measure(net, size)
        if exact <= size.budget:
            return new
        if estimated_bytes(new, cands, n_features, fields) > limit:  # no move left
            raise ValueError(
                f"{size.parameter}={size.budget:g} bytes cannot be met: at its smallest (every "
                "neuron at its lowest candidate bits; where 0 bits is a candidate, one living "
                f"neuron per hidden layer) the model takes {exact} bytes (about "
                f"{size.fixed_bytes} of them {_FIXED_PART[size.parameter]}). Raise "
                f"{size.parameter}, reduce the features before this estimator, or use fewer "
                "hidden layers.")
        # The graph is larger than the estimate (fields measured at other levels).
        limit -= exact - size.budget
        levels, fields = new, next_fields


def _spend(net, levels, harm, settings):
    """Raise the weight levels whose extra bits buy the most while every budget holds."""
    cands = [lin.candidates for lin in net.linears]
    fan_in = [float(lin.weight.shape[1]) for lin in net.linears]
    n_features = int(fan_in[0])
    n_weights = sum(f * lin.n_neurons for f, lin in zip(fan_in, net.linears))
    size = settings.size
    fields = field_bytes(net, size) if size is not None else None

    def fits(lv):
        ok = True
        if settings.bit_budget is not None:
            used = sum(f * np.asarray(c, dtype=float)[x].sum() for f, c, x in zip(fan_in, cands, lv))
            ok = used <= settings.bit_budget * n_weights * (1 + 1e-12)
        if ok and size is not None:
            ok = estimated_bytes(lv, cands, n_features, fields) <= size.budget - size.fixed_bytes
        return ok

    def cost(lv, li):
        c = np.asarray(cands[li], dtype=float)
        bits = (c[np.minimum(lv[li] + 1, len(c) - 1)] - c[lv[li]]) * fan_in[li]
        return bits / 8.0 if size is not None else bits

    new = raise_within(levels, cands, harm, fits, cost)
    _set_weight_levels(net, new)
    if size is not None and exact_bytes(net, size) > size.budget:
        new = _fit_size(net, new, harm, size)
    return new


@torch.no_grad()
def sample_loss(net, data, rows, loss_fn):
    """The weighted data loss of ``net`` on the training rows ``rows`` (indices).

    A block of rows at a time: a wide sparse input is densified a few hundred
    rows at a time.
    """
    total = weight = 0.0
    for start in range(0, len(rows), _PROJECTION_BLOCK):
        idx = rows[start:start + _PROJECTION_BLOCK]
        block_total, block_weight = _block_loss(loss_fn, net(data.rows(idx), data.in_step),
                                                data, idx)
        total, weight = total + block_total, weight + block_weight
    return total / max(weight, 1e-12)


def _spend_if_better(net, levels, harm, settings, data, rows, loss_fn, before=None):
    """:func:`_spend`, undone if it raises the loss on the sample by more than 10%.

    The harm a raise removes is measured against the latent weights; a
    network trained at 1 or 2 bits computes something else at 8 (its latent
    weights were never trained to be exact), and raised wholesale it can
    score worse than it did, so that a larger budget loses to a smaller one.
    Without ``loss_fn`` the raise is kept. ``before`` is the sample's loss
    at ``levels`` when the caller has it (None: measured here).
    """
    if before is None and loss_fn is not None:
        before = sample_loss(net, data, rows, loss_fn)
    new = _spend(net, levels, harm, settings)
    if before is not None and (sample_loss(net, data, rows, loss_fn)
                               > before * _SPEND_LOSS_RISE):
        _set_weight_levels(net, levels)
        return levels
    return new


def project_network(net, data, settings, generator, loss_fn=None):
    """Fit the network's bits to every budget, then spend what is left (in place).

    Activations are projected first because their steps change the next
    layer's folded weights, on which the weight errors are measured. Then
    the weights: lowered to the bit budget (least relative error per bit
    first), to the size budget (least harm per byte, pruning included),
    and raised where a budget leaves room (most harm removed per bit or
    byte). Returns True if any bit-width changed.

    Parameters
    ----------
    net : QuantMLP
    data : TrainData
        Training data; a random sample of its rows measures the errors.
    settings : TrainSettings
        Gives the budgets.
    generator : torch.Generator
        Draws the sample.
    loss_fn : callable or None, default=None
        ``loss_fn(output, target)`` -> per-sample loss: the raise is undone
        if it increases the loss on the sample by more than 10%.
    """
    size = settings.size
    if settings.bit_budget is None and settings.activation_bit_budget is None and size is None:
        return False
    rows = torch.randperm(len(data), generator=generator)[:_PROJECTION_ROWS].to(data.device)
    changed = False
    # One pass over the sample serves every step below until a level changes.
    sample = None
    if net.activations and settings.activation_bit_budget is not None:
        sample = _sample_statistics(net, data, rows, loss_fn)
        levels = _levels(net.activations)
        errors = [_relative_errors_activations(a, p) for a, p in zip(net.activations, sample.pre)]
        new = project_to_budget(levels, [a.candidates for a in net.activations],
                                [np.ones(a.n_neurons) for a in net.activations], errors,
                                settings.activation_bit_budget)
        if any((a != b).any() for a, b in zip(levels, new)):
            changed = True
            net.set_levels_(_levels(net.linears), new)
            sample = None  # the next layers' inputs moved
    if settings.bit_budget is not None or size is not None:
        if sample is None:
            sample = _sample_statistics(net, data, rows, loss_fn)
        levels = _levels(net.linears)
        errors, harm = _weight_errors(net, sample.m2, data.in_step)
        new = levels
        if settings.bit_budget is not None:
            fan_in = [np.full(lin.n_neurons, float(lin.weight.shape[1])) for lin in net.linears]
            new = project_to_budget(new, [lin.candidates for lin in net.linears], fan_in,
                                    errors, settings.bit_budget)
        _set_weight_levels(net, new)
        if size is not None:
            new = _fit_size(net, new, harm, size)
        if all(lin.strength.numel() == lin.n_neurons for lin in net.linears):
            unchanged = all((a == b).all() for a, b in zip(levels, new))
            new = _spend_if_better(net, new, harm, settings, data, rows, loss_fn,
                                   before=sample.loss if unchanged else None)
        changed = changed or any((a != b).any() for a, b in zip(levels, new))
    return changed


def enforce_size(net, data, settings, generator):
    """Lower the least harmful neurons again if the network outgrew its size budget (in place).

    A fine-tuning with the bits frozen still moves the weights, and with
    them the widths of the per-neuron fields (a bias may need one more
    bit): this re-measures the integer graph after it. Returns True if any
    bit-width changed.
    """
    size = settings.size
    if size is None or not settings.learn_bits or exact_bytes(net, size) <= size.budget:
        return False
    rows = torch.randperm(len(data), generator=generator)[:_PROJECTION_ROWS].to(data.device)
    _, harm = _weight_errors(net, _sample_statistics(net, data, rows).m2, data.in_step)
    _fit_size(net, _levels(net.linears), harm, size)
    return True
