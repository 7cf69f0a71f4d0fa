"""The training pass without the autograd engine: the tape and the written-out losses.

Both must give what autograd gives, bit for bit: the training step uses them
in place of ``loss.backward()``, and a fitted model must not depend on which.
"""

import numpy as np
import pytest
import torch

from skqat._qat import training
from skqat._qat.data import train_data
from skqat._qat.network import QuantMLP
from skqat._qat.objectives import TASKS, loss_function
from skqat._qat.tape import record_forward
from skqat._qat.training import TrainSettings, train_network


def _network(seed, hidden, weight_bits, per_neuron):
    net = QuantMLP(layer_sizes=[5, *hidden, 3], weight_bits=weight_bits,
                   activation_bits=(2, 4, 8), per_neuron=per_neuron, temperature=0.1,
                   quantized=True, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():  # neurons spread over every level (and some pruned)
        for i, p in enumerate(net.weight_strengths() + net.activation_strengths()):
            p.uniform_(0, 1, generator=torch.Generator().manual_seed(100 * seed + i))
    return net


def _autograd_pass(net, codes, in_step, grad_out):
    for p in net.parameters():
        p.grad = None
    out = net(codes, in_step)
    out.backward(grad_out)
    return out.detach(), {name: p.grad for name, p in net.named_parameters()}


def _tape_pass(net, codes, in_step, grad_out):
    for p in net.parameters():
        p.grad = None
    with torch.no_grad():
        out, tape = record_forward(net, codes, in_step)
        tape.backward(grad_out)
    return out, {name: p.grad for name, p in net.named_parameters()}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("hidden, weight_bits, per_neuron", [
    ((8,), (1, 2, 4, 8), True),
    ((8, 6), (0, 1, 2, 4, 8), True),   # prunable hidden neurons: their gradient passes at 0
    ((8, 6), (1, 2, 4), False),        # one strength per layer
    ((7,), (2,), True),                # one candidate: nothing to learn
])
@pytest.mark.parametrize("learn", [True, False])
def test_the_tape_gives_autograds_output_and_gradients_bit_for_bit(seed, hidden, weight_bits,
                                                                    per_neuron, learn):
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(-127, 128, (40, 5), generator=gen).float()
    in_step = torch.rand(5, generator=gen) * 0.1 + 0.01
    grad_out = torch.randn(40, 3, generator=gen)
    results = []
    for run in (_autograd_pass, _tape_pass):
        net = _network(seed, hidden, weight_bits, per_neuron)
        for p in net.weight_strengths() + net.activation_strengths():
            p.requires_grad_(learn)
        for lin in net.linears:  # on a batch that does not learn, the layers sum theirs
            lin.collect_gradients = not learn
        results.append(run(net, codes, in_step, grad_out))
        if not learn:  # what the layers summed for the next strength step
            results[-1][1].update({f"sum{i}": lin.gradient_sum.total
                                   for i, lin in enumerate(net.linears)})
    (out_a, grads_a), (out_t, grads_t) = results
    assert torch.equal(out_a, out_t)
    assert grads_a.keys() == grads_t.keys()
    for name, grad in grads_a.items():
        if grad is None:
            assert grads_t[name] is None, name
        else:
            assert torch.equal(grad, grads_t[name]), name
    learned = [g for name, g in grads_t.items() if name.endswith("strength") and g is not None]
    assert bool(learned) == learn  # the activations have several candidates in every case


def _batch(task, n_outputs, seed):
    gen = torch.Generator().manual_seed(seed)
    out = torch.randn(60, n_outputs, generator=gen) * 3
    if task == "multiclass":
        target = torch.randint(0, n_outputs, (60,), generator=gen)
    elif task == "binary":
        target = (torch.rand(60, generator=gen) > 0.5).float()
    elif task == "multilabel":
        target = (torch.rand(60, n_outputs, generator=gen) > 0.5).float()
    else:
        target = torch.randn(60, n_outputs, generator=gen)
    return out, target


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("weights", ["none", "random", "some zero"])
def test_a_batch_loss_and_its_gradient_are_autograds_bit_for_bit(task, weights):
    loss_fn = loss_function(task)
    for seed, n_outputs in enumerate([1] if task == "binary" else [1, 4]):
        out, target = _batch(task, n_outputs, seed)
        weight = None if weights == "none" else torch.rand(60) * 3
        if weights == "some zero":
            weight[::3] = 0.0
        leaf = out.clone().requires_grad_()
        per_sample = loss_fn(leaf, target)
        expected = (per_sample.mean() if weight is None
                    else (per_sample * weight).sum() / weight.sum().clamp_min(1e-12))
        expected_grad, = torch.autograd.grad(expected, leaf)
        loss, grad = loss_fn.batch(out, target, weight)
        assert torch.equal(loss, expected.detach())
        assert torch.equal(grad, expected_grad)
        assert grad.shape == out.shape and not grad.requires_grad


def test_training_with_the_written_out_loss_equals_training_through_autograd():
    # Any per-sample loss trains (through autograd on the output); the tasks'
    # own give the same model, bit for bit.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    y = np.digitize(X[:, 0] + X[:, 1] * X[:, 2], [-0.5, 0.5])
    data = train_data(X, y, rng.uniform(0.5, 2, 300), scale=np.full(5, 127 / 6),
                      offset=np.zeros(5), bits=8, in_step=np.full(5, 6 / 127), device="cpu")
    settings = TrainSettings(alpha=1e-4, batch_size=50, learning_rate_init=0.01,
                             strength_learning_rate=0.01, max_iter=6, tol=0.0, shuffle=True,
                             early_stopping=False, n_iter_no_change=np.inf, verbose=False,
                             bit_budget=2.0, activation_bit_budget=None, bit_price=0.0,
                             activation_bit_price=0.0, learn_bits=True)
    task_loss = loss_function("multiclass")
    states = []
    for loss_fn in (task_loss, lambda out, t: task_loss(out, t)):
        net = _network(0, (8,), (1, 2, 4, 8), True)
        history, _ = train_network(net, data, None, settings, torch.Generator().manual_seed(0),
                                   loss_fn, lambda out, t, w: 0.0)
        states.append((history.loss_curve, net.parameters_numpy()))
    assert states[0][0] == states[1][0]
    for key, arrays in states[0][1].items():
        for a, b in zip(arrays, states[1][1][key]):
            np.testing.assert_array_equal(a, b, err_msg=key)


def test_the_training_step_runs_a_quantized_network_without_the_autograd_engine(monkeypatch):
    # The float network keeps autograd (its layers are plain torch); a
    # quantized one never calls backward on a graph.
    calls = []
    monkeypatch.setattr(torch.Tensor, "backward",
                        lambda self, *a, **k: calls.append(self) or None)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    data = train_data(X, (X[:, 0] > 0).astype(np.float32), np.ones(100),
                      scale=np.full(5, 127 / 6), offset=np.zeros(5), bits=8,
                      in_step=np.full(5, 6 / 127), device="cpu")
    settings = TrainSettings(alpha=1e-4, batch_size=50, learning_rate_init=0.01,
                             strength_learning_rate=0.01, max_iter=1, tol=0.0, shuffle=True,
                             early_stopping=False, n_iter_no_change=np.inf, verbose=False,
                             bit_budget=None, activation_bit_budget=None, bit_price=0.0,
                             activation_bit_price=0.0, learn_bits=True)
    net = QuantMLP(layer_sizes=[5, 8, 1], weight_bits=(1, 2, 4, 8), activation_bits=(4, 8),
                   per_neuron=True, temperature=0.1, quantized=True,
                   generator=torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in net.parameters()]
    trainer = training._Trainer(net, data, None, settings, torch.Generator().manual_seed(0),
                                loss_function("binary"), None)
    trainer.epoch(learn_bits=True)
    assert calls == []
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_recording_a_float_network_is_refused():
    # Its plain torch layers would run past the tape and leave it empty.
    net = QuantMLP(layer_sizes=[5, 8, 1], weight_bits=(1, 2), activation_bits=(4, 8),
                   per_neuron=True, temperature=0.1, quantized=False,
                   generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="quantized network"):
        record_forward(net, torch.zeros(3, 5), torch.ones(5))
