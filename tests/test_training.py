"""The torch training layer on its own: phases, budgets, increments, sparse rows, errors."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch.nn import functional as F

from skqat._qat.data import train_data
from skqat._qat.levels import build_levels
from skqat._qat.network import QuantMLP
from skqat._qat.optim import AdamGroups, adam_step
from skqat._qat import projection, training
from skqat._qat import quantizers as Q
from skqat._qat.projection import project_network
from skqat._qat.training import TrainSettings, train_increment, train_network


def _settings(**overrides):
    base = dict(alpha=1e-4, batch_size=50, learning_rate_init=0.01,
                strength_learning_rate=0.01, max_iter=20, tol=0.0, shuffle=True,
                early_stopping=False, n_iter_no_change=np.inf, verbose=False,
                bit_budget=None, activation_bit_budget=None, bit_price=0.0,
                activation_bit_price=0.0, learn_bits=True)
    return TrainSettings(**{**base, **overrides})


def _problem(seed=0, n=300, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    y = (X[:, 0] - 2 * X[:, 1] + X[:, 2] * X[:, 3] > 0).astype(np.float32)
    scale, offset = np.full(6, 127 / 6), np.zeros(6)
    data = train_data(sp.csr_matrix(X) if sparse else X, y, np.ones(n), scale=scale,
                      offset=offset, bits=8, in_step=np.full(6, 6 / 127), device="cpu")
    return data


def _net(seed=0):
    return QuantMLP(layer_sizes=[6, 16, 1], weight_bits=(1, 2, 4, 8), activation_bits=(4, 8),
                    per_neuron=True, temperature=0.1, quantized=True,
                    generator=torch.Generator().manual_seed(seed))


def _loss(out, t):
    return F.binary_cross_entropy_with_logits(out[:, 0], t, reduction="none")


def _accuracy(out, t, w):
    return float((((out[:, 0] > 0).float() == t) * w).sum() / w.sum())


def test_sparse_rows_encode_as_the_dense_ones():
    dense, sparse = _problem(), _problem(sparse=True)
    idx = torch.tensor([5, 0, 299, 17])
    torch.testing.assert_close(sparse.rows(idx), dense.rows(idx), rtol=0, atol=0)
    blocks = torch.cat([codes for _, codes in sparse.blocks()])
    torch.testing.assert_close(blocks, dense.codes, rtol=0, atol=0)


@pytest.mark.parametrize("bit_budget", [None, 1.5])
def test_phases_run_max_iter_epochs_and_the_budget_holds(bit_budget):
    net = _net()
    settings = _settings(bit_budget=bit_budget, activation_bit_budget=None)
    history, state = train_network(net, _problem(), None, settings, torch.Generator()
                                   .manual_seed(0), _loss, _accuracy)
    # With a budget the last tenth is the frozen phase; without, every epoch learns bits.
    assert history.n_iter == settings.max_iter == len(history.loss_curve)
    if bit_budget is not None:
        assert net.hard_mean_bits()[0] <= bit_budget
        # Frozen in the last phase: Adam never updated the strengths there.
        ids = [id(p) for p in net.parameters()]
        assert state.exp_avg[ids.index(id(net.linears[0].strength))] is None
    assert history.loss_curve[-1] < history.loss_curve[0]


def test_stopping_rule_stops_after_n_iter_no_change():
    settings = _settings(tol=1e9, n_iter_no_change=3, max_iter=50, learn_bits=False)
    history, _ = train_network(_net(), _problem(), None, settings,
                               torch.Generator().manual_seed(0), _loss, _accuracy)
    # The first epoch improves on infinity, the next four do not by tol: stop.
    assert history.n_iter == 5 and history.converged and history.no_improvement_count == 4


def test_early_stopping_restores_the_best_within_budget_epoch():
    settings = _settings(early_stopping=True, bit_budget=2.0, max_iter=10)
    history, _ = train_network(_net(), _problem(0), _problem(1, n=100), settings,
                               torch.Generator().manual_seed(0), _loss, _accuracy)
    assert len(history.validation_scores) == 10
    assert history.best_validation_score == max(history.validation_scores)


def test_increments_continue_the_optimizer_and_project_every_call():
    data, settings = _problem(), _settings(bit_budget=1.5, activation_bit_budget=5)
    net, gen = _net(), torch.Generator().manual_seed(0)
    history, state = train_increment(net, data, settings, gen, _loss)
    assert history.n_iter == 1 and max(state.steps) == 6  # 300 rows in batches of 50
    for _ in range(3):
        _, state = train_increment(net, data, settings, torch.Generator(), _loss, state)
        mean_w, mean_a = net.hard_mean_bits()
        assert mean_w <= 1.5 and mean_a <= 5
    assert max(state.steps) == 24


def test_strengths_learn_on_one_batch_in_four_across_increments():
    # One batch per call: a stream of calls learns its strengths as one long fit does.
    assert training._STRENGTH_EVERY == 4
    data, settings = _problem(n=50), _settings(batch_size=50)
    net = _net()
    strengths = net.weight_strengths() + net.activation_strengths()
    state, moved = None, []
    for _ in range(8):
        before = [p.detach().clone() for p in strengths]
        _, state = train_increment(net, data, settings, torch.Generator().manual_seed(0), _loss,
                                   state)
        moved.append(any(not torch.equal(a, p) for a, p in zip(before, strengths)))
    assert moved == [True, False, False, False] * 2
    names = [name for name, _ in net.named_parameters()]
    steps = dict(zip(names, state.steps))
    assert (steps["linears.0.weight"], steps["linears.0.strength"]) == (8, 2)
    # The strengths' noise (mean_gradient_adam_) crosses the calls with Adam's
    # moments: the two steps' gradients differ, the weights keep none.
    noise = dict(zip(names, state.grad_noise))
    assert noise["linears.0.strength"].any() and noise["linears.0.weight"] is None
    assert dict(zip(names, state.previous_grad))["linears.0.strength"] is not None
    # A quarter of the steps at four times the rate, Adam's decay rates to the
    # fourth power: per batch, the drift and the memory of a step on every batch.
    group = training._Trainer(net, data, None, settings, torch.Generator(), _loss,
                              None).opt.param_groups[1]
    assert group["kind"] == "strengths"
    assert group["lr"] == 4 * settings.strength_learning_rate
    assert group["betas"] == pytest.approx((0.9 ** 4, 0.999 ** 4))
    assert group["batches_per_step"] == 4  # the noise of one batch (mean_gradient_adam_)


def test_a_non_finite_loss_stops_training_with_an_actionable_error():
    def exploding(out, t):
        return _loss(out, t) * float("inf")

    with pytest.raises(ValueError, match="non-finite.*lower learning_rate_init"):
        train_network(_net(), _problem(), None, _settings(), torch.Generator().manual_seed(0),
                      exploding, _accuracy)


def _recording_trainer(monkeypatch, settings, val=None):
    """A _Trainer whose epochs record (parameters, hard bits, validation score) after each."""
    from skqat._qat import training

    trainer = training._Trainer(_net(), _problem(0), val, settings,
                                torch.Generator().manual_seed(0), _loss, _accuracy)
    records, epoch = [], trainer.epoch

    def recorded(learn_bits):
        loss = epoch(learn_bits)
        score = trainer._validation_score() if val is not None else None
        records.append(([p.detach().clone() for p in trainer.params],
                        trainer.net.hard_mean_bits(), score))
        return loss

    monkeypatch.setattr(trainer, "epoch", recorded)
    return trainer, records


def test_checkpoint_is_the_last_epoch_within_budget(monkeypatch):
    from skqat._qat import training

    # Which epochs end within budget, scripted: the checkpoint is epoch 3's.
    fits = iter([True, True, False, True, False, False])
    monkeypatch.setattr(training, "_within_budget", lambda *args: next(fits))
    trainer, records = _recording_trainer(monkeypatch, _settings(bit_budget=1.5, max_iter=6))
    checkpoint, _ = trainer.run_phase(6, learn_bits=True)
    assert len(records) == 6
    for saved, expected in zip(checkpoint, records[3][0]):
        torch.testing.assert_close(saved, expected, rtol=0, atol=0)
    assert any(not torch.equal(a, b) for a, b in zip(records[3][0], records[5][0]))
    trainer.restore(checkpoint)
    for param, expected in zip(trainer.params, records[3][0]):
        torch.testing.assert_close(param.detach(), expected, rtol=0, atol=0)


def test_early_stopping_checkpoint_is_the_best_scoring_epoch_within_budget(monkeypatch):
    settings = _settings(early_stopping=True, bit_budget=2.0, max_iter=10)
    trainer, records = _recording_trainer(monkeypatch, settings, val=_problem(1, n=100))
    checkpoint, _ = trainer.run_phase(10, learn_bits=True)
    scores = [(score, -i) for i, (_, (mean_w, _), score) in enumerate(records) if mean_w <= 2.0]
    best = -max(scores)[1]  # the first epoch reaching the best score
    for saved, expected in zip(checkpoint, records[best][0]):
        torch.testing.assert_close(saved, expected, rtol=0, atol=0)


def test_projection_meets_both_budgets_by_lowering_only():
    net, data = _net(), _problem()
    with torch.no_grad():  # every neuron at its highest candidate
        for module in [*net.linears, *net.activations]:
            module.strength.fill_(1.0)
    before_w, before_a = net.weight_bits(), net.activation_bits()
    changed = project_network(net, data, _settings(bit_budget=2.0, activation_bit_budget=6.0),
                              torch.Generator().manual_seed(0))
    mean_w, mean_a = net.hard_mean_bits()
    assert changed and mean_w <= 2.0 and mean_a <= 6.0
    for old, new in zip(before_w + before_a, net.weight_bits() + net.activation_bits()):
        assert np.all(new <= old)
    # Without budgets nothing moves.
    assert not project_network(net, data, _settings(), torch.Generator().manual_seed(0))


def test_the_projection_spends_a_budget_only_where_the_loss_does_not_rise():
    # Raising bits moves a network towards its latent weights, which a
    # network trained at 1 or 2 bits never made exact: the raise is kept
    # only if the loss on the projection sample does not go up.
    def projected_bits(loss_fn):
        net, data = _net(), _problem()
        with torch.no_grad():  # every neuron at 1 bit: room to spend under the budget
            for lin in net.linears:
                lin.strength.fill_(0.0)
        project_network(net, data, _settings(bit_budget=4.0), torch.Generator().manual_seed(0),
                        loss_fn)
        return np.concatenate(net.weight_bits())

    n_sample = len(_problem())
    seen = []

    def worse_after_the_first_evaluation(out, t):
        seen.append(len(out))
        return torch.full((len(out),), float(sum(seen) > n_sample))

    lowered = projected_bits(worse_after_the_first_evaluation)
    np.testing.assert_array_equal(lowered, 1)  # the raise made the loss rise: undone
    spent = projected_bits(lambda out, t: torch.zeros(len(out)))  # the same loss: kept
    np.testing.assert_array_equal(spent, projected_bits(None))
    assert spent.mean() > 2 and (spent * 6).sum() <= 4.0 * 6 * len(spent)


def _mixed_net():
    # Every neuron at a level of its own: the projection's exact checks see every candidate.
    net = _net()
    with torch.no_grad():
        for module in [*net.linears, *net.activations]:
            n = module.strength.numel()
            module.strength.copy_(torch.linspace(0.02, 0.98, n))
        net.activations[0].step.fill_(0.05)
    return net


def test_one_pass_over_the_projection_sample_gives_what_each_measure_computes():
    net, data = _mixed_net(), _problem()
    rows = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    sample = projection._sample_statistics(net, data, rows, _loss)
    # The loss of the same pass, bit for bit the loss of a pass of its own.
    assert sample.loss == projection.sample_loss(net, data, rows, _loss)
    assert projection._sample_statistics(net, data, rows).loss is None
    with torch.no_grad():
        codes = data.rows(rows[:40])
        assert torch.equal(net.layer_inputs(codes, data.in_step).output, net(codes, data.in_step))
    # The activation errors against each candidate's own quantization.
    act, pre = net.activations[0], sample.pre[0]
    a = pre.clamp_min(0.0)
    signal = a.pow(2).mean(0).clamp_min(1e-30)
    step = act.step.detach()
    expected = np.stack([
        ((Q.quantize_activation_int(pre, step, b) * step - a).pow(2).mean(0) / signal).numpy()
        for b in act.candidates], axis=1)
    errors = projection._relative_errors_activations(act, pre)
    np.testing.assert_array_equal(errors, expected)
    assert (errors[:, 0] > errors[:, -1]).any()  # the candidates differ where neurons clip


def test_the_projection_passes_over_its_sample_once_while_no_level_moves(monkeypatch):
    passes = []
    original = QuantMLP.layer_inputs

    def counted(self, codes, in_step):
        passes.append(len(codes))
        return original(self, codes, in_step)

    monkeypatch.setattr(QuantMLP, "layer_inputs", counted)
    net, data = _mixed_net(), _problem()
    met = net.hard_mean_bits()  # budgets already met: nothing to lower before the spend
    project_network(net, data, _settings(bit_budget=met[0] + 1e-6,
                                         activation_bit_budget=met[1] + 1e-6),
                    torch.Generator().manual_seed(0), _loss)
    assert sum(passes) == len(data)
    # An activation level that moves changes the next layer's inputs: measured again
    # for the weights, not for the activations alone.
    for budgets, n_passes in [(dict(), 1), (dict(bit_budget=met[0] + 1e-6), 2)]:
        passes.clear()
        net = _mixed_net()
        project_network(net, data, _settings(activation_bit_budget=4.0, **budgets),
                        torch.Generator().manual_seed(0), _loss)
        assert net.hard_mean_bits()[1] <= 4.0 and sum(passes) == n_passes * len(data)


def test_bits_are_frozen_after_the_projection(monkeypatch):
    from skqat._qat import training

    projected = {}

    def recording_projection(net, *args, **kwargs):
        changed = project_network(net, *args, **kwargs)
        projected["bits"] = net.weight_bits() + net.activation_bits()
        return changed

    monkeypatch.setattr(training, "project_network", recording_projection)
    net = _net()
    settings = _settings(bit_budget=1.5, activation_bit_budget=5.0, max_iter=20)
    train_network(net, _problem(), None, settings, torch.Generator().manual_seed(0), _loss,
                  _accuracy)
    for frozen, final in zip(projected["bits"], net.weight_bits() + net.activation_bits()):
        np.testing.assert_array_equal(frozen, final)


def test_levels_follow_the_strengths():
    net = _net()
    lin = net.linears[0]
    assert set(lin.bits_numpy()) == {1}
    with torch.no_grad():
        lin.strength[:4] = torch.tensor([0.3, 0.6, 0.9, 1.0])
    np.testing.assert_array_equal(lin.bits_numpy()[:5], [2, 4, 8, 8, 1])
    fresh = build_levels(lin.levels().level, lin.candidates, lin.n_neurons, "weight")
    torch.testing.assert_close(lin.levels().side_bits, fresh.side_bits, rtol=0, atol=0)


@pytest.mark.parametrize("per_neuron", [True, False])
def test_expected_bits_gradients_are_those_of_autograd(per_neuron):
    net = QuantMLP(layer_sizes=[6, 16, 8, 2], weight_bits=(0, 1, 2, 4, 8),
                   activation_bits=(2, 4, 8), per_neuron=per_neuron, temperature=0.1,
                   quantized=True, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for i, p in enumerate(net.weight_strengths() + net.activation_strengths()):
            p.uniform_(0, 1, generator=torch.Generator().manual_seed(i))
    weight, activation = net.expected_bits_gradients()
    for mean, strengths, written in [(net.expected_mean_weight_bits, net.weight_strengths(), weight),
                                     (net.expected_mean_activation_bits,
                                      net.activation_strengths(), activation)]:
        reference = torch.autograd.grad(mean(), strengths)
        for a, b in zip(written, reference):  # written on the host, in float64
            torch.testing.assert_close(torch.as_tensor(a, dtype=b.dtype), b)
        assert all(np.abs(a).sum() > 0 for a in written)


def test_adam_step_is_torch_adams_fused_step_bit_for_bit():
    gen = torch.Generator().manual_seed(0)
    pairs = [[torch.nn.Parameter(torch.randn(shape, generator=torch.Generator().manual_seed(i)))
              for i, shape in enumerate([(5, 3), (4,), (3,)])] for _ in range(2)]
    opts = [torch.optim.Adam([{"params": ps[:2], "lr": 1e-2}, {"params": ps[2:], "lr": 0.1}],
                             fused=True) for ps in pairs]
    for it in range(12):
        for i, shape in enumerate([(5, 3), (4,), (3,)]):
            grad = torch.randn(shape, generator=gen)
            for ps in pairs:  # the last parameter has no gradient on some steps
                ps[i].grad = None if it % 3 == 1 and i == 2 else grad.clone()
        opts[0].step()
        adam_step(opts[1])
    for a, b in zip(*pairs):
        assert torch.equal(a, b)
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(opts[0].state[a][key], opts[1].state[b][key])


def _drifts(batch_gradients, every, rebuild):
    """Where one parameter ends under Adam on every batch, or on means of ``every`` batches."""
    p = torch.nn.Parameter(torch.zeros(len(batch_gradients[0])))
    group = {"params": [p], "lr": 1e-3 * every, "kind": "strengths"}
    if every > 1:
        group["betas"] = (0.9 ** every, 0.999 ** every)
        if rebuild:
            group["batches_per_step"] = every
    opt = AdamGroups([group])
    for start in range(0, len(batch_gradients), every):
        p.grad = batch_gradients[start:start + every].mean(0)
        adam_step(opt)
    return p.detach()


@pytest.mark.parametrize("mean", ["settled", "falling"])
def test_mean_gradient_adam_moves_a_noisy_parameter_as_a_step_on_every_batch(mean):
    # Batches whose gradient's mean is a tenth of its noise (a strength near
    # where it settles), or falls from five times the noise to that (a
    # strength on its way), one column per noise draw.
    gen = torch.Generator().manual_seed(0)
    n = 8000 if mean == "settled" else 1000
    drift = 0.1 + (5 * torch.exp(-torch.arange(n) / 500.0)[:, None] if mean == "falling" else 0)
    grads = drift + torch.randn(n, 16, generator=gen, dtype=torch.float64).float()
    every_batch = _drifts(grads, 1, rebuild=False)
    rebuilt = _drifts(grads, 4, rebuild=True)
    assert (every_batch < 0).all()
    np.testing.assert_allclose((rebuilt / every_batch).numpy(), 1.0, atol=0.1)
    if mean == "settled":  # all three sum the same draws; Adam on the bare means
        # divides by a root second moment half as large, and drifts twice as far
        plain = _drifts(grads, 4, rebuild=False)
        np.testing.assert_allclose((plain / every_batch).numpy(), 2.0, atol=0.3)


def test_mean_gradient_adam_is_adams_step_where_the_gradient_is_all_signal():
    grads = torch.tensor([[0.5, -2.0, 1e-3]]).repeat(400, 1)
    np.testing.assert_allclose(_drifts(grads, 4, rebuild=True).numpy(),
                               _drifts(grads, 4, rebuild=False).numpy(), rtol=1e-5)


def test_levels_follow_an_optimizer_step_and_every_in_place_change():
    net = _net()
    lin = net.linears[0]
    assert set(lin.bits_numpy()) == {1}
    # The fused optimizer does not move the version counter; the training step does.
    lin.strength.grad = torch.full_like(lin.strength, -1.0)
    torch.optim.Adam([lin.strength], lr=0.3, fused=True).step()
    torch.autograd.graph.increment_version(lin.strength)
    assert set(lin.bits_numpy()) == {2}
    with torch.no_grad():
        lin.strength.fill_(0.99)
    assert set(lin.bits_numpy()) == {8}
    net.set_levels_([np.zeros(16, int), np.zeros(1, int)], [np.zeros(16, int)])
    assert set(lin.bits_numpy()) == {1}


@pytest.mark.parametrize("latent_improves", [True, False])
def test_a_flat_quantized_loss_is_not_convergence_while_the_latent_weights_improve(
        monkeypatch, latent_improves):
    from skqat._qat import training

    settings = _settings(tol=0.5, n_iter_no_change=3, max_iter=12, learn_bits=False)
    trainer = training._Trainer(_net(), _problem(), None, settings,
                                torch.Generator().manual_seed(0), _loss, _accuracy)
    latent = iter(range(100, 0, -1))
    monkeypatch.setattr(trainer, "epoch", lambda learn_bits: 1.0)  # the quantized loss is flat
    monkeypatch.setattr(trainer, "_latent_loss",
                        lambda: float(next(latent)) if latent_improves else 1.0)
    _, converged = trainer.run_phase(12, learn_bits=False)
    assert trainer.history.n_iter == (12 if latent_improves else 5)
    assert converged is not latent_improves


def test_latent_loss_is_that_of_the_unquantized_network():
    net, data = _net(), _problem()
    float_net = QuantMLP(layer_sizes=[6, 16, 1], weight_bits=(1, 2, 4, 8), activation_bits=(4, 8),
                         per_neuron=True, temperature=0.1, quantized=False,
                         generator=torch.Generator().manual_seed(0))
    float_net.load_state_dict(net.state_dict())
    idx = torch.arange(50)
    codes = data.rows(idx)
    torch.testing.assert_close(net.latent_forward(codes, data.in_step),
                               float_net(codes * data.in_step, torch.ones(())))


def test_a_bit_price_keeps_precision_low_and_ends_with_frozen_bits():
    data, gen = _problem(), torch.Generator
    free, priced = _net(), _net()
    train_network(free, data, None, _settings(), gen().manual_seed(0), _loss, _accuracy)
    history, state = train_network(priced, data, None,
                                   _settings(bit_price=0.1, activation_bit_price=0.02),
                                   gen().manual_seed(0), _loss, _accuracy)
    free_w, free_a = free.hard_mean_bits()
    priced_w, priced_a = priced.hard_mean_bits()
    assert priced_w < free_w and priced_a <= free_a
    with torch.no_grad():
        assert priced.expected_mean_weight_bits() < free.expected_mean_weight_bits()
    # The price ends training as a budget does: a frozen-bits phase.
    ids = [id(p) for p in priced.parameters()]
    assert state.exp_avg[ids.index(id(priced.linears[0].strength))] is None
    assert history.n_iter == 20


def test_zero_bit_candidates_prune_hidden_neurons_only():
    net = QuantMLP(layer_sizes=[6, 16, 1], weight_bits=(0, 1, 2, 4, 8), activation_bits=(4, 8),
                   per_neuron=True, temperature=0.1, quantized=True,
                   generator=torch.Generator().manual_seed(0))
    # Training starts at 1 bit, not pruned; the output layer cannot be pruned.
    assert net.weight_bits()[0].tolist() == [1] * 16
    assert net.linears[-1].candidates == (1, 2, 4, 8)
    settings = _settings(bit_budget=0.5, activation_bit_budget=None)
    data = _problem()
    train_network(net, data, None, settings, torch.Generator().manual_seed(0), _loss, _accuracy)
    bits = net.weight_bits()
    assert (bits[0] == 0).any() and (bits[1] > 0).all()
    assert net.hard_mean_bits()[0] <= 0.5
    # A pruned neuron's pre-activation is exactly 0 (zero row, zero bias): it outputs nothing.
    pre = net.layer_inputs(data.codes[:50], data.in_step).pre
    assert (pre[0][:, bits[0] == 0] == 0).all()
    layer = net.export_integer(np.full(6, 6 / 127))[0]
    gone = layer.weight_bits == 0
    assert (layer.weights[gone] == 0).all() and (layer.bias[gone] == 0).all()


def test_budgeted_bits_pay_no_price():
    # With a budget, the budget says how many bits to spend: the price of those
    # bits is off, and training is the same whatever its value.
    data = _problem()
    nets = [_net(), _net()]
    for net, price in zip(nets, (0.0, 0.5)):
        train_network(net, data, None, _settings(bit_budget=3.0, activation_bit_budget=6,
                                                 bit_price=price, activation_bit_price=price),
                      torch.Generator().manual_seed(0), _loss, _accuracy)
    for a, b in zip(*(net.parameters() for net in nets)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_activation_steps_learn_relative_to_their_size_and_slower_along_a_stream(monkeypatch):
    # Adam moves a parameter by about its rate per step: a step that starts at
    # 4 / 255 learns at a rate in proportion, and every step learns at a tenth
    # of fit's rate along a stream (each call's model is the one in use).
    rates = []
    adam = training._Trainer._adam

    def recording_adam(self, *args, **kwargs):
        opt = adam(self, *args, **kwargs)
        rate = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
        # The steps share the weights' group when they learn at its rate.
        rates.append({"weights": rate[id(self.net.linears[0].weight)],
                      "activation_steps": rate[id(self.net.activations[0].step)]})
        return opt

    monkeypatch.setattr(training._Trainer, "_adam", recording_adam)
    settings = _settings(max_iter=2)
    for candidates, factor in [((4, 8), 1.0), ((8,), (4 / 255) / 0.25)]:
        net = QuantMLP(layer_sizes=[6, 16, 1], weight_bits=(1, 2, 4, 8),
                       activation_bits=candidates, per_neuron=True, temperature=0.1,
                       quantized=True, generator=torch.Generator().manual_seed(0))
        rates.clear()
        train_network(net, _problem(), None, settings, torch.Generator().manual_seed(0), _loss,
                      _accuracy)
        assert rates[0]["weights"] == settings.learning_rate_init
        assert rates[0]["activation_steps"] == pytest.approx(settings.learning_rate_init * factor)
        rates.clear()
        train_increment(net, _problem(), settings, torch.Generator().manual_seed(0), _loss)
        assert rates[0]["activation_steps"] == pytest.approx(
            settings.learning_rate_init * factor * training._STREAM_STEP_RATE)
