"""The size budget: bytes as a hyperparameter, never exceeded, and spent."""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification, make_regression

from skqat import (NMPQATClassifier, NMPQATClassifierCV, NMPQATRegressor, NMPQATRegressorCV,
                   budget_path)
from skqat._qat import quantizers as Q
from skqat._qat.budget import estimated_bytes, lower_to_size, raise_within
from skqat._qat.network import QuantMLP, remap_strengths
from skqat._qat.size import (SizeAccount, exact_bytes, expected_bytes,
                             expected_bytes_gradients, field_bytes, hard_bytes)
from skqat.model_selection import starting_width

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def clf_data():
    return make_classification(n_samples=600, n_features=12, n_informative=8, n_classes=3,
                               random_state=0)


@pytest.fixture(scope="module")
def reg_data():
    return make_regression(n_samples=600, n_features=10, n_informative=6, noise=5.0,
                           random_state=0)


@pytest.fixture(scope="module")
def free_classifier(clf_data):
    """What (32,) takes without a size budget: the sizes below bind."""
    return NMPQATClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0,
                            bit_price=0.0).fit(*clf_data)


def _widths(est):
    """The hidden widths the network was built with (pruned neurons included)."""
    return [c.shape[1] for c in est.coefs_[:-1]]


# ----------------------------------------------------------------- estimators
@pytest.mark.parametrize("budget", [150, 220, 290])
def test_classifier_never_exceeds_and_spends_its_size_budget(clf_data, free_classifier, budget):
    X, y = clf_data
    assert free_classifier.model_size_bytes_ > 290  # so every budget here binds
    clf = NMPQATClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0,
                           size_budget=budget).fit(X, y)
    graph = clf.to_integer()
    assert clf.model_size_bytes_ == graph.theoretical_size_bytes() <= budget
    assert clf.model_size_bytes_ >= 0.9 * budget  # spent, not only respected
    np.testing.assert_array_equal(graph.predict(X), clf.predict(X))
    assert clf.weight_candidates_ == (0, 1, 2, 4, 8)
    assert clf.quantization_report().loc["total", "bytes"] == clf.model_size_bytes_


def test_a_tighter_size_budget_prunes_neurons_and_scores_no_better(clf_data):
    X, y = clf_data
    fits = [NMPQATClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0,
                             size_budget=b).fit(X, y) for b in (200, 600)]
    living = [int(np.count_nonzero(f.weight_bits_[0])) for f in fits]
    assert living[0] < living[1] and living[0] < 32
    assert fits[0].model_size_bytes_ < fits[1].model_size_bytes_


@pytest.mark.parametrize("budget", [150, 300])
def test_regressor_size_budget_combines_with_bit_budgets(reg_data, budget):
    X, y = reg_data
    reg = NMPQATRegressor(hidden_layer_sizes=(24,), max_iter=30, random_state=0,
                          size_budget=budget, bit_budget=2.0, activation_bit_budget=6).fit(X, y)
    assert reg.model_size_bytes_ <= budget
    assert reg.mean_weight_bits_ <= 2.0 and reg.mean_activation_bits_ <= 6
    np.testing.assert_array_equal(reg.to_integer().predict(X), reg.predict(X))
    assert reg.score(X, y) > 0.3  # learned the linear part at 30 epochs


def test_size_budget_counts_the_graph_content_not_the_file(clf_data):
    X, y = clf_data
    clf = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=10, random_state=0,
                           size_budget=300).fit(X, y)
    graph = clf.to_integer()
    # The file adds its header, layer sizes, field widths, labels and CRC: a few dozen bytes.
    assert clf.model_size_bytes_ <= 300
    assert 20 < len(graph.to_bytes()) - clf.model_size_bytes_ < 100


def test_unreachable_size_budget_is_a_clear_error_before_training(clf_data):
    X, y = clf_data
    # 12 features: the steps alone take 4 * 12 + 8 = 56 bytes.
    with pytest.raises(ValueError, match=r"size_budget=55 bytes is below .*input and output"):
        NMPQATClassifier(hidden_layer_sizes=(16,), size_budget=55, max_iter=2).fit(X, y)


def test_size_budget_needs_a_quantized_network(clf_data):
    with pytest.raises(ValueError, match="size_budget=None"):
        NMPQATClassifier(quantize=False, size_budget=1000, max_iter=2).fit(*clf_data)


