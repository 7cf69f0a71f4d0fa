"""partial_fit: MLP's semantics, the budget after every call, a real KPI stream."""

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from benchmarks.tasks import kpi_stream
from skqat import NMPQATClassifier, NMPQATRegressor
from skqat._qat import training

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_classifier_partial_fit_follows_mlp():
    X, y = make_classification(300, 6, n_classes=3, n_informative=4, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])  # a subset of the classes
    assert list(clf.classes_) == [0, 1, 2] and clf.n_iter_ == 1 and clf.t_ == (y != 2).sum()
    clf.partial_fit(X, y)
    assert clf.t_ == (y != 2).sum() + len(y) and len(clf.loss_curve_) == 2
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(X, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        NMPQATClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("halflife", [None, 5000, 50])
def test_partial_fit_continues_a_fit_and_its_running_statistics(halflife):
    X, y = make_regression(400, 5, noise=1.0, random_state=0)
    reg = NMPQATRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0,
                          statistics_halflife=halflife).fit(X, y)
    losses = list(reg.loss_curve_)
    reg.partial_fit(X[:100] + 1.0, y[:100])
    # The statistics are those of every row seen, the fit's faded by half every
    # `halflife` rows of the block (None: not at all).
    fade = 1.0 if halflife is None else 0.5 ** (100 / halflife)
    seen, y_seen = np.vstack([X, X[:100] + 1.0]), np.r_[y, y[:100]]
    w = np.r_[np.full(400, fade), np.ones(100)]
    mean = np.average(seen, axis=0, weights=w)
    np.testing.assert_allclose(reg.input_mean_, mean, rtol=1e-12)
    np.testing.assert_allclose(reg.input_scale_,
                               np.sqrt(np.average((seen - mean) ** 2, axis=0, weights=w)),
                               rtol=1e-12)
    np.testing.assert_allclose(reg.target_mean_, np.average(y_seen, weights=w), rtol=1e-12)
    assert reg.loss_curve_[:5] == losses and len(reg.loss_curve_) == 6


def test_partial_fit_equals_fit_epoch_by_epoch_without_budget(monkeypatch):
    # One pass per call, the optimizer state and the shuffling stream carried over:
    # ten calls are the ten epochs of fit (which has no frozen phase without a
    # budget or a price on the bits), but for the activation steps, which learn
    # slower along a stream: at fit's rate, the same model. (The default
    # input_clip="auto" clips a stream's inputs wider than a fit's: one clip here.)
    monkeypatch.setattr(training, "_STREAM_STEP_RATE", 1.0)
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    params = dict(hidden_layer_sizes=(8,), random_state=0, tol=0, n_iter_no_change=np.inf,
                  bit_price=0, activation_bit_price=0, input_clip=3.0)
    fitted = NMPQATRegressor(max_iter=10, **params).fit(X, y)
    streamed = NMPQATRegressor(**params)
    for _ in range(10):
        streamed.partial_fit(X, y)
    np.testing.assert_array_equal(streamed.predict(X), fitted.predict(X))
    for a, b in zip(streamed.weight_bits_, fitted.weight_bits_):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_survives_pickling_between_calls():
    import pickle
    X, y = make_classification(300, 6, random_state=0)
    a = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, random_state=0)
    b = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, random_state=0)
    a.partial_fit(X, y, classes=[0, 1])
    b.partial_fit(X, y, classes=[0, 1])
    b = pickle.loads(pickle.dumps(b))
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_partial_fit_streams_a_real_kpi_dataset(ucc_5g):
    stream = kpi_stream(ucc_5g)
    X, y, X_test, y_test, chunks = stream.X, stream.y, stream.X_test, stream.y_test, stream.blocks
    reg = NMPQATRegressor(hidden_layer_sizes=(32,), bit_budget=2, activation_bit_budget=6,
                          learning_rate_init=0.003, random_state=0)
    # MLP gets the usual streaming recipe, a scaler with running statistics (with the
    # first chunk's statistics, as ours, its R2 is far below zero on this stream).
    scaler = StandardScaler()
    mlp = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.003, random_state=0)
    for _ in range(3):
        for chunk in chunks:
            reg.partial_fit(X[chunk], y[chunk])
            assert reg.mean_weight_bits_ <= 2 and reg.mean_activation_bits_ <= 6
            scaler.partial_fit(X[chunk])
            mlp.partial_fit(scaler.transform(X[chunk]), y[chunk])
    ours = reg.score(X_test, y_test)
    theirs = r2_score(y_test, mlp.predict(scaler.transform(X_test)))
    # Measured: 0.21 against 0.26 (a time-ordered, non-stationary stream of 8 chunks).
    assert ours > 0.15 and ours > theirs - 0.1, (ours, theirs)
