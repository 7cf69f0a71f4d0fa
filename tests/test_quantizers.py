"""Quantizer math against an independent plain-integer implementation."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skqat._qat import quantizers as Q
from skqat._qat.levels import Workspace, build_levels, side_slopes
from skqat._qat.ste import GradientSum, QuantLinearFunction, QuantReLUFunction


def _round_half_even(x):
    return np.rint(x)


def reference_weight_codes(w, bits, step):
    """Symmetric codes written out with Python integers, one element at a time (0 bits: 0)."""
    codes = np.empty(w.shape, dtype=np.int64)
    qmax = 1 if bits == 1 else 2 ** (bits - 1) - 1 if bits else 0
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            if bits == 1:
                codes[i, j] = int(math.copysign(1, w[i, j]))  # the sign bit: -0.0 is -1
            else:
                c = int(_round_half_even(w[i, j] / step[i]))
                codes[i, j] = max(-qmax, min(qmax, c))
    return codes


def reference_activation_codes(y, step, bits):
    qmax = 2 ** bits - 1
    out = np.empty(y.shape, dtype=np.int64)
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            c = int(_round_half_even(max(y[i, j], 0.0) / step))
            out[i, j] = min(qmax, c)
    return out


weights = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 9)),
                 elements=st.floats(-4, 4, allow_subnormal=False))


@settings(max_examples=60, deadline=None)
@given(w=weights, bits=st.sampled_from([0, 1, 2, 3, 4, 8, 12, 16]))
def test_weight_codes_match_plain_integer_reference(w, bits):
    wt = torch.as_tensor(w)
    step = Q.weight_step(wt, bits)
    assert torch.isfinite(step).all() and (step > 0).all()
    codes = Q.quantize_weight_int(wt, bits, step).numpy()
    np.testing.assert_array_equal(codes, reference_weight_codes(w, bits, step.numpy()))
    qmax = 1 if bits == 1 else 2 ** (bits - 1) - 1 if bits else 0
    assert np.abs(codes).max() <= qmax


@settings(max_examples=40, deadline=None)
@given(w=weights, data=st.data())
def test_per_row_bits_equal_row_by_row_quantization(w, data):
    bits = data.draw(st.lists(st.sampled_from([0, 1, 2, 4, 8]), min_size=w.shape[0],
                              max_size=w.shape[0]))
    wt = torch.as_tensor(w)
    joint = Q.quantize_weight(wt, torch.tensor(bits))
    for i, b in enumerate(bits):
        np.testing.assert_array_equal(joint[i].numpy(), Q.quantize_weight(wt[i:i + 1], b)[0].numpy())


nonzero_weights = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 9)),
                        elements=st.floats(-4, 4, allow_subnormal=False).filter(
                            lambda v: abs(v) > 1e-20))


@settings(max_examples=60, deadline=None)
@given(w=nonzero_weights, data=st.data(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_training_codes_are_the_exported_codes(w, data, dtype):
    # The training step's codes (1-bit rows through the same round and clip
    # as the others) equal quantize_weight_int's, which the graph exports,
    # and so does the fake-quantized matrix, for every mix of row bits.
    bits = data.draw(st.lists(st.sampled_from([0, 1, 2, 4, 8]), min_size=w.shape[0],
                              max_size=w.shape[0]))
    wt = torch.as_tensor(w, dtype=dtype)
    rows = Q.weight_rows(torch.tensor(bits), dtype)
    step = Q.step_from_stats(Q.weight_row_stats(wt), rows)
    exported = Q.quantize_weight_int(wt, rows, step)
    if not rows.all_one_bit:
        torch.testing.assert_close(Q.training_codes(wt, rows, step), exported, rtol=0, atol=0)
        # Written into a given tensor (a workspace): the same codes.
        buffer = torch.full_like(wt, np.nan)
        assert Q.training_codes(wt, rows, step, out=buffer) is buffer
        torch.testing.assert_close(buffer, exported, rtol=0, atol=0)
    torch.testing.assert_close(Q.fake_quantize_rows(wt, rows, step), exported * step[:, None],
                               rtol=0, atol=0)


def test_training_codes_differ_only_at_a_zero_weight_of_a_one_bit_row():
    w = torch.tensor([[0.5, -0.0, 0.0, -2.0], [0.0, 1.0, -1.0, 3.0]])
    rows = Q.weight_rows(torch.tensor([1, 4]))
    step = Q.step_from_stats(Q.weight_row_stats(w), rows)
    np.testing.assert_array_equal(Q.quantize_weight_int(w, rows, step)[0].numpy(),
                                  [1, -1, 1, -1])
    np.testing.assert_array_equal(Q.training_codes(w, rows, step)[0].numpy(), [1, 0, 0, -1])
    assert torch.equal(Q.training_codes(w, rows, step)[1], Q.quantize_weight_int(w, rows, step)[1])


@settings(max_examples=60, deadline=None)
@given(y=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
                elements=st.floats(-1e3, 1e3, allow_subnormal=False)),
       step=st.floats(1e-3, 10), bits=st.sampled_from([1, 2, 4, 8, 16]))
def test_activation_codes_match_reference_and_saturate(y, step, bits):
    codes = Q.quantize_activation_int(torch.as_tensor(y), torch.tensor([step], dtype=torch.float64),
                                      bits).numpy()
    np.testing.assert_array_equal(codes, reference_activation_codes(y, step, bits))


def test_one_bit_step_is_mean_absolute_value():
    w = torch.tensor([[1.0, -3.0, 2.0, -2.0]])
    assert float(Q.weight_step(w, 1)) == pytest.approx(2.0)


def test_strength_levels_and_expected_bits():
    s = torch.tensor([0.0, 0.24, 0.25, 0.6, 0.99, 1.0])
    assert Q.strength_to_level(s, 4).tolist() == [0, 0, 1, 2, 3, 3]
    # The gates are a partition of unity: expected bits stay between the extremes.
    e = Q.expected_bits(torch.linspace(0, 1, 101), (1, 2, 4, 8), 0.1)
    assert float(e.min()) >= 1.0 and float(e.max()) <= 8.0
    assert torch.all(e[1:] >= e[:-1])


def test_a_workspace_hands_out_its_own_memory_grown_to_the_largest_request():
    space = Workspace()
    big = space.like((4, 6), torch.float32, torch.device("cpu"))
    assert big.shape == (4, 6) and big.is_contiguous()
    assert space.like((4, 6), torch.float32, torch.device("cpu")) is big  # no new view
    small = space.like((2, 3, 2), torch.float32, torch.device("cpu"))
    assert small.is_contiguous() and small.data_ptr() == big.data_ptr()
    # A larger request or another dtype: memory of its own, in that dtype.
    grown = space.like((5, 6), torch.float32, torch.device("cpu"))
    assert grown.shape == (5, 6) and grown.untyped_storage().nbytes() == 5 * 6 * 4
    double = space.like((4, 6), torch.float64, torch.device("cpu"))
    assert double.dtype == torch.float64 and double.shape == (4, 6)


@pytest.mark.parametrize("candidates", [[1, 2, 4, 8], [0, 1, 2, 4, 8]])
def test_passes_that_share_a_workspace_keep_their_own_saved_tensors(candidates):
    # Two batches through one dense layer and its activation before either
    # backward (what autograd allows): the workspace holds only temporaries,
    # so each backward gives the gradients of a pass run alone.
    codes, weight, bias, in_step, s, levels = _linear_case(candidates, STRENGTHS[0],
                                                           n_samples=14)
    act_s = torch.tensor([0.1, 0.3, 0.6, 0.9, 0.45], dtype=torch.float64)
    act_levels = _levels(act_s, torch.tensor([2, 4, 8]), "activation")
    grad = torch.randn(14, 5, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def leaves():
        return [t.detach().clone().requires_grad_() for t in (weight, s, act_s)]

    def run(rows, params):
        wt, st, at = params
        y = QuantLinearFunction.apply(codes[rows], wt, bias, st, in_step, levels, 0.1)
        step = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
        return QuantReLUFunction.apply(y, step, at, act_levels, 0.1)

    halves = (slice(0, 7), slice(7, 14))
    together = [leaves(), leaves()]
    outs = [run(rows, p) for rows, p in zip(halves, together)]  # both forward passes first
    for out, rows in zip(outs, halves):
        (out * grad[rows]).sum().backward()
    for rows, params in zip(halves, together):
        alone = leaves()
        (run(rows, alone) * grad[rows]).sum().backward()
        for a, b in zip(params, alone):
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


def test_side_slopes_are_the_gate_derivatives_beside_each_level():
    s = torch.linspace(0.0, 1.0, 17, dtype=torch.float64)
    table = torch.tensor([1, 2, 4, 8])
    levels = build_levels(Q.strength_to_level(s, 4), table.tolist(), 17, "weight", torch.float64)
    slopes = torch.as_tensor(side_slopes(s.numpy(), levels, 0.1))  # on the host
    for i, level in enumerate(levels.level.tolist()):
        for side, k in enumerate((level, level + 1)):  # transition k: threshold k / 4
            if not 1 <= k <= 3:
                assert slopes[side, i] == 0
                continue
            x = s[i:i + 1].clone().requires_grad_()
            torch.sigmoid((x - k / 4) / 0.1).backward()
            torch.testing.assert_close(slopes[side, i], x.grad[0])


def test_stacked_bits_equal_one_quantization_per_bit_width():
    w = torch.randn(6, 11, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w[2, 3] = 0.0
    bits = torch.tensor([[1, 2, 4, 8, 16, 1], [2, 2, 1, 1, 8, 16]])
    rows = Q.weight_rows(bits, torch.float64)
    step = Q.step_from_stats(Q.weight_row_stats(w), rows)
    codes = Q.quantize_weight_int(w, rows, step)
    for k in range(2):
        for i in range(6):
            torch.testing.assert_close(codes[k, i] * step[k, i],
                                       Q.quantize_weight(w[i:i + 1], int(bits[k, i]))[0],
                                       rtol=0, atol=0)


def _side_gates(strength, k, temperature):
    """The soft gates (rows, K) with only the two transitions beside each level differentiable.

    g_0 = 1 - u_1, g_k = u_k - u_{k+1}, g_{K-1} = u_{K-1}.
    """
    t = torch.arange(1, k, dtype=strength.dtype) / k
    u = torch.sigmoid((strength[:, None] - t) / temperature)
    level = Q.strength_to_level(strength, k)[:, None]
    kept = (torch.arange(1, k) == level) | (torch.arange(1, k) == level + 1)
    u = torch.where(kept, u, u.detach())
    ones, zeros = torch.ones_like(u[:, :1]), torch.zeros_like(u[:, :1])
    return torch.cat([ones, u], 1) - torch.cat([u, zeros], 1)


def _levels(s, cands, kind):
    return build_levels(Q.strength_to_level(s, len(cands)), cands.tolist(), len(s), kind, s.dtype)


# Mixed levels; all at the lowest (only up sides); all at the top (only down sides).
STRENGTHS = [[0.05, 0.3, 0.49, 0.6, 0.97], [0.01, 0.1, 0.2, 0.12, 0.24], [0.8, 0.9, 0.99, 1.0, 0.76]]


def _linear_case(candidates, strengths, seed=1, n_samples=7):
    """Input codes, weights, bias, input steps and strengths of a 5-neuron layer, float64."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randn(n_samples, 9, generator=gen, dtype=torch.float64).mul_(4).round_()
    weight = torch.randn(5, 9, generator=gen, dtype=torch.float64)
    bias = torch.randn(5, generator=gen, dtype=torch.float64)
    in_step = torch.rand(9, generator=gen, dtype=torch.float64) * 0.5 + 0.1
    s = torch.tensor(strengths, dtype=torch.float64)
    return codes, weight, bias, in_step, s, _levels(s, torch.tensor(candidates), "weight")