def test_layer_granularity_meets_a_size_budget_or_says_why(clf_data):
    X, y = clf_data
    # (16,) at 1 bit on 12 features: 24 + 6 bytes of weights, 56 of steps, and the fields.
    fitted = NMPQATClassifier(hidden_layer_sizes=(16,), granularity="layer", max_iter=10,
                              random_state=0, size_budget=400).fit(X, y)
    assert fitted.model_size_bytes_ <= 400
    assert 0 not in fitted.weight_candidates_  # a 0 would prune whole layers
    with pytest.raises(ValueError, match="size_budget"):
        NMPQATClassifier(hidden_layer_sizes=(16,), granularity="layer", max_iter=5,
                         random_state=0, size_budget=100).fit(X, y)


def test_partial_fit_keeps_every_call_within_the_size_budget(reg_data):
    X, y = reg_data
    reg = NMPQATRegressor(hidden_layer_sizes=(32,), size_budget=200, random_state=0)
    for rows in np.array_split(np.arange(len(y)), 4):
        reg.partial_fit(X[rows], y[rows])
        assert reg.model_size_bytes_ <= 200


def test_warm_start_adding_a_size_budget_keeps_the_bits_learned(clf_data):
    X, y = clf_data
    clf = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=10, random_state=0).fit(X, y)
    before = [b.copy() for b in clf.weight_bits_]
    clf.set_params(warm_start=True, size_budget=10_000, max_iter=1).fit(X, y)
    assert clf.weight_candidates_[0] == 0
    # A budget this large binds nothing: no neuron lost its bits by the remapping.
    for old, new in zip(before, clf.weight_bits_):
        assert np.all(new >= np.minimum(old, 1)) and np.count_nonzero(new) >= 0.8 * new.size


def test_size_budget_path_and_cv_choose_along_bytes(clf_data):
    X, y = clf_data
    est = NMPQATClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0)
    path = budget_path(est, X, y, size_budgets=[200, 450, 300])
    assert [e.size_budget for e in path] == [450, 300, 200]
    assert all(e.model_size_bytes_ <= e.size_budget for e in path)
    cv = NMPQATClassifierCV(hidden_layer_sizes=(32,), max_iter=20, random_state=0, cv=3,
                            bit_budgets=None, size_budgets=[200, 450]).fit(X, y)
    results = pd.DataFrame(cv.cv_results_)
    assert list(results.param_size_budget) == [450, 200]
    assert (results.mean_test_size <= results.param_size_budget.astype(float)).all()
    assert cv.size_budget_ in (200, 450) and cv.model_size_bytes_ <= cv.size_budget_
    with pytest.raises(ValueError, match="bit_budgets=None with size_budgets"):
        NMPQATClassifierCV(size_budgets=[200, 450], max_iter=2).fit(X, y)


def test_cv_refits_the_chosen_size_with_a_fit_of_its_own(reg_data):
    # As LassoCV: the chosen budget is fitted on every row from its own
    # start ("auto": the chosen size's width, not the largest one's), not
    # walked down to along the path.
    X, y = reg_data
    cv = NMPQATRegressorCV(max_iter=8, random_state=0, cv=2, bit_budgets=None,
                           size_budgets=[300, 1200], tolerance=10.0).fit(X, y)
    assert cv.size_budget_ == 300  # the smallest, within the (huge) tolerance
    own = NMPQATRegressor(max_iter=8, random_state=0, size_budget=300).fit(X, y)
    assert _widths(cv) == _widths(own) == [starting_width(300, n_features=10)]
    np.testing.assert_array_equal(cv.predict(X), own.predict(X))
    assert cv.model_size_bytes_ == own.model_size_bytes_ <= 300


def test_regressor_cv_takes_size_budgets_with_the_same_result_on_any_n_jobs(reg_data):
    X, y = reg_data
    fits = [NMPQATRegressorCV(hidden_layer_sizes=(16,), max_iter=10, random_state=0, cv=2,
                              bit_budgets=None, size_budgets=[150, 250], n_jobs=n_jobs).fit(X, y)
            for n_jobs in (1, 2)]
    assert fits[0].model_size_bytes_ <= fits[0].size_budget_
    np.testing.assert_array_equal(fits[0].cv_results_["mean_test_score"],
                                  fits[1].cv_results_["mean_test_score"])
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))


# ----------------------------------------------------------- training layer
def _account(n_features=6, budget=200.0):
    return SizeAccount(budget=budget, fixed_bytes=8 * n_features + 8,
                       input_step=np.full(n_features, 6 / 127), input_bits=8)


