"""Sparse input and multilabel / multi-output targets, through fit, the graph, the file and C."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skqat import NMPQATClassifier, NMPQATRegressor
from skqat._inputs import input_statistics
from skqat.runtime import load_bytes
from .test_runtime import compile_c

from .conftest import subsample

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SMALL = dict(hidden_layer_sizes=(16,), max_iter=8, random_state=0)


def _sparse_problem():
    X, y = make_classification(300, 30, n_informative=8, random_state=0)
    X[np.random.default_rng(0).random(X.shape) < 0.8] = 0.0  # 80% zeros
    return X, y


def test_sparse_statistics_equal_the_dense_ones():
    X, _ = _sparse_problem()
    w = np.random.default_rng(1).random(X.shape[0])
    for container in (sp.csr_matrix, sp.csc_array):
        for a, b in zip(input_statistics(container(X), w), input_statistics(X, w)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("quantize", [True, False])
@pytest.mark.parametrize("Estimator", [NMPQATClassifier, NMPQATRegressor])
def test_sparse_and_dense_inputs_give_the_same_model(Estimator, quantize):
    X, y = _sparse_problem()
    dense = Estimator(quantize=quantize, **SMALL).fit(X, y)
    sparse = Estimator(quantize=quantize, **SMALL).fit(sp.csr_matrix(X), y)
    for a, b in zip(dense.coefs_, sparse.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if quantize:  # the input codes are rounded: the same integers, the same graph
        np.testing.assert_array_equal(dense.predict(X), sparse.predict(X))
    else:  # the statistics agree to round-off, and so do the float outputs
        np.testing.assert_allclose(dense.predict(X), sparse.predict(X), rtol=1e-9, atol=1e-12)
    for container in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        np.testing.assert_array_equal(sparse.predict(container(X)), sparse.predict(X))
    if quantize:
        graph = sparse.to_integer()
        np.testing.assert_array_equal(graph.decision_function(sp.csr_matrix(X)),
                                      graph.decision_function(X))


def test_sparse_one_hot_pipeline_in_grid_search_on_california(california):
    idx = subsample(len(california.target), 1500)
    X = california.data.iloc[idx]
    y = (california.target.iloc[idx] > california.target.median()).to_numpy().astype(int)
    numeric = [c for c in X.columns if c != "ocean_proximity"]
    pre = ColumnTransformer([("num", SimpleImputer(strategy="median"), numeric),
                             ("cat", OneHotEncoder(handle_unknown="ignore"),
                              ["ocean_proximity"])], sparse_threshold=1.0)
    assert sp.issparse(pre.fit_transform(X))
    pipe = make_pipeline(pre, NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=25,
                                               random_state=0))
    grid = {"nmpqatclassifier__bit_budget": [1.5, 2.0]}
    parallel = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    serial = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    # Same seeds, same scores whatever the worker: training uses one thread everywhere.
    np.testing.assert_array_equal(parallel.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert parallel.best_score_ > 0.7  # majority class: 0.5
    assert parallel.best_estimator_[-1].mean_weight_bits_ <= \
        parallel.best_params_["nmpqatclassifier__bit_budget"]


def _equal_everywhere(est, X, tmp_path, name):
    """predict, the integer graph, the model file and the C export agree on X."""
    graph = est.to_integer()
    np.testing.assert_array_equal(graph.predict(X), est.predict(X))
    loaded = load_bytes(graph.to_bytes())
    np.testing.assert_array_equal(loaded.decision_function(X), graph.decision_function(X))
    assert loaded.task == graph.task
    return compile_c(graph, tmp_path, X, prefix=name)


def test_multilabel_classification_end_to_end(tmp_path):
    X, Y = make_multilabel_classification(300, 10, n_classes=4, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(32,), max_iter=60, learning_rate_init=0.01,
                           bit_budget=2, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape and set(np.unique(clf.predict(X))) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    np.testing.assert_array_equal(proba > 0.5, clf.predict(X) == 1)
    assert np.abs(proba.sum(1) - 1).max() > 0.1  # independent sigmoids, not a softmax
    assert (clf.predict(X) == Y).mean() > 0.8 and clf.mean_weight_bits_ <= 2
    source = _equal_everywhere(clf, X, tmp_path, "labels")
    assert "labels_predict_labels" in source.read_text()
    # Float and sparse inputs take the same path.
    flt = NMPQATClassifier(quantize=False, **SMALL).fit(sp.csr_matrix(X), Y)
    assert flt.predict(X).shape == Y.shape
    with pytest.raises(ValueError, match="multilabel"):
        NMPQATClassifier(warm_start=True, **SMALL).fit(X, Y).fit(X, Y[:, 0])


def test_multilabel_partial_fit():
    X, Y = make_multilabel_classification(200, 8, n_classes=3, random_state=0)
    clf = NMPQATClassifier(hidden_layer_sizes=(16,), bit_budget=1.5, random_state=0)
    for chunk in np.array_split(np.arange(200), 4):
        clf.partial_fit(X[chunk], Y[chunk], classes=[0, 1, 2])
        assert clf.mean_weight_bits_ <= 1.5
    assert clf.predict(X).shape == Y.shape


def test_multi_output_regression_end_to_end(tmp_path):
    X, Y = make_regression(300, 6, n_targets=3, noise=1.0, random_state=0)
    reg = NMPQATRegressor(hidden_layer_sizes=(32,), max_iter=40, learning_rate_init=0.01,
                          bit_budget=2, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == Y.shape and reg.score(X, Y) > 0.8
    _equal_everywhere(reg, X, tmp_path, "multi")
