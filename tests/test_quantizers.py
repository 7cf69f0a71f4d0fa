"""Quantizer math against an independent plain-integer implementation."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skqat._qat import quantizers as Q
from skqat._qat.levels import build_levels, side_slopes
from skqat._qat.ste import ActivationQuantizeSTE, WeightQuantizeSTE


def _round_half_even(x):
    return np.rint(x)


def reference_weight_codes(w, bits, step):
    """Symmetric codes written out with Python integers, one element at a time (0 bits: 0)."""
    codes = np.empty(w.shape, dtype=np.int64)
    qmax = 1 if bits == 1 else 2 ** (bits - 1) - 1 if bits else 0
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            if bits == 1:
                codes[i, j] = 1 if w[i, j] >= 0 else -1
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


def test_side_slopes_are_the_gate_derivatives_beside_each_level():
    s = torch.linspace(0.0, 1.0, 17, dtype=torch.float64)
    table = torch.tensor([1, 2, 4, 8])
    levels = build_levels(Q.strength_to_level(s, 4), table.tolist(), 17, "weight", torch.float64)
    slopes = side_slopes(s, levels, 0.1)
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


@pytest.mark.parametrize("strengths", STRENGTHS)
@pytest.mark.parametrize("candidates", [[1, 2, 4, 8], [0, 1, 2, 4, 8]])
def test_weight_strength_gradient_is_that_of_the_soft_mixture_beside_each_level(strengths,
                                                                                candidates):
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(5, 9, generator=gen, dtype=torch.float64)
    bias = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(5, 9, generator=gen, dtype=torch.float64)
    cands, k = torch.tensor(candidates), len(candidates)
    s = torch.tensor(strengths, dtype=torch.float64, requires_grad=True)
    out, bias_q = WeightQuantizeSTE.apply(w, bias, s, _levels(s, cands, "weight"), 0.1)
    (out * grad).sum().backward(retain_graph=True)
    ref = s.detach().clone().requires_grad_()
    stacked = torch.stack([Q.quantize_weight(w, b) for b in cands.tolist()])
    mixture = (_side_gates(ref, k, 0.1).T[:, :, None] * stacked).sum(0)  # row i mixes with g(s_i)
    (mixture * grad).sum().backward()
    torch.testing.assert_close(s.grad, ref.grad)
    # Every row at its own bits; the bias a whole number of weight steps (0 for a
    # pruned, 0-bit, row), gradient straight through.
    bits = cands[Q.strength_to_level(s, k)]
    torch.testing.assert_close(out, Q.quantize_weight(w, bits), rtol=0, atol=0)
    step = Q.weight_step(w, bits)
    np.testing.assert_array_equal(bias_q.detach().numpy(),
                                  np.rint((bias / step).detach().numpy()) * step.numpy()
                                  * (bits > 0).numpy())
    torch.testing.assert_close(bias.grad, torch.zeros_like(bias))
    bias_q.sum().backward()
    torch.testing.assert_close(bias.grad, torch.ones_like(bias))


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
    out = ActivationQuantizeSTE.apply(y, step, s, _levels(s, cands, "activation"), 0.1)
    (out * grad).sum().backward()
    codes_ref = Q.quantize_activation_int(y.detach(), step.detach(), bits)
    torch.testing.assert_close(out, codes_ref * step.detach(), rtol=0, atol=0)
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
    torch.testing.assert_close(y.grad, grad * ((r > 0) & (r < qmax)), rtol=0, atol=0)
    # Step: LSQ, written out element by element.
    codes = torch.minimum(torch.round(r.clamp_min(0)), qmax)
    local = torch.where((r > 0) & (r < qmax), codes - r, torch.where(r >= qmax, codes, 0.0))
    torch.testing.assert_close(step.grad, (grad * local).sum().reshape(1))