def _net(seed=0, temperature=0.1, per_neuron=True):
    return QuantMLP(layer_sizes=[6, 16, 8, 1], weight_bits=(0, 1, 2, 4, 8), activation_bits=(4, 8),
                    per_neuron=per_neuron, temperature=temperature, quantized=True,
                    generator=torch.Generator().manual_seed(seed))


def test_hard_estimate_equals_the_graph_once_fields_are_measured():
    net = _net()
    with torch.no_grad():
        net.linears[0].strength.uniform_(0, 1, generator=torch.Generator().manual_seed(1))
        net.linears[1].strength.uniform_(0.25, 1, generator=torch.Generator().manual_seed(2))
    account = _account()
    fields = field_bytes(net, account)
    assert hard_bytes(net, fields, account.fixed_bytes) == exact_bytes(net, account)


def test_expected_bytes_tends_to_the_hard_bytes_at_low_temperature():
    net = _net(temperature=1e-4)
    levels = [np.array([0, 1, 2, 3, 4] * 3 + [1]), np.array([1, 0, 4, 2, 3, 1, 1, 0]),
              np.array([2])]
    net.set_levels_(levels, [np.zeros(16, int), np.zeros(8, int)])
    fields = [4.0, 3.0, 2.0]
    soft = expected_bytes(net, fields, 56)
    assert soft.item() == pytest.approx(hard_bytes(net, fields, 56), abs=1.5)
    net = _net()
    expected_bytes(net, fields, 56).backward()
    assert all(lin.strength.grad is not None and lin.strength.grad.abs().sum() > 0
               for lin in net.linears[:-1])


@pytest.mark.parametrize("per_neuron", [True, False])
def test_expected_bytes_gradients_are_those_of_autograd(per_neuron):
    net = _net(per_neuron=per_neuron)
    with torch.no_grad():
        for i, lin in enumerate(net.linears):
            lin.strength.uniform_(0, 1, generator=torch.Generator().manual_seed(i))
    fields = [4.0, 3.0, 2.0]
    expected_bytes(net, fields, 56).backward()
    written = expected_bytes_gradients(net, fields)
    for lin, grad in zip(net.linears, written):  # written on the host, in float64
        torch.testing.assert_close(torch.as_tensor(grad, dtype=lin.strength.dtype),
                                   lin.strength.grad)
    assert np.abs(written[0]).sum() > 0


def _random_layers(data, candidates):
    levels, harm = [], []
    for c in candidates:
        n = data.draw(st.integers(1, 10))
        levels.append(np.array(data.draw(st.lists(st.integers(0, len(c) - 1), min_size=n,
                                                  max_size=n))))
        h = np.sort(np.array(data.draw(st.lists(st.floats(0, 1), min_size=n * len(c),
                                                max_size=n * len(c)))).reshape(n, len(c)))
        harm.append(h[:, ::-1].copy())  # fewer bits, more harm
    return levels, harm


@settings(max_examples=60, deadline=None)
@given(data=st.data(), limit=st.floats(0, 400))
def test_lower_to_size_meets_the_limit_when_it_can_and_only_lowers(data, limit):
    cands = [(0, 1, 2, 4, 8), (0, 1, 2, 4, 8), (1, 2, 4, 8)]
    levels, harm = _random_layers(data, cands)
    fields = [data.draw(st.floats(0, 6)) for _ in cands]
    new = lower_to_size(levels, cands, 7, fields, harm, limit)
    assert all((a <= b).all() for a, b in zip(new, levels))
    # The smallest reachable: the last living hidden neuron of each layer stays.
    floor = [np.where(lv > 0, 1, 0) for lv in levels]
    for lv in floor[:-1]:
        if not lv.any():
            lv[0] = 0
    floor[-1] = np.zeros_like(levels[-1])
    if estimated_bytes(new, cands, 7, fields) > limit * (1 + 1e-12):
        # Stopped early only when no move is left.
        for li, (lv, c) in enumerate(zip(new, cands)):
            alive = np.count_nonzero(np.asarray(c)[lv])
            assert np.all(lv == 0) or (li < 2 and alive <= 1 and np.all(lv <= 1)) or \
                (li == 2 and np.all(lv == 0))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), room=st.floats(0, 200))
