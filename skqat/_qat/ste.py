"""Hard forward, surrogate backward: the two autograd functions of NMP-QAT.

Forward passes compute only the discrete choice each neuron's strength selects
(one quantizer evaluation per neuron). Backward passes use

* a straight-through estimator for the quantized tensor (identity inside the
  clipping range), and
* for the strengths, the derivative of the soft gate mixture
  ``sum_k g_k(s) Q_k``, which is ``sum_k u_k'(s) (Q_k - Q_{k-1})``, over the
  two transitions ``k`` beside each neuron's level (``levels.py`` says why the
  others are left out): one quantization at the bits one level down and one
  at the bits one level up, whatever the number of candidates.

Writing these as ``torch.autograd.Function`` keeps the forward free of the
soft mixture (``w_soft + (w_hard - w_soft).detach()`` would evaluate every
candidate on every step), and keeps a layer's quantization one node of the
autograd graph.
"""

import torch

from . import quantizers as Q
from .levels import side_slopes


def _per_strength(grad, strength):
    # One strength for the whole layer: the neurons' contributions add up.
    return grad.sum().reshape(strength.shape) if strength.numel() == 1 else grad


class WeightQuantizeSTE(torch.autograd.Function):
    """Per-neuron weight quantization with learned bit-widths, and the bias rounding.

    ``apply(w, bias, strength, levels, temperature)`` returns the
    fake-quantized ``w`` (same units), each row at the bit-width its
    :class:`~skqat._qat.levels.Levels` give, and the bias rounded to a
    multiple of each row's weight step (the integer graph stores it in that
    unit; 0 for a 0-bit, pruned, row). Both pass their gradient straight through.
    """

    @staticmethod
    def forward(ctx, w, bias, strength, levels, temperature):
        learn = ctx.needs_input_grad[2]
        stats = Q.row_stats_for(w, levels.weight, *(levels.side_weight if learn else ()))
        step = Q.step_from_stats(stats, levels.weight)
        w_q = Q.quantize_weight_int(w, levels.weight, step).mul_(step.unsqueeze(1))
        bias_q = torch.div(bias, step).round_().mul_(step).mul_(levels.weight.kept)
        ctx.save_for_backward(w, w_q, strength, *stats)
        ctx.levels, ctx.temperature = levels, temperature
        return w_q, bias_q

    @staticmethod
    def backward(ctx, grad_w, grad_bias):
        w, w_q, strength, *stats = ctx.saved_tensors
        grad_strength = None
        if ctx.needs_input_grad[2]:
            levels = ctx.levels
            if not levels.side_bits.numel():  # one candidate: nothing to learn
                return grad_w, grad_bias, torch.zeros_like(strength), None, None
            # <grad, Q> per row at the neuron's bits and one level down / up;
            # side by side, as plain (n_out, n_in) operations (broadcasting
            # over a stacked side dimension is several times slower on CPU).
            side = torch.stack([
                torch.linalg.vecdot(Q.quantize_weight_int(w, rows, step), grad_w).mul_(step)
                for rows, step in ((r, Q.step_from_stats(stats, r)) for r in levels.side_weight)
            ])
            here = torch.linalg.vecdot(w_q, grad_w)
            # Q_l - Q_{l-1} below, Q_{l+1} - Q_l above.
            contrib = (side - here).mul_(levels.side_sign)
            slopes = side_slopes(strength, levels, ctx.temperature)
            grad_strength = _per_strength((slopes * contrib).sum(0), strength)
        return grad_w, grad_bias, grad_strength, None, None


class ActivationQuantizeSTE(torch.autograd.Function):
    """Quantized ReLU with a shared step and per-neuron learned bit-widths.

    ``apply(y, step, strength, levels, temperature, revive)`` returns the
    fake-quantized activations of pre-activations ``y`` (n_samples, n_out),
    each neuron at the bit-width its :class:`~skqat._qat.levels.Levels`
    give, all with the layer's ``step``. ``y`` gets the straight-through
    gradient below the clipping level; the step gets the LSQ gradient
    (``round(a/step) - a/step`` inside the range, the top code where clipped).
    With ``revive`` (a layer whose neurons can be pruned), ``y`` exactly 0
    passes its gradient too: see ``backward``.
    """

    @staticmethod
    def forward(ctx, y, step, strength, levels, temperature, revive=False):
        ratio = y / step
        qmax, same = levels.activation_qmax, levels.same_activation_qmax
        if ctx.needs_input_grad[2]:  # the strength gradient needs the unclipped codes
            unclipped = ratio.clamp_min(0.0).round_()
            codes = torch.minimum(unclipped, qmax)
        elif same is not None:
            unclipped, codes = None, ratio.clamp(0.0, same).round_()
        else:
            unclipped, codes = None, torch.minimum(ratio.clamp_min(0.0).round_(), qmax)
        ctx.save_for_backward(ratio, unclipped, codes, step, strength)
        ctx.levels, ctx.temperature, ctx.revive = levels, temperature, revive
        return codes * step

    @staticmethod
    def backward(ctx, grad_out):
        ratio, unclipped, codes, step, strength = ctx.saved_tensors
        levels = ctx.levels
        # The gradient passes strictly inside (0, qmax): hardtanh's backward
        # kernel, one pass, where every neuron has the same bits.
        same = levels.same_activation_qmax
        if same is None:
            grad_out_below = grad_out * (ratio < levels.activation_qmax)
            grad_y = torch.ops.aten.hardtanh_backward(grad_out_below, ratio, 0.0, float("inf"))
        else:
            grad_y = torch.ops.aten.hardtanh_backward(grad_out, ratio, 0.0, same)
        if ctx.revive:
            # A pruned neuron (0 weight bits, 0 bias) outputs exactly 0: its
            # gradient passes there as if it were alive, so that its weights
            # keep learning and its strength sees what reviving it would buy.
            grad_y = grad_y + grad_out * (ratio == 0)
        grad_step = None
        if ctx.needs_input_grad[1]:
            # LSQ: codes - y/step inside, codes where clipped, 0 below (codes are 0 there).
            grad_step = (torch.vdot(grad_out.flatten(), codes.flatten())
                         - torch.vdot(grad_y.flatten(), ratio.flatten())).reshape(step.shape)
        grad_strength = None
        if ctx.needs_input_grad[2]:
            # Two candidates differ only where the lower one saturates:
            # Q_hi - Q_lo = step * (min(max(u, lo), hi) - lo), u the unclipped code.
            low, high = levels.side_low, levels.side_high      # (S, 1, n)
            diff = torch.minimum(torch.maximum(unclipped, low), high).sub_(low)
            contrib = (diff * grad_out).sum(1).mul_(step)       # (S, n)
            slopes = side_slopes(strength, levels, ctx.temperature)
            grad_strength = _per_strength((slopes * contrib).sum(0), strength)
        return grad_y, grad_step, grad_strength, None, None, None
