"""Behaviour of the estimators beyond scikit-learn's generic checks (points 6-7)."""

import pickle

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification, make_regression

from skqat import NMPQATClassifier, NMPQATRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(16, 8), max_iter=15, random_state=3)


def _fit_and_report(estimator, X, y):
    est = clone(estimator).fit(X, y)
    return [b.copy() for b in est.weight_bits_], [b.copy() for b in est.activation_bits_], \
        est.predict(X)


@pytest.mark.parametrize("Estimator, make", [
    (NMPQATClassifier, lambda: make_classification(400, 8, n_classes=3, n_informative=5,
                                                   random_state=0)),
    (NMPQATRegressor, lambda: make_regression(400, 8, noise=1.0, random_state=0)),
])
def test_same_seed_same_bits_and_predictions_in_process_and_in_worker(Estimator, make):
    X, y = make()
    est = Estimator(bit_budget=2.0, **SMALL)
    here = [_fit_and_report(est, X, y) for _ in range(2)]
    workers = Parallel(n_jobs=2, backend="loky")(
        delayed(_fit_and_report)(est, X, y) for _ in range(2))
    for w_bits, a_bits, pred in here[1:] + workers:
        for a, b in zip(w_bits, here[0][0]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(a_bits, here[0][1]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(pred, here[0][2])


def test_zero_weight_class_is_not_learned():
    X, y = make_blobs(600, centers=3, n_features=4, cluster_std=1.0, random_state=0)
    weights = np.where(y == 2, 0.0, 1.0)
    params = dict(hidden_layer_sizes=(16,), max_iter=40, learning_rate_init=0.01, random_state=0)
    clf = NMPQATClassifier(**params).fit(X, y, sample_weight=weights)
    assert 2 in clf.classes_
    assert not np.any(clf.predict(X) == 2)
    # Without the weights, the same model does learn the class.
    assert np.mean(NMPQATClassifier(**params).fit(X, y).predict(X[y == 2]) == 2) > 0.9


def test_sample_weight_shifts_the_input_statistics():
    X = np.array([[0.0], [10.0]] * 20)
    y = np.array([0, 1] * 20)
    clf = NMPQATClassifier(max_iter=2, random_state=0).fit(
        X, y, sample_weight=np.array([3.0, 1.0] * 20))
    assert clf.input_mean_[0] == pytest.approx(2.5)


def test_predict_does_not_change_the_estimator_and_pickles_numpy_only():
    X, y = make_classification(300, 6, random_state=0)
    clf = NMPQATClassifier(**SMALL).fit(X, y)
    before = pickle.dumps(clf)
    clf.predict(X)
    clf.predict_proba(X)
    assert pickle.dumps(clf) == before
    assert b"torch" not in before


def test_fitted_attributes_describe_the_integer_model():
    X, y = make_classification(300, 6, n_classes=3, n_informative=4, random_state=0)
    clf = NMPQATClassifier(**SMALL, bit_budget=2.0, activation_bit_budget=6).fit(X, y)
    assert [w.shape for w in clf.integer_weights_] == [(16, 6), (8, 16), (3, 8)]
    assert [b.shape for b in clf.weight_bits_] == [(16,), (8,), (3,)]
    assert [b.shape for b in clf.activation_bits_] == [(16,), (8,)]
    for codes, bits in zip(clf.integer_weights_, clf.weight_bits_):
        qmax = np.where(bits == 1, 1, 2 ** (bits - 1) - 1)
        assert np.all(np.abs(codes) <= qmax[:, None])
    assert set(np.concatenate(clf.weight_bits_)) <= {1, 2, 4, 8}
    assert clf.model_size_bytes_ < 4 * sum(w.size for w in clf.integer_weights_)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))


@pytest.mark.parametrize("granularity", ["neuron", "layer"])
def test_layer_granularity_gives_one_bit_width_per_layer(granularity):
    X, y = make_classification(300, 6, random_state=0)
    clf = NMPQATClassifier(**SMALL, granularity=granularity).fit(X, y)
    if granularity == "layer":
        assert all(len(set(b)) == 1 for b in clf.weight_bits_)
        assert all(len(set(b)) == 1 for b in clf.activation_bits_)


def test_float_reference_and_budget_are_exclusive():
    X, y = make_regression(100, 3, random_state=0)
    reg = NMPQATRegressor(quantize=False, **SMALL).fit(X, y)
    assert reg.mean_weight_bits_ == 32 and reg.integer_weights_ is None
    with pytest.raises(ValueError, match="quantize=False"):
        NMPQATRegressor(quantize=False, bit_budget=2).fit(X, y)


def test_bad_candidates_are_a_clear_error():
    X, y = make_regression(50, 3, random_state=0)
    with pytest.raises(ValueError, match="weight_bits must be"):
        NMPQATRegressor(weight_bits=(-1, 2)).fit(X, y)
    with pytest.raises(ValueError, match="weight_bits must be"):
        NMPQATRegressor(weight_bits=()).fit(X, y)
    with pytest.raises(ValueError, match="prunes every neuron"):
        NMPQATRegressor(weight_bits=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="activation_bits must be"):
        NMPQATRegressor(activation_bits=(0, 4)).fit(X, y)
    with pytest.raises(ValueError, match="output layer"):
        NMPQATRegressor(hidden_layer_sizes=(4,), weight_bits=(0, 1, 2),
                        bit_budget=0.1).fit(X, y)


def test_nan_input_error_says_what_to_do():
    X, y = make_regression(50, 3, random_state=0)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="imputer"):
        NMPQATRegressor().fit(X, y)


def test_warm_start_continues_training():
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    reg = NMPQATRegressor(warm_start=True, **SMALL).fit(X, y)
    first, first_loss = reg.n_iter_, reg.loss_curve_[-1]
    reg.fit(X, y)
    # As MLP: n_iter_ counts this fit, the loss curve goes on from the last one.
    assert reg.n_iter_ == first == SMALL["max_iter"]
    assert len(reg.loss_curve_) == 2 * first
    assert reg.loss_curve_[first] < 2 * first_loss


def test_early_stopping_keeps_validation_scores():
    X, y = make_classification(500, 6, random_state=0)
    clf = NMPQATClassifier(early_stopping=True, bit_budget=1.5, **SMALL).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_loss_ is None and 0 <= clf.best_validation_score_ <= 1
    assert clf.mean_weight_bits_ <= 1.5


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = make_regression(100, 3, random_state=0)
    NMPQATRegressor(verbose=True, max_iter=3, hidden_layer_sizes=(4,), tol=0,
                    random_state=0).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Iteration")]
    assert len(lines) == 3 and "mean weight bits" in lines[0]


def test_cuda_request_without_gpu_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the error path needs one without")
    X, y = make_regression(30, 3, random_state=0)
    with pytest.raises(ValueError, match="no CUDA device"):
        NMPQATRegressor(device="cuda").fit(X, y)
    assert NMPQATRegressor(device="auto", max_iter=2).fit(X, y).device_ == "cpu"


def test_the_pickle_holds_the_fitted_arrays_once_and_rebuilds_the_graph():
    import pickle

    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(64,), bit_budget=2, max_iter=5,
                           random_state=0).fit(X, y)
    data = pickle.dumps(clf)
    assert "_graph" not in clf.__getstate__()
    loaded = pickle.loads(data)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded._graph == clf._graph
    # The graph's float64 copy of the weights is not in the file twice.
    assert len(data) < len(pickle.dumps(clf.__dict__))