def test_raise_within_only_raises_living_neurons_and_keeps_the_budget(data, room):
    cands = [(0, 1, 2, 4, 8), (1, 2, 4, 8)]
    levels, harm = _random_layers(data, cands)
    limit = estimated_bytes(levels, cands, 5, [3.0, 2.0]) + room

    def fits(lv):
        return estimated_bytes(lv, cands, 5, [3.0, 2.0]) <= limit

    def cost(lv, li):
        return np.ones(lv[li].size)

    new = raise_within(levels, cands, harm, fits, cost)
    assert fits(new)
    for old, lv, c in zip(levels, new, cands):
        assert (lv >= old).all()
        assert np.all((np.asarray(c)[old] == 0) <= (lv == old))  # pruned stays pruned


def _raise_by_scanning(levels, candidates, harm, fits, cost):
    # The rule of raise_within written as a plain scan of every layer at every
    # move (as it was first written): the reference its faster loop must equal.
    levels = [np.asarray(lv).copy() for lv in levels]
    blocked = [np.zeros(lv.size, dtype=bool) for lv in levels]
    while True:
        best, choice = 0.0, None
        for li, lv in enumerate(levels):
            cand = np.asarray(candidates[li])
            movable = (cand[lv] > 0) & (lv < len(cand) - 1) & ~blocked[li]
            if not movable.any():
                continue
            idx = np.arange(lv.size)
            gain = np.maximum(harm[li][idx, lv] - harm[li][idx, np.minimum(lv + 1, len(cand) - 1)],
                              0.0)
            ratio = np.where(movable, gain / np.maximum(cost(levels, li), 1e-12), -np.inf)
            j = int(np.argmax(ratio))
            if ratio[j] > best:
                best, choice = ratio[j], (li, j)
        if choice is None:
            return levels
        li, j = choice
        levels[li][j] += 1
        if not fits(levels):
            levels[li][j] -= 1
            blocked[li][j] = True


@settings(max_examples=150, deadline=None)
@given(data=st.data(), room=st.floats(0, 200), bits_cost=st.booleans(),
       tied=st.booleans())
def test_raise_within_makes_the_moves_of_a_scan_of_every_layer(data, room, bits_cost, tied):
    cands = [(0, 1, 2, 4, 8), (1, 2, 4), (1, 2, 4, 8)]
    levels, harm = _random_layers(data, cands)
    if tied:  # equal ratios everywhere: the first layer, then the first neuron, wins
        harm = [np.tile(np.linspace(1.0, 0.0, len(c)), (lv.size, 1))
                for lv, c in zip(levels, cands)]
    fan_in = [5.0, 7.0, 3.0]
    limit = estimated_bytes(levels, cands, 5, [3.0, 2.0, 1.0]) + room

    def fits(lv):
        return estimated_bytes(lv, cands, 5, [3.0, 2.0, 1.0]) <= limit

    def cost(lv, li):  # the projection's: the bits (or bytes) one level up adds
        c = np.asarray(cands[li], dtype=float)
        added = (c[np.minimum(lv[li] + 1, len(c) - 1)] - c[lv[li]]) * fan_in[li]
        return added if bits_cost else added / 8.0

    expected = _raise_by_scanning(levels, cands, harm, fits, cost)
    for a, b in zip(raise_within(levels, cands, harm, fits, cost), expected):
        np.testing.assert_array_equal(a, b)


def test_remapped_strengths_keep_every_bit_width():
    old, new = (1, 2, 4, 8), (0, 1, 2, 4, 8)
    strengths = np.array([0.1, 0.3, 0.6, 0.9], dtype=np.float32)
    remapped = remap_strengths(strengths, old, new)
    before = np.asarray(old)[Q.strength_to_level(torch.as_tensor(strengths), 4).numpy()]
    after = np.asarray(new)[Q.strength_to_level(torch.as_tensor(remapped), 5).numpy()]
    np.testing.assert_array_equal(before, after)
    assert remap_strengths(strengths, old, old) is strengths


def test_training_meets_and_spends_a_size_budget_on_the_graph_itself():
    from tests.test_training import _accuracy, _loss, _problem, _settings
    from skqat._qat import train_network

    for budget in (90.0, 130.0):
        net = QuantMLP(layer_sizes=[6, 32, 1], weight_bits=(0, 1, 2, 4, 8), activation_bits=(4, 8),
                       per_neuron=True, temperature=0.1, quantized=True,
                       generator=torch.Generator().manual_seed(0))
        settings = _settings(max_iter=20, early_stopping=True, size=_account(budget=budget))
        history, state = train_network(net, _problem(0), _problem(1, n=100), settings,
                                       torch.Generator().manual_seed(0), _loss, _accuracy)
        assert budget * 0.9 <= exact_bytes(net, settings.size) <= budget
        assert history.best_validation_score == max(history.validation_scores)
        assert state.size_multiplier >= 0.0


