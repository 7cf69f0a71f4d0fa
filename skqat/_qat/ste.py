"""Hard forward, surrogate backward: the two autograd functions of NMP-QAT.

Forward passes compute only the discrete choice each neuron's strength selects
(one quantizer evaluation per neuron). Backward passes use

* a straight-through estimator for the quantized tensor (identity inside the
  clipping range), and
* for the strengths, the derivative of the soft gate mixture
  ``sum_k g_k(s) Q_k``, which is ``sum_k u_k'(s) (Q_k - Q_{k-1})``. A term is
  evaluated only when some neuron's gate slope is not negligible, and not at
  all when the strengths are frozen.

Writing these as ``torch.autograd.Function`` keeps the forward free of the
soft mixture (``w_soft + (w_hard - w_soft).detach()`` would evaluate every
candidate on every step).
"""

import torch

from . import quantizers as Q

# Below this gate slope (per unit strength) a candidate difference is not evaluated.
_NEGLIGIBLE_SLOPE = 1e-6


def _strength_grad(strength, temperature, n_candidates, like, contributions):
    """``sum_k u_k'(s) <grad, Q_k - Q_{k-1}>``, in the strength's shape.

    ``contributions(lo, hi)`` returns ``<grad, Q_k - Q_{k-1}>`` for the
    transitions ``lo <= k - 1 < hi``, one row per neuron; it is called once,
    for the span of transitions that some gate weighs. ``like`` gives the
    number of neurons (rows), dtype and device.
    """
    slopes = Q.gate_slopes(strength, n_candidates, temperature)
    contrib = like.new_zeros(like.shape[0], n_candidates - 1)
    used = torch.nonzero(slopes.amax(0) > _NEGLIGIBLE_SLOPE).flatten().tolist()
    if used:
        lo, hi = used[0], used[-1] + 1
        contrib[:, lo:hi] = contributions(lo, hi)
    grad = (slopes.expand_as(contrib) * contrib).sum(-1)
    if strength.numel() == 1:  # one strength for the whole layer
        grad = grad.sum().reshape(strength.shape)
    return grad


class WeightQuantizeSTE(torch.autograd.Function):
    """Per-neuron weight quantization with learned bit-widths.

    ``apply(w, strength, bits, candidates, temperature)`` returns the
    fake-quantized ``w`` (same units), each row at its bit-width ``bits`` (the
    one its strength selects, computed once by the caller), and the step of
    each row (not differentiated), which the layer needs for its bias.
    ``candidates`` is an int64 tensor of the candidate bit-widths.
    """

    @staticmethod
    def forward(ctx, w, strength, bits, candidates, temperature):
        stats = Q.weight_row_stats(w)
        step = Q.step_from_stats(stats, bits)
        ctx.save_for_backward(w, strength, candidates, *stats)
        ctx.temperature = temperature
        ctx.mark_non_differentiable(step)
        return Q.quantize_weight_int(w, bits, step).mul_(step.unsqueeze(1)), step

    @staticmethod
    def backward(ctx, grad_out, _grad_step):
        w, strength, candidates, *stats = ctx.saved_tensors
        grad_strength = None
        if ctx.needs_input_grad[1] and len(candidates) > 1:

            def contributions(lo, hi):
                # The needed candidates in one batched quantization, then
                # <grad, Q_k> per candidate and row.
                codes, steps = Q.weight_candidate_codes(w, candidates[lo:hi + 1], stats)
                return ((codes * grad_out).sum(-1) * steps).diff(dim=0).T

            grad_strength = _strength_grad(strength, ctx.temperature, len(candidates), w,
                                           contributions)
        return grad_out, grad_strength, None, None, None


class ActivationQuantizeSTE(torch.autograd.Function):
    """Quantized ReLU with a shared step and per-neuron learned bit-widths.

    ``apply(y, step, strength, bits, candidates, temperature)`` returns the
    fake-quantized activations of pre-activations ``y`` (n_samples, n_out),
    each neuron at its bit-width ``bits``, all with the layer's ``step``;
    ``candidates`` is an int64 tensor. ``y`` gets the straight-through
    gradient below the clipping level; the step gets the LSQ gradient
    (``round(a/step) - a/step`` inside the range, the top code where clipped).
    """

    @staticmethod
    def forward(ctx, y, step, strength, bits, candidates, temperature):
        bits = bits.to(y.dtype)
        qmax = Q.activation_qmax(bits)
        codes = Q.quantize_activation_int(y, step, bits)
        ratio = y / step
        ctx.save_for_backward(ratio, step, strength, qmax, codes, candidates)
        ctx.temperature = temperature
        return codes * step

    @staticmethod
    def backward(ctx, grad_out):
        ratio, step, strength, qmax, codes, candidates = ctx.saved_tensors
        # 1 strictly inside (0, qmax), else 0, from float ops only: boolean
        # tensors are slow elementwise on CPU.
        inside = torch.sign(ratio).mul_(torch.sign(qmax - ratio)).clamp_min_(0.0)
        grad_y = grad_out * inside
        grad_step = None
        if ctx.needs_input_grad[1]:
            # LSQ: codes - y/step inside, codes where clipped, 0 below (codes are 0 there).
            grad_step = (torch.vdot(grad_out.flatten(), codes.flatten())
                         - torch.vdot(grad_y.flatten(), ratio.flatten())).reshape(step.shape)
        grad_strength = None
        if ctx.needs_input_grad[2] and len(candidates) > 1:

            def contributions(lo, hi):
                levels = Q.activation_qmax(candidates.to(ratio.dtype))
                low, high = levels[lo:hi].view(-1, 1, 1), levels[lo + 1:hi + 1].view(-1, 1, 1)
                # Two candidates differ only where the lower one saturates.
                unclipped = ratio.clamp_min(0.0).round_()
                diff = torch.minimum(torch.maximum(unclipped, low), high).sub_(low)
                return (diff * grad_out).sum(1).T * step

            grad_strength = _strength_grad(strength, ctx.temperature, len(candidates),
                                           ratio.T, contributions)
        return grad_y, grad_step, grad_strength, None, None, None
