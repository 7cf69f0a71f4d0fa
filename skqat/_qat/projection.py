"""The budget projection of a trained network (torch side of :mod:`skqat._qat.budget`).

After the bits are learned, :func:`project_network` measures, on a sample of
the training rows, how much each neuron's output would degrade at each lower
candidate bit-width, and lowers the least harmful neurons until both budgets
hold (:func:`skqat._qat.budget.project_to_budget`): the step that makes the budget
a guarantee.
"""

import numpy as np
import torch

from . import quantizers as Q
from .budget import project_to_budget

_PROJECTION_ROWS = 4096
_PROJECTION_BLOCK = 512


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
    return np.stack([
        ((Q.quantize_activation_int(pre, step, b) * step - a).pow(2).mean(0) / signal)
        .cpu().numpy()
        for b in act.candidates
    ], axis=1)


def _levels(modules):
    """Current level of every neuron of the given layers (or activations)."""
    return [np.broadcast_to(Q.strength_to_level(m.strength, len(m.candidates)).cpu().numpy(),
                            (m.n_neurons,)).astype(np.int64)
            for m in modules]


def _sample_statistics(net, data, rows):
    """Mean square of every dense layer's input codes and every hidden pre-activation.

    Computed block by block: a wide sparse input is densified a few hundred
    rows at a time.
    """
    sums, pre = None, [[] for _ in net.activations]
    for start in range(0, len(rows), _PROJECTION_BLOCK):
        inputs, block_pre = net.layer_inputs(data.rows(rows[start:start + _PROJECTION_BLOCK]),
                                             data.in_step)
        block_sums = [x.pow(2).sum(0) for x in inputs]
        sums = block_sums if sums is None else [a + b for a, b in zip(sums, block_sums)]
        for acc, p in zip(pre, block_pre):
            acc.append(p)
    return [s / len(rows) for s in sums], [torch.cat(p) for p in pre]


def project_network(net, data, settings, generator):
    """Lower the least harmful neurons' bits until both budgets hold (in place).

    Activations are projected first because their steps change the next
    layer's folded weights, on which the weight errors are measured.
    Returns True if any bit-width changed.

    Parameters
    ----------
    net : QuantMLP
    data : TrainData
        Training data; a random sample of its rows measures the errors.
    settings : TrainSettings
        Gives the two budgets.
    generator : torch.Generator
        Draws the sample.
    """
    if settings.bit_budget is None and settings.activation_bit_budget is None:
        return False
    rows = torch.randperm(len(data), generator=generator)[:_PROJECTION_ROWS].to(data.device)
    changed = False
    if net.activations and settings.activation_bit_budget is not None:
        levels = _levels(net.activations)
        _, pre = _sample_statistics(net, data, rows)
        errors = [_relative_errors_activations(a, p) for a, p in zip(net.activations, pre)]
        new = project_to_budget(levels, [a.candidates for a in net.activations],
                                [np.ones(a.n_neurons) for a in net.activations], errors,
                                settings.activation_bit_budget)
        if any((a != b).any() for a, b in zip(levels, new)):
            changed = True
            net.set_levels_(_levels(net.linears), new)
    if settings.bit_budget is not None:
        levels = _levels(net.linears)
        m2, _ = _sample_statistics(net, data, rows)
        steps = [data.in_step] + [a.step.detach() for a in net.activations]
        errors = [_relative_errors_weights(lin, x, st)
                  for lin, x, st in zip(net.linears, m2, steps)]
        fan_in = [np.full(lin.n_neurons, float(lin.weight.shape[1])) for lin in net.linears]
        new = project_to_budget(levels, [lin.candidates for lin in net.linears], fan_in, errors,
                                settings.bit_budget)
        if any((a != b).any() for a, b in zip(levels, new)):
            changed = True
            net.set_levels_(new, _levels(net.activations))
    return changed