def test_a_pruned_neuron_gets_the_gradient_that_could_revive_it():
    net = _net()
    levels = [np.array([0] * 8 + [1] * 8), np.ones(8, int), np.ones(1, int)]
    net.set_levels_(levels, [np.zeros(16, int), np.zeros(8, int)])
    codes = torch.randn(64, 6) * 20
    out = net(codes, torch.full((6,), 6 / 127))
    out.pow(2).mean().backward()
    grad = net.linears[0].strength.grad
    # The pruned neurons' strengths see their up transition; their weights keep learning.
    assert grad[:8].abs().sum() > 0
    assert net.linears[0].weight.grad[:8].abs().sum() > 0


@pytest.mark.parametrize("budget", [512, 1024, 2048])
def test_starting_width_spends_the_budget_at_two_bits(clf_data, budget):
    # The width holds the budget at 2 bits per weight, with room for the
    # learned bits' fields: a uniform 2-bit network of that width fills
    # most of it, one twice as wide would not fit, so a size-budgeted fit
    # starts neither too narrow to spend it nor far too wide.
    X, y = clf_data
    width = starting_width(budget, n_features=X.shape[1], n_outputs=3)

    def size(w):
        return NMPQATClassifier(hidden_layer_sizes=(w,), weight_bits=(2,), activation_bits=(8,),
                                max_iter=2, random_state=0).fit(X, y).model_size_bytes_

    assert (width < 100) == (budget == 512)  # narrower than the default where it must be
    assert 0.6 * budget < size(width) <= budget
    assert size(2 * width) > budget


def test_auto_width_starts_a_size_budget_where_it_can_be_spent(clf_data, reg_data):
    # "auto" (the default) is (100,) without a size budget, as MLPClassifier,
    # and the starting_width of the budget with one; the user's sizes win.
    X, y = clf_data
    assert NMPQATClassifier().hidden_layer_sizes == "auto"
    assert _widths(NMPQATClassifier(max_iter=2, random_state=0).fit(X, y)) == [100]
    for budget in (300, 2048):
        clf = NMPQATClassifier(size_budget=budget, max_iter=3, random_state=0).fit(X, y)
        assert _widths(clf) == [starting_width(budget, n_features=12, n_outputs=3)]
        assert clf.model_size_bytes_ <= budget
    assert _widths(NMPQATClassifier(hidden_layer_sizes=(100,), size_budget=300, max_iter=3,
                                    random_state=0).fit(X, y)) == [100]
    Xr, yr = reg_data  # one output, 10 features
    reg = NMPQATRegressor(size_budget=1024, max_iter=3, random_state=0).fit(Xr, yr)
    assert _widths(reg) == [starting_width(1024, n_features=10, n_outputs=1)]
    assert _widths(NMPQATRegressor(quantize=False, max_iter=2, random_state=0)
                   .fit(Xr, yr)) == [100]
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        NMPQATClassifier(hidden_layer_sizes="wide").fit(X, y)


def test_auto_width_is_kept_by_warm_starts_streams_and_paths(clf_data):
    # Once fitted, the network keeps its widths: a new size budget, a stream
    # block or a lower point of a path continue it instead of reshaping it.
    X, y = clf_data
    clf = NMPQATClassifier(size_budget=2048, max_iter=3, random_state=0, warm_start=True)
    first = _widths(clf.fit(X, y))
    clf.set_params(size_budget=600).fit(X, y)
    assert _widths(clf) == first and clf.model_size_bytes_ <= 600

    stream = NMPQATClassifier(size_budget=600, random_state=0)
    stream.partial_fit(X[:200], y[:200], classes=np.unique(y))
    stream.partial_fit(X[200:400], y[200:400])
    assert _widths(stream) == [starting_width(600, n_features=12, n_outputs=3)]
    assert stream.model_size_bytes_ <= 600

    path = budget_path(NMPQATClassifier(max_iter=5, random_state=0), X, y,
                       size_budgets=[400, 2048, 800])
    assert [p.size_budget for p in path] == [2048, 800, 400]
    assert {tuple(_widths(p)) for p in path} == {
        (starting_width(2048, n_features=12, n_outputs=3),)}
    assert all(p.model_size_bytes_ <= p.size_budget for p in path)
