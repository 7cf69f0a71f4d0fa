"""Rescaling the layers next to moving statistics, with the optimizer's moments.

When ``partial_fit``'s running statistics move (``skqat._stream``), the
first layer's columns and the output layer's rows are rescaled so that the
network computes the same function in the new units. Adam's moments of the
rescaled parameters move with them: a parameter multiplied by ``c`` has its
gradient divided by ``c``, so its first moment is divided by ``c`` and its
second by ``c**2``, to match the gradients to come.
"""

from dataclasses import replace

import numpy as np
import torch


def _scale_moments(state, index, factor):
    if state is None or state.exp_avg[index] is None:
        return
    dtype = state.exp_avg[index].dtype
    state.exp_avg[index] = (state.exp_avg[index] / factor).astype(dtype)
    state.exp_avg_sq[index] = (state.exp_avg_sq[index] / factor**2).astype(dtype)


@torch.no_grad()
def rescale_network_(net, state, *, inputs=None, outputs=None):
    """Apply input and target changes to ``net`` (in place) and to the optimizer's moments.

    Parameters
    ----------
    net : QuantMLP
    state : OptimizerState or None
        The moments of ``net.parameters()``, in that order.
    inputs : skqat._stream.AffineChange or None
        The first layer's weights ``W`` become ``W * factor`` (per input
        column) and its bias ``b + W @ shift``.
    outputs : skqat._stream.AffineChange or None
        The output layer's rows and bias are multiplied by ``factor`` (per
        output), and ``shift`` is added to its bias.

    Returns
    -------
    OptimizerState or None
        A copy of ``state`` with the moments of the rescaled parameters moved.
    """
    if state is not None:
        # The weight gradients summed for the strengths were of the old units: dropped.
        state = replace(state, exp_avg=list(state.exp_avg), exp_avg_sq=list(state.exp_avg_sq),
                        gradient_sums=[], gradient_counts=[])
    index = {id(p): i for i, p in enumerate(net.parameters())}
    if inputs is not None:
        first = net.linears[0]
        w = first.weight.detach().to(torch.float64)
        factor = torch.as_tensor(inputs.factor, dtype=torch.float64, device=w.device)
        shift = torch.as_tensor(inputs.shift, dtype=torch.float64, device=w.device)
        first.bias.add_((w @ shift).to(first.bias.dtype))
        first.weight.copy_((w * factor).to(first.weight.dtype))
        # A column whose factor is 0 starts again from its moments' zero.
        safe = np.where(inputs.factor == 0, np.inf, inputs.factor)
        _scale_moments(state, index[id(first.weight)], safe[None, :])
    if outputs is not None:
        last = net.linears[-1]
        factor = torch.as_tensor(outputs.factor, dtype=last.weight.dtype,
                                 device=last.weight.device)
        last.weight.mul_(factor[:, None])
        last.bias.mul_(factor).add_(torch.as_tensor(outputs.shift, dtype=last.bias.dtype,
                                                    device=last.bias.device))
        safe = np.where(outputs.factor == 0, np.inf, outputs.factor)
        _scale_moments(state, index[id(last.weight)], safe[:, None])
        _scale_moments(state, index[id(last.bias)], safe)
    return state


@torch.no_grad()
def calibrate_outputs_(net, state, train, *, limit):
    """Refit the output layer's scale and offset on ``train`` where it is far off (in place).

    Pop-Art keeps a model's function when the target statistics move. When
    they shrink by orders of magnitude (a stream whose first block was in
    other units, forgotten since), what it keeps is an error at the old
    scale, hundreds of the new standard deviations wide, and Adam, which
    moves a parameter by about one learning rate per step, needs thousands
    of steps to undo it. Where an output's root mean squared error on the
    block exceeds ``limit`` (in target standard deviations), its row and
    bias take the least-squares line from the output to the target: the
    slope clipped to [0, 1] (the row shrinks, to 0 where the output is
    noise; it never grows), the offset exact. Below ``limit`` training does
    the rest.

    Parameters
    ----------
    net : QuantMLP
        A regression network (standardized targets).
    state : OptimizerState or None
        The moments of ``net.parameters()``; a shrunk row's move with it.
    train : TrainData
    limit : float
        In standard deviations of the (standardized) target.

    Returns
    -------
    state : OptimizerState or None
    moved : ndarray of bool, shape (n_outputs,)
        The outputs whose row and bias were refitted.
    """
    last = net.linears[-1]
    n_out = last.bias.numel()
    sums = torch.zeros((6, n_out), dtype=torch.float64)  # w, w o, w t, w o o, w o t, w e e
    for idx, codes in train.blocks():
        out = net(codes, train.in_step).reshape(len(idx), -1).to(torch.float64).cpu()
        t = train.target[idx].reshape(len(idx), -1).to(torch.float64).cpu()
        w = train.weight[idx].to(torch.float64).cpu()[:, None].expand_as(out)
        sums += torch.stack([w.sum(0), (w * out).sum(0), (w * t).sum(0), (w * out * out).sum(0),
                             (w * out * t).sum(0), (w * (t - out) ** 2).sum(0)])
    total = sums[0].clamp(min=1e-300)
    mo, mt = sums[1] / total, sums[2] / total
    var_o, cov = sums[3] / total - mo**2, sums[4] / total - mo * mt
    moved = (sums[5] / total).sqrt() > limit
    if not bool(moved.any()):
        return state, moved.numpy()
    slope = torch.where(var_o > 0, cov / var_o.clamp(min=1e-300), 0.0).clamp(0.0, 1.0)
    slope = torch.where(moved, slope, 1.0)
    offset = torch.where(moved, mt - slope * mo, 0.0)
    # The quantized output is W q + b: scaling the row and bias scales it.
    dev = last.weight.device
    last.weight.mul_(slope.to(last.weight.dtype).to(dev)[:, None])
    last.bias.mul_(slope.to(last.bias.dtype).to(dev)).add_(offset.to(last.bias.dtype).to(dev))
    if state is not None:
        state = replace(state, exp_avg=list(state.exp_avg), exp_avg_sq=list(state.exp_avg_sq),
                        gradient_sums=[], gradient_counts=[])
        index = {id(p): i for i, p in enumerate(net.parameters())}
        safe = np.where(slope.numpy() == 0, np.inf, slope.numpy())
        _scale_moments(state, index[id(last.weight)], safe[:, None])
        _scale_moments(state, index[id(last.bias)], safe)
    return state, moved.numpy()