@pytest.mark.parametrize("strengths", STRENGTHS)
@pytest.mark.parametrize("candidates", [[1, 2, 4, 8], [0, 1, 2, 4, 8]])
def test_weight_strength_gradient_is_that_of_the_soft_mixture_beside_each_level(strengths,
                                                                                candidates):
    codes, weight, bias, in_step, s, levels = _linear_case(candidates, strengths)
    for t in (codes, weight, bias, s):
        t.requires_grad_()
    grad = torch.randn(7, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = QuantLinearFunction.apply(codes, weight, bias, s, in_step, levels, 0.1)
    (out * grad).sum().backward()
    # The strengths: the soft mixture of the folded weights' quantizations
    # (row i mixes with g(s_i)), against the gradient of the folded weights.
    w = weight.detach() * in_step
    grad_w = grad.T @ codes.detach()
    cands, k = torch.tensor(candidates), len(candidates)
    ref = s.detach().clone().requires_grad_()
    stacked = torch.stack([Q.quantize_weight(w, b) for b in cands.tolist()])
    mixture = (_side_gates(ref, k, 0.1).T[:, :, None] * stacked).sum(0)
    (mixture * grad_w).sum().backward()
    torch.testing.assert_close(s.grad, ref.grad)
    # Forward: every row at its own bits, the bias a whole number of weight
    # steps (0 for a pruned, 0-bit, row).
    bits = cands[Q.strength_to_level(s, k)]
    w_q = Q.quantize_weight(w, bits)
    step = Q.weight_step(w, bits)
    bias_q = torch.as_tensor(np.rint((bias / step).detach().numpy()) * step.numpy()
                             * (bits > 0).numpy())
    torch.testing.assert_close(out, torch.addmm(bias_q, codes.detach(), w_q.T), rtol=0, atol=0)
    # Everything else straight through; the inputs through the quantized weights.
    torch.testing.assert_close(weight.grad, grad_w * in_step)
    torch.testing.assert_close(bias.grad, grad.sum(0))
    torch.testing.assert_close(codes.grad, grad @ w_q)


@pytest.mark.parametrize("strengths", STRENGTHS[:2])
def test_a_strength_step_weighs_the_mean_weight_gradient_of_the_batches_since_the_last(
        strengths):
    # Three batches through one layer, the strengths learning on the third:
    # their gradient is the one of the three batches joined, each batch's
    # output gradient divided by three (the mean weight gradient); the
    # weights get the third batch's own gradient.
    codes, weight, bias, in_step, s, levels = _linear_case([1, 2, 4, 8], strengths,
                                                           n_samples=21)
    grad = torch.randn(21, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    summed = GradientSum()
    for i in range(3):
        rows = slice(7 * i, 7 * (i + 1))
        learn = i == 2
        st, wt = s.clone().requires_grad_(learn), weight.clone().requires_grad_()
        out = QuantLinearFunction.apply(codes[rows], wt, bias, st, in_step, levels, 0.1, summed)
        (out * grad[rows]).sum().backward()
        assert summed.count == (0 if learn else i + 1)
    joined_s = s.clone().requires_grad_()
    joined = QuantLinearFunction.apply(codes, weight, bias, joined_s, in_step, levels, 0.1)
    (joined * grad / 3).sum().backward()
    torch.testing.assert_close(st.grad, joined_s.grad)
    torch.testing.assert_close(wt.grad, (grad[14:].T @ codes[14:]) * in_step)


def _gates(strength, levels, temperature):
    """The sides' gates ``u_k(s)`` (S, n): sigmoid beside each level, 0 where no side."""
    u = torch.sigmoid((strength - torch.as_tensor(levels.side_threshold)) / temperature)
    return u * torch.as_tensor(levels.side_exists)


class _LinearSurrogate(torch.autograd.Function):
    """QuantLinearFunction's backward under a smooth forward with that very gradient.

    Around the point ``ref`` (where the forward ran), the written-out
    surrogate is ``codes @ W.T + b`` with ``W = Q(w_ref) + (w - w_ref) +
    sum_k (u_k(s) - u_k(s_ref)) (Q_upper - Q_lower)`` (quantizations frozen at
    ``ref``) and ``b = round(bias_ref) + (bias - bias_ref)``: gradcheck
    compares the analytic backward with its finite differences.
    """

    @staticmethod
    def forward(ctx, codes, weight, bias, strength, in_step, levels, temperature, ref):
        QuantLinearFunction.forward(ctx, codes, weight, bias, strength, in_step, levels,
                                    temperature)
        w = weight * in_step
        moved = (_gates(strength, levels, temperature)
                 - _gates(ref["strength"], levels, temperature))            # (S, n)
        W = ref["w_q"] + (w - ref["w"]) + (moved[:, :, None] * ref["transitions"]).sum(0)
        return torch.addmm(ref["bias_q"] + (bias - ref["bias"]), codes, W.T)

    @staticmethod
    def backward(ctx, grad_out):
        return (*QuantLinearFunction.backward(ctx, grad_out), None)


@pytest.mark.parametrize("strengths", STRENGTHS)
@pytest.mark.parametrize("candidates", [[1, 2, 4, 8], [0, 1, 2, 4, 8], [2, 4]])
def test_linear_backward_passes_gradcheck_against_its_surrogate(strengths, candidates):
    codes, weight, bias, in_step, s, levels = _linear_case(candidates, strengths)
    s = s.clamp(0.01, 0.99)  # gradcheck's steps must not cross a threshold
    levels = _levels(s, torch.tensor(candidates), "weight")
    w = weight * in_step
    bits = torch.tensor(candidates)[levels.level]
    step = Q.weight_step(w, bits)
    side_q = torch.stack([Q.quantize_weight(w, b) for b in levels.side_bits])
    here = Q.quantize_weight(w, bits)
    ref = dict(strength=s.clone(), w=w, w_q=here, bias=bias.clone(),
               bias_q=torch.round(bias / step) * step * (bits > 0),
               transitions=(side_q - here) * torch.as_tensor(levels.side_sign)[:, :, None])
    inputs = [t.clone().requires_grad_() for t in (codes, weight, bias, s)]
    assert torch.autograd.gradcheck(
        lambda c, wt, b, st: _LinearSurrogate.apply(c, wt, b, st, in_step, levels, 0.1, ref),
        inputs)


class _ReLUSurrogate(torch.autograd.Function):
    """QuantReLUFunction's backward under a smooth forward with that very gradient.

    The value ``codes * step`` moves with ``y`` where the STE passes, with
    the step by LSQ's local gradient, and with the strengths through the
    gates of the frozen transitions; divided by the step at ``ref``.
    """

    @staticmethod
    def forward(ctx, y, step, strength, levels, temperature, ref):
        QuantReLUFunction.forward(ctx, y, step, strength, levels, temperature)
        moved = (_gates(strength, levels, temperature)
                 - _gates(ref["strength"], levels, temperature))           # (S, n)
        value = (ref["value"] + ref["mask"] * (y - ref["y"]) + ref["lsq"] * (step - ref["step"])
                 + (moved[:, None, :] * ref["transitions"]).sum(0))
        return value / ref["step"]

    @staticmethod
    def backward(ctx, grad_codes):
        return (*QuantReLUFunction.backward(ctx, grad_codes), None)


@pytest.mark.parametrize("strengths", [[0.1, 0.4, 0.5, 0.9], [0.4, 0.5, 0.6, 0.4],
                                       [0.1, 0.1, 0.2, 0.3]])
def test_relu_backward_passes_gradcheck_against_its_surrogate(strengths):
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(30, 4, generator=gen, dtype=torch.float64) * 3
    step = torch.tensor([0.3], dtype=torch.float64)
    s = torch.tensor(strengths, dtype=torch.float64)
    cands = torch.tensor([2, 4, 8])
    levels = _levels(s, cands, "activation")
    bits = cands[levels.level]
    qmax = 2.0 ** bits.to(torch.float64) - 1
    r = y / step
    codes = Q.quantize_activation_int(y, step, bits)
    inside = ((r > 0) & (r < qmax)).to(y.dtype)
    unclipped = r.clamp_min(0).round()
    low, high = levels.side_low, levels.side_high
    ref = dict(strength=s.clone(), y=y.clone(), step=step.clone(), value=codes * step,
               mask=inside, lsq=torch.where(r >= qmax, codes, inside * (codes - r)),
               # Q_upper - Q_lower of each side (low and high are its candidates' ranges).
               transitions=step * (torch.minimum(torch.maximum(unclipped, low), high) - low))
    inputs = [t.clone().requires_grad_() for t in (y, step, s)]
    assert torch.autograd.gradcheck(
        lambda yy, st, ss: _ReLUSurrogate.apply(yy, st, ss, levels, 0.1, ref), inputs)


@pytest.mark.parametrize("strengths", [[0.1, 0.4, 0.5, 0.9], [0.4, 0.5, 0.6, 0.4]])
@pytest.mark.parametrize("learn", [True, False])
def test_activation_strength_and_step_gradients(strengths, learn):
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(30, 4, generator=gen, dtype=torch.float64) * 3
    y[0, :2] = torch.tensor([0.0, 255 * 0.3])  # exactly at the two ends of the range
    grad = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    cands = torch.tensor([2, 4, 8])
    step = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    s = torch.tensor(strengths, dtype=torch.float64, requires_grad=learn)
    y.requires_grad_()
    bits = cands[Q.strength_to_level(s, 3)]
    codes = QuantReLUFunction.apply(y, step, s, _levels(s, cands, "activation"), 0.1)
    # The gradient is that of the value codes * step: the next layer folds the step in.
    (codes * step.detach() * grad).sum().backward()
    codes_ref = Q.quantize_activation_int(y.detach(), step.detach(), bits)
    torch.testing.assert_close(codes, codes_ref, rtol=0, atol=0)
    if learn:
        # Strengths: the soft mixture of the candidates' outputs, per neuron (column).
        ref = s.detach().clone().requires_grad_()
        per_cand = torch.stack([Q.quantize_activation_int(y.detach(), step.detach(), b)
                                * step.detach() for b in cands.tolist()])  # (K, n, neurons)
        mixture = (_side_gates(ref, 3, 0.1).T[:, None, :] * per_cand).sum(0)
        (mixture * grad).sum().backward()
        torch.testing.assert_close(s.grad, ref.grad)
    # Inputs: straight through strictly inside the clipping range.
    qmax = 2.0 ** bits.to(torch.float64) - 1
    r = y.detach() / step.detach()
    torch.testing.assert_close(y.grad, grad * ((r > 0) & (r < qmax)))
    # Step: LSQ, written out element by element.
    codes = torch.minimum(torch.round(r.clamp_min(0)), qmax)
    local = torch.where((r > 0) & (r < qmax), codes - r, torch.where(r >= qmax, codes, 0.0))
    torch.testing.assert_close(step.grad, (grad * local).sum().reshape(1))


@pytest.mark.parametrize("strengths", [[0.1, 0.1, 0.1, 0.1], [0.1, 0.4, 0.5, 0.9]])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("flush_denormal", [False, True])
def test_revive_passes_the_gradient_at_an_exact_zero_and_nowhere_else(strengths, dtype,
                                                                      flush_denormal):
    # A layer whose neurons can be pruned (revive) passes the gradient at a
    # pre-activation of exactly 0 (+0 or -0) as well as strictly inside the
    # range, and none below 0. The negative rows stay outside the one band
    # the bound also lets through (ratios within tiny * qmax of 0, which no
    # pre-activation reaches): the closest is a ratio of -tiny * 256.
    gen = torch.Generator().manual_seed(7)
    step = torch.tensor([0.3], dtype=dtype)
    tiny = torch.finfo(dtype).tiny
    y = torch.randn(40, 4, generator=gen, dtype=dtype) * 3
    y[:6, :] = torch.tensor([0.0, -0.0, -tiny * 256 * 0.3, -1e-30, tiny, 1e-30],
                            dtype=dtype)[:, None] * torch.ones(4, dtype=dtype)
    y[6, :] = 255 * 0.3  # the top of the 8-bit range
    grad = torch.randn(40, 4, generator=gen, dtype=dtype)
    cands = torch.tensor([2, 4, 8])
    s = torch.tensor(strengths, dtype=dtype)
    levels = _levels(s, cands, "activation")
    yy, st = y.clone().requires_grad_(), step.clone().requires_grad_()
    try:  # torch has no getter for the setting; off is its default
        torch.set_flush_denormal(flush_denormal)
        codes = QuantReLUFunction.apply(yy, st, s, levels, 0.1, True)
        (codes * grad).sum().backward()
    finally:
        torch.set_flush_denormal(False)
    qmax = 2.0 ** cands[levels.level].to(dtype) - 1
    r = y / step
    passes = ((r > 0) & (r < qmax)) | (r == 0)
    grad_out = grad / step
    torch.testing.assert_close(yy.grad, grad_out * passes, rtol=0, atol=0)
    assert passes[:2].all() and not passes[2:4].any()
    # The step's LSQ gradient weighs the revived entries by their ratio, 0.
    ref_codes = torch.minimum(torch.round(r.clamp_min(0)), qmax)
    local = torch.where(passes, ref_codes - r, torch.where(r >= qmax, ref_codes, 0.0))
    torch.testing.assert_close(st.grad, (grad_out * local).sum().reshape(1))
