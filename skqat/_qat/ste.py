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

Each is one ``torch.autograd.Function`` per layer, fused: :class:`QuantLinearFunction`
is the weight quantizer, the bias rounding and the matrix product, and
:class:`QuantReLUFunction` the clipped ReLU and its rounding to codes. Their
backward passes are written out (the STE, LSQ and the strength gradients), so
that a layer is one node of the autograd graph and each pass over its
matrices computes only what the gradients need. The forward never evaluates
the soft mixture (``w_soft + (w_hard - w_soft).detach()`` would evaluate every
candidate on every step).
"""

import functools

import torch
from torch.nn import functional as F

from . import quantizers as Q
from .host import host_constant
from .levels import side_slopes


def _gate_gradient(contrib, strength, levels, temperature, host_strength):
    """``sum over sides of slope * contribution``, per strength, on the host.

    ``contrib`` is a numpy array (S, n); ``host_strength`` gives the
    strengths' values as numpy (None: read from ``strength``, a copy).
    """
    values = (strength.detach().cpu().numpy() if host_strength is None
              else host_strength())
    grad = (side_slopes(values, levels, temperature) * contrib).sum(0)
    if strength.numel() == 1:  # one strength for the layer: the neurons' contributions add up
        grad = grad.sum(keepdims=True)
    return host_constant(grad, strength.dtype, strength.device)


class GradientSum:
    """The folded weights' gradients of a layer's batches since its strengths last learned.

    The strengths learn on one batch in a few (``training.py``); on that
    batch their gradient is taken against the mean weight gradient of every
    batch since the last, so that each batch still informs them. A batch
    that does not learn adds its gradient (one operation).
    """

    def __init__(self):
        self.total = None
        self.count = 0

    def add(self, grad_w):
        """Add one batch's gradient of the folded weights."""
        if self.count and self.total.shape == grad_w.shape:
            self.total.add_(grad_w)
        elif self.total is not None and self.total.shape == grad_w.shape:
            self.total.copy_(grad_w)
        else:
            self.total = grad_w.clone()
        self.count += 1

    def take(self, grad_w):
        """The sum of the gradients so far and ``grad_w``, and how many; empties the sum."""
        count, self.count = self.count, 0
        if not count or self.total.shape != grad_w.shape:
            return grad_w, 1
        return self.total.add_(grad_w), count + 1


