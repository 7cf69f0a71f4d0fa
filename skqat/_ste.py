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

from . import _quantizers as Q

# Below this gate slope (per unit strength) a candidate difference is not evaluated.
_NEGLIGIBLE_SLOPE = 1e-6


def _strength_grad(strength, slopes, contributions):
    """Sum ``u_k'(s) * <grad, Q_k - Q_{k-1}>`` into the strength's shape."""
    grad = (slopes * contributions).sum(-1)
    if strength.numel() == 1:  # one strength for the whole layer
        grad = grad.sum().reshape(strength.shape)
    return grad


class WeightQuantizeSTE(torch.autograd.Function):
    """Per-neuron weight quantization with learned bit-widths.

    ``apply(w, strength, bits, candidates, temperature)`` returns the
    fake-quantized ``w`` (same units), each row at its bit-width ``bits`` (the
    one its strength selects, computed once by the caller).
    """

    @staticmethod
    def forward(ctx, w, strength, bits, candidates, temperature):
        ctx.save_for_backward(w, strength)
        ctx.candidates, ctx.temperature = candidates, temperature
        return Q.quantize_weight(w, bits)

    @staticmethod
    def backward(ctx, grad_out):
        w, strength = ctx.saved_tensors
        grad_strength = None
        if ctx.needs_input_grad[1] and len(ctx.candidates) > 1:
            cands = ctx.candidates
            slopes = Q.gate_slopes(strength, len(cands), ctx.temperature).expand(w.shape[0], -1)
            contrib = torch.zeros_like(slopes)
            cache = {}

            def fake(b):
                if b not in cache:
                    cache[b] = Q.quantize_weight(w, b)
                return cache[b]

            for k in range(1, len(cands)):
                if float(slopes[:, k - 1].max()) > _NEGLIGIBLE_SLOPE:
                    diff = fake(cands[k]) - fake(cands[k - 1])
                    contrib[:, k - 1] = (grad_out * diff).sum(1)
            grad_strength = _strength_grad(strength, slopes, contrib)
        return grad_out, grad_strength, None, None, None


class ActivationQuantizeSTE(torch.autograd.Function):
    """Quantized ReLU with a shared step and per-neuron learned bit-widths.

    ``apply(y, step, strength, bits, candidates, temperature)`` returns the
    fake-quantized activations of pre-activations ``y`` (n_samples, n_out),
    each neuron at its bit-width ``bits``, all with the layer's ``step``.
    ``y`` gets the straight-through gradient below the clipping level; the
    step gets the LSQ gradient (``round(a/step) - a/step`` inside the range,
    the top code where clipped).
    """

    @staticmethod
    def forward(ctx, y, step, strength, bits, candidates, temperature):
        bits = bits.to(y.dtype)
        codes = Q.quantize_activation_int(y, step, bits)
        ctx.save_for_backward(y, step, strength, bits, codes)
        ctx.candidates, ctx.temperature = candidates, temperature
        return codes * step

    @staticmethod
    def backward(ctx, grad_out):
        y, step, strength, bits, codes = ctx.saved_tensors
        clipped = y >= step * Q.activation_qmax(bits)
        inside = (y > 0) & ~clipped
        grad_y = grad_out * inside
        grad_step = None
        if ctx.needs_input_grad[1]:
            local = torch.where(inside, codes - y / step, torch.where(clipped, codes, 0.0))
            grad_step = (grad_out * local).sum().reshape(step.shape)
        grad_strength = None
        if ctx.needs_input_grad[2] and len(ctx.candidates) > 1:
            cands = ctx.candidates
            slopes = Q.gate_slopes(strength, len(cands), ctx.temperature).expand(y.shape[1], -1)
            contrib = torch.zeros_like(slopes)
            unclipped = torch.round(y.clamp_min(0.0) / step)
            for k in range(1, len(cands)):
                if float(slopes[:, k - 1].max()) > _NEGLIGIBLE_SLOPE:
                    # Two candidates differ only where the lower one saturates.
                    low, high = Q.activation_qmax(cands[k - 1]), Q.activation_qmax(cands[k])
                    diff = (unclipped.clamp(low, high) - low) * step
                    contrib[:, k - 1] = (grad_out * diff).sum(0)
            grad_strength = _strength_grad(strength, slopes, contrib)
        return grad_y, grad_step, grad_strength, None, None, None
