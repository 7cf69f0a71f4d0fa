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
        state = replace(state, exp_avg=list(state.exp_avg), exp_avg_sq=list(state.exp_avg_sq))
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