class QuantLinearFunction(torch.autograd.Function):
    """A dense layer on quantized weights with per-neuron learned bit-widths.

    ``apply(codes, weight, bias, strength, in_step, levels, temperature)``
    returns ``codes @ Q(weight * in_step).T + round(bias)``: the input steps
    ``in_step`` are folded into the weights, each row of which is quantized
    at the bit-width its :class:`~skqat._qat.levels.Levels` give, and the
    bias is rounded to a multiple of each row's weight step (the integer
    graph stores it in that unit; 0 for a 0-bit, pruned, row).

    Backward: the weights and the bias get their gradient straight through
    the quantizers, ``in_step`` none; the strengths get the gate mixture's
    derivative over the two transitions beside each level. Two optional
    arguments follow ``temperature``: ``gradient_sum``, a :class:`GradientSum`
    that a batch whose strengths do not learn adds its weight gradient to, and
    whose mean the next strength gradient is taken against; and
    ``host_strength``, a callable giving the strengths as numpy (the gates are
    computed on the host).
    """

    @staticmethod
    def forward(ctx, codes, weight, bias, strength, in_step, levels, temperature,
                gradient_sum=None, host_strength=None):
        learn = ctx.needs_input_grad[3] and levels.side_bits.size > 0
        rows, sides = levels.weight, levels.side_weight if learn else ()
        w = weight * in_step
        stats = Q.row_stats_for(w, rows, *sides)
        step = Q.step_from_stats(stats, rows)
        # The sign codes serve a layer all at 1 bit here, and a side all at 1 bit in backward.
        signs = Q.sign_codes(w) if any(r.all_one_bit for r in (rows, *sides)) else None
        w_q = Q.fake_quantize_rows(w, rows, step, signs)
        bias_q = torch.div(bias, step).round_().mul_(step)
        if rows.any_zero:
            bias_q.mul_(rows.kept)
        ctx.levels, ctx.temperature, ctx.learn = levels, temperature, learn
        ctx.gradient_sum, ctx.host_strength = gradient_sum, host_strength
        if learn:  # what the strengths' gradient needs besides
            ctx.save_for_backward(codes, w_q, in_step, w, strength, signs, *stats[:3])
            ctx.fan_in = stats.fan_in
        else:
            ctx.save_for_backward(codes, w_q, in_step)
        return F.linear(codes, w_q, bias_q)

    @staticmethod
    def backward(ctx, grad_out):
        codes, w_q, in_step, *learned = ctx.saved_tensors
        need = ctx.needs_input_grad
        grad_codes = grad_out.mm(w_q) if need[0] else None
        # The gradient of the folded weights, straight through the quantizer.
        summed = ctx.gradient_sum
        grad_w = grad_out.t().mm(codes) if need[1] or ctx.learn or summed else None
        if summed is not None and not ctx.learn:
            summed.add(grad_w)
        grad_strength = None
        if ctx.learn:
            w, strength, signs, *stats = learned
            stats = Q.RowStats(*stats, ctx.fan_in)
            total, count = (grad_w, 1) if summed is None else summed.take(grad_w)
            # Against the mean weight gradient: the products are linear in it.
            contrib = _weight_side_contributions(w, w_q, total, signs, stats, ctx.levels) / count
            grad_strength = _gate_gradient(contrib, strength, ctx.levels, ctx.temperature,
                                           ctx.host_strength)
        elif need[3]:  # one candidate: nothing to learn
            grad_strength = torch.zeros_like(ctx.levels.level, dtype=grad_out.dtype)
        # In place: nothing reads grad_w any more (the strengths' products came first).
        grad_weight = grad_w.mul_(in_step) if need[1] else None
        grad_bias = grad_out.sum(0) if need[2] else None
        return grad_codes, grad_weight, grad_bias, grad_strength, None, None, None, None, None


def _weight_side_contributions(w, w_q, grad_w, signs, stats, levels):
    """``<grad, Q_upper - Q_lower>`` per row, for each side's transition: numpy (S, n_out)."""
    # <grad, Q> per row at the neuron's bits and one level down / up, side
    # by side as plain (n_out, n_in) passes (broadcasting over a stacked side
    # dimension is several times slower on CPU), each written into a row of
    # the scratch that the host reads. A side all at 1 bit is the sign
    # codes' product, times each row's 1-bit step. Each row sum is a product
    # then a sum (as torch.linalg.vecdot computes it), the codes and the
    # product written into the layer's workspace: on CPU a fresh matrix for
    # each costs more than the product.
    out = levels.scratch.target
    buffer = levels.workspace.like(w.shape, w.dtype, w.device)
    sign_dot = None
    for i, rows in enumerate(levels.side_weight):
        step = Q.step_from_stats(stats, rows)
        if rows.all_one_bit:
            if sign_dot is None:
                sign_dot = torch.mul(signs, grad_w, out=buffer).sum(1)
            torch.mul(sign_dot, step, out=out[i])
        else:
            codes = Q.training_codes(w, rows, step, out=buffer)
            torch.mul(codes.mul_(grad_w).sum(1), step, out=out[i])
    torch.sum(torch.mul(w_q, grad_w, out=buffer), 1, out=out[-1])
    sums = levels.scratch.read()
    # Q_l - Q_{l-1} below, Q_{l+1} - Q_l above.
    return (sums[:len(levels.side_weight)] - sums[-1]) * levels.side_sign


@functools.lru_cache(maxsize=None)
def _below_zero(dtype):
    """Minus the smallest normal number of ``dtype``: a lower bound that lets an exact 0 pass.

    What else passes with it is a pre-activation less than ``tiny * qmax``
    steps below 0 (under 1e-33 steps in float32), which no training produces.
    The smallest subnormal would be closer still, but
    ``torch.set_flush_denormal(True)`` would turn it into 0 and stop the pass.
    """
    return -torch.finfo(dtype).tiny


