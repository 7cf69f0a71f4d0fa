"""Thread-count determinism, the numpy-only runtime, and errors a user can act on."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression

from skqat import NMPQATClassifier, NMPQATRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit_with_threads(estimator, X, y, n_threads):
    torch.set_num_threads(n_threads)
    est = clone(estimator).fit(X, y)
    return est.weight_bits_, est.activation_bits_, est.predict_proba(X), torch.get_num_threads()


def test_same_bits_and_predictions_whatever_the_thread_count():
    X, y = make_classification(600, 13, n_informative=8, random_state=0)
    est = NMPQATClassifier(max_iter=5, random_state=0)  # the default (100,) network
    previous = torch.get_num_threads()
    try:
        runs = [_fit_with_threads(est, X, y, n) for n in (1, 2)]
    finally:
        torch.set_num_threads(previous)
    runs += Parallel(n_jobs=2, backend="loky")(
        delayed(_fit_with_threads)(est, X, y, n) for n in (1, 2))
    reference = runs[0]
    for w_bits, a_bits, proba, n_threads in runs:
        for a, b in zip(w_bits + a_bits, reference[0] + reference[1]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(proba, reference[2])
    # fit restores the caller's thread setting.
    assert [r[3] for r in runs] == [1, 2, 1, 2]


_NO_HEAVY_IMPORTS = textwrap.dedent("""
    import sys

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "sklearn", "scipy", "pandas"):
                raise ImportError(f"{name} is not installed on this device")

    sys.meta_path.insert(0, Refuse())
    import numpy as np
    import skqat.runtime
    graph = skqat.runtime.load(sys.argv[1])
    np.save(sys.argv[2], graph.predict(np.load(sys.argv[3])))
    print(sorted(m for m in ("torch", "sklearn", "scipy", "pandas") if m in sys.modules))
""")


def test_runtime_loads_and_predicts_with_numpy_alone(tmp_path):
    X, y = make_classification(200, 5, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(8,), bit_budget=2, max_iter=5,
                           random_state=0).fit(X, y)
    clf.to_integer().save(tmp_path / "model.skqat")
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "device.py"
    script.write_text(_NO_HEAVY_IMPORTS)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "model.skqat"),
                          str(tmp_path / "pred.npy"), str(tmp_path / "X.npy")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    np.testing.assert_array_equal(np.load(tmp_path / "pred.npy"), clf.predict(X))


def test_overflowing_statistics_raise_at_fit():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    with pytest.raises(ValueError, match="overflow float64. Rescale"):
        NMPQATRegressor().fit(X, rng.standard_normal(10))


def test_divergence_names_the_learning_rate():
    X, y = make_classification(300, 6, random_state=0)
    with pytest.raises(ValueError, match="training diverged. Lower learning_rate_init"):
        NMPQATRegressor(learning_rate_init=1e6, bit_budget=2, max_iter=20,
                        random_state=0).fit(X, y)


def test_validation_r2_of_a_constant_target_is_that_of_r2_score():
    X, _ = make_regression(100, 3, random_state=0)
    reg = NMPQATRegressor(early_stopping=True, max_iter=3, random_state=0).fit(X, np.ones(100))
    assert reg.validation_scores_ == [0.0, 0.0, 0.0]


def test_too_small_validation_set_counts_the_samples_right():
    X, y = make_regression(10, 3, random_state=0)
    with pytest.raises(ValueError, match="validation_fraction=0.01 of 10 samples"):
        NMPQATRegressor(early_stopping=True, validation_fraction=0.01).fit(X, y)


def test_constructor_arguments_after_the_layer_sizes_are_keyword_only():
    with pytest.raises(TypeError):
        NMPQATClassifier((10,), 0.001)
    assert NMPQATRegressor((10,), alpha=0.01).alpha == 0.01


def test_a_single_class_is_always_predicted():
    X, _ = make_classification(50, 4, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    clf.fit(X, np.full(50, "only"))
    assert (clf.predict(X) == "only").all() and clf.predict_proba(X).shape == (50, 1)
    assert (clf.to_integer().predict(X) == "only").all()


def test_n_iter_no_change_inf_runs_every_epoch():
    X, y = make_classification(100, 4, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(4,), max_iter=30, tol=1e9,
                           n_iter_no_change=np.inf, random_state=0).fit(X, y)
    assert clf.n_iter_ == 30


@pytest.mark.parametrize("seed", [0, 1])
def test_a_quantized_linear_model_learns_as_the_float_one(seed):
    # No hidden layer: every weight at 1 bit to start, the loss moves only when
    # a sign flips; training must not stop on that plateau.
    rng = np.random.RandomState(0)
    coef = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    X, X_test = rng.randn(500, 5), rng.randn(2000, 5)
    y, y_test = (X @ coef > 0).astype(int), (X_test @ coef > 0).astype(int)
    quantized = NMPQATClassifier(hidden_layer_sizes=(), random_state=seed).fit(X, y)
    float_ = NMPQATClassifier(hidden_layer_sizes=(), quantize=False, random_state=seed).fit(X, y)
    assert quantized.score(X_test, y_test) >= float_.score(X_test, y_test) - 0.03
    assert quantized.score(X_test, y_test) > 0.75


def test_inputs_wider_than_the_integer_graph_are_refused_before_training():
    import scipy.sparse as sp

    X = sp.random(50, 70_000, density=1e-3, format="csr", random_state=0)
    y = np.arange(50) % 2
    clf = NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=200)
    with pytest.raises(ValueError, match=r"70,000 features.*at most 65,536.*TruncatedSVD"):
        clf.fit(X, y)
    assert not hasattr(clf, "input_mean_") and not hasattr(clf, "n_iter_")
    with pytest.raises(ValueError, match=r"70,000 features"):
        NMPQATRegressor().partial_fit(X, y)
    # A hidden layer that wide is refused before its weights are allocated.
    with pytest.raises(ValueError, match=r"layer of 70,000 neurons.*narrower"):
        NMPQATClassifier(hidden_layer_sizes=(70_000, 4)).fit(X[:, :10], y)
    # The float network has no integer graph and no such limit (checked cheaply).
    from skqat._checks import check_fan_in
    check_fan_in([70_000, 8], quantize=False)


def test_only_out_of_range_graph_errors_are_reported_as_divergence(monkeypatch):
    from skqat._base import BaseNMPQAT
    from skqat.runtime import GraphRangeError, IntegerLayer

    # The runtime tells the two apart: a value beyond the integers, or a malformed layer.
    with pytest.raises(GraphRangeError):
        IntegerLayer(weights=[[1]], weight_bits=[2], bias=[2**40], multiplier=[1], shift=[0])
    with pytest.raises(ValueError) as malformed:
        IntegerLayer(weights=[[1]], weight_bits=[2], bias=[0, 0], multiplier=[1], shift=[0])
    assert not isinstance(malformed.value, GraphRangeError)

    X, y = make_classification(100, 4, random_state=0)
    est = NMPQATClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    for error, message in ((GraphRangeError("bias out of range"), "training diverged"),
                           (ValueError("a malformed graph"), "a malformed graph")):
        def to_integer(self, error=error):
            raise error
        monkeypatch.setattr(BaseNMPQAT, "to_integer", to_integer)
        with pytest.raises(ValueError, match=message) as raised:
            est.fit(X, y)
        assert ("diverged" in str(raised.value)) == isinstance(error, GraphRangeError)