class QuantReLUFunction(torch.autograd.Function):
    """Quantized ReLU with a shared step and per-neuron learned bit-widths, as codes.

    ``apply(y, step, strength, levels, temperature, revive)`` returns the
    integer codes ``clip(round(relu(y) / step), 0, 2^b - 1)`` of
    pre-activations ``y`` (n_samples, n_out), each neuron at the bit-width
    its :class:`~skqat._qat.levels.Levels` give: the next layer's input,
    whose value is ``codes * step``. The gradients are those of that value:
    ``y`` gets the straight-through gradient below the clipping level; the
    step gets the LSQ gradient (``round(a/step) - a/step`` inside the range,
    the top code where clipped). With ``revive`` (a layer whose neurons can
    be pruned), ``y`` exactly 0 passes its gradient too: see ``backward``.
    An optional ``host_strength`` follows: as :class:`QuantLinearFunction`'s.
    """

    @staticmethod
    def forward(ctx, y, step, strength, levels, temperature, revive=False, host_strength=None):
        ratio = y / step
        qmax, same = levels.activation_qmax, levels.same_activation_qmax
        learn = ctx.needs_input_grad[2]
        if learn:  # the strength gradient needs the unclipped codes
            unclipped = ratio.clamp_min(0.0).round_()
            codes = torch.minimum(unclipped, qmax)
        elif same is not None:
            unclipped, codes = None, ratio.clamp(0.0, same).round_()
        else:
            unclipped, codes = None, torch.minimum(ratio.clamp_min(0.0).round_(), qmax)
        if learn:
            ctx.save_for_backward(ratio, codes, step, unclipped, strength)
        else:
            ctx.save_for_backward(ratio, codes, step)
        ctx.levels, ctx.temperature, ctx.revive = levels, temperature, revive
        ctx.host_strength = host_strength
        return codes

    @staticmethod
    def backward(ctx, grad_codes):
        ratio, codes, step, *learned = ctx.saved_tensors
        levels = ctx.levels
        # The gradient of the value codes * step (the next layer folds the step in).
        grad_out = grad_codes / step
        # The gradient passes strictly inside (0, qmax): hardtanh's backward
        # kernel, one pass, on the ratio in units of each neuron's range
        # (IEEE division keeps ratio < qmax exactly as ratio / qmax < 1).
        # With revive, a pruned neuron (0 weight bits, 0 bias) outputs exactly
        # 0, and its gradient passes there as if it were alive, so that its
        # weights keep learning and its strength sees what reviving it would
        # buy: the lower bound is then just below 0, in the same pass.
        low = _below_zero(ratio.dtype) if ctx.revive else 0.0
        same = levels.same_activation_qmax
        if same is None:
            grad_y = torch.ops.aten.hardtanh_backward(grad_out, ratio / levels.activation_qmax,
                                                      low, 1.0)
        else:
            grad_y = torch.ops.aten.hardtanh_backward(grad_out, ratio, low, same)
        grad_strength = None
        if ctx.needs_input_grad[2]:
            unclipped, strength = learned
            # Two candidates differ only where the lower one saturates:
            # Q_hi - Q_lo = step * (min(max(u, lo), hi) - lo), u the unclipped code.
            low, high = levels.side_low, levels.side_high      # (S, 1, n)
            # In place in the layer's workspace (a fresh (S, n_samples, n) for
            # each operation costs more than its pass); the product then the sum,
            # as vecdot.
            diff = levels.workspace.like((len(low), *unclipped.shape), unclipped.dtype,
                                         unclipped.device)
            torch.maximum(unclipped, low, out=diff)
            torch.minimum(diff, high, out=diff).sub_(low).mul_(grad_out)
            torch.mul(diff.sum(1), step, out=levels.scratch.target)      # (S, n)
            sums = levels.scratch.read()[:len(low)]
            grad_strength = _gate_gradient(sums, strength, levels, ctx.temperature,
                                           ctx.host_strength)
        grad_step = None
        if ctx.needs_input_grad[1]:
            # LSQ: codes - y/step inside, codes where clipped, 0 below (codes are 0 there).
            # Over grad_out, which nothing reads after this (the division above made it).
            grad_step = grad_out.mul_(codes).addcmul_(grad_y, ratio, value=-1.0)
            grad_step = grad_step.sum().reshape(step.shape)
        return grad_y, grad_step, grad_strength, None, None, None, None
