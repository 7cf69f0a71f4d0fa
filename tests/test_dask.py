"""Dask: distributed model selection and larger-than-memory training through partial_fit.

The optional ``dask`` extra (``pip install skqat[dask]``); CI installs it, so
there these tests run rather than skip.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV

from skqat import NMPQATClassifier, NMPQATRegressor

from .conftest import require

da = require("dask.array")
dd = require("dask.dataframe")
distributed = require("distributed")
wrappers = require("dask_ml.wrappers")


@pytest.fixture(scope="module")
def client():
    # Two worker processes, one thread each: a real cluster on one machine.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_grid_search_on_a_dask_cluster_equals_the_serial_search(client):
    import joblib

    from skqat.model_selection import model_size_scorer, smallest_within_tolerance

    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    grid = {"bit_budget": [1.5, 2.0], "hidden_layer_sizes": [(12,), (8, 8)]}
    est = NMPQATClassifier(max_iter=5, random_state=0)

    def search(n_jobs):
        # The budget-selection recipe: score and size, the smallest model near the best.
        return GridSearchCV(est, grid, cv=3, n_jobs=n_jobs,
                            scoring={"score": "accuracy", "size": model_size_scorer},
                            refit=smallest_within_tolerance(0.02, score="score", size="size"))

    serial = search(1).fit(X, y)
    with joblib.parallel_backend("dask"):
        spread = search(-1).fit(X, y)
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "mean_test_size"):
        np.testing.assert_array_equal(serial.cv_results_[key], spread.cv_results_[key])
    assert serial.best_params_ == spread.best_params_
    for a, b in zip(serial.best_estimator_.integer_weights_, spread.best_estimator_.integer_weights_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(serial.predict_proba(X), spread.predict_proba(X))


def test_cv_estimator_folds_on_a_dask_cluster_equal_the_serial_fit(client):
    import joblib

    from skqat import NMPQATClassifierCV, NMPQATRegressorCV

    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    Xr, yr = make_regression(n_samples=300, n_features=6, noise=3, random_state=0)
    for est, (X_, y_) in ((NMPQATClassifierCV, (X, y)), (NMPQATRegressorCV, (Xr, yr))):
        params = dict(hidden_layer_sizes=(12,), bit_budgets=[1, 2, None], cv=3, max_iter=10,
                      random_state=0)
        serial = est(**params).fit(X_, y_)
        with joblib.parallel_backend("dask"):
            spread = est(n_jobs=-1, **params).fit(X_, y_)
        for key in ("mean_test_score", "mean_test_weight_bits", "mean_test_size"):
            np.testing.assert_array_equal(serial.cv_results_[key], spread.cv_results_[key])
        assert serial.bit_budget_ == spread.bit_budget_
        np.testing.assert_array_equal(serial.predict(X_), spread.predict(X_))


def test_a_fit_on_a_dask_worker_equals_the_local_fit(client):
    X, y = make_regression(n_samples=400, n_features=6, noise=3, random_state=1)
    est = NMPQATRegressor(hidden_layer_sizes=(16, 16), bit_budget=2, max_iter=8, random_state=3)
    remote = client.submit(lambda e: e.fit(X, y), est, pure=False).result()
    local = est.fit(X, y)
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))
    for a, b in zip(remote.weight_bits_, local.weight_bits_):
        np.testing.assert_array_equal(a, b)


def _sequential_partial_fits(X, y, chunk):
    ref = NMPQATRegressor(hidden_layer_sizes=(16,), bit_budget=2, random_state=0)
    for start in range(0, len(X), chunk):
        ref.partial_fit(X[start:start + chunk], y[start:start + chunk])
    return ref


def test_incremental_on_a_dask_array_is_partial_fit_block_by_block():
    import dask

    X, y = make_regression(n_samples=3000, n_features=6, noise=5, random_state=0)
    Xd, yd = da.from_array(X, chunks=600), da.from_array(y, chunks=600)
    inc = wrappers.Incremental(NMPQATRegressor(hidden_layer_sizes=(16,), bit_budget=2,
                                               random_state=0), shuffle_blocks=False)
    with dask.config.set(scheduler="synchronous"):
        inc.fit(Xd, yd)
        pred = inc.predict(Xd).compute()
    ref = _sequential_partial_fits(X, y, 600)
    assert inc.estimator_.t_ == 3000 and inc.estimator_.mean_weight_bits_ <= 2
    np.testing.assert_array_equal(pred, ref.predict(X))


def test_incremental_takes_a_dask_dataframe():
    import dask

    X, y = make_regression(n_samples=2000, n_features=5, noise=5, random_state=2)
    frame = pd.DataFrame(X, columns=[f"kpi_{i}" for i in range(5)])
    ddf = dd.from_pandas(frame, npartitions=4)
    dy = dd.from_pandas(pd.Series(y, name="target"), npartitions=4)
    inc = wrappers.Incremental(NMPQATRegressor(hidden_layer_sizes=(16,), bit_budget=2,
                                               random_state=0), shuffle_blocks=False)
    with dask.config.set(scheduler="synchronous"):
        inc.fit(ddf, dy)
    assert inc.estimator_.t_ == 2000
    assert list(inc.estimator_.feature_names_in_) == list(frame.columns)
    ref = _sequential_partial_fits(X, y, 500)
    np.testing.assert_array_equal(inc.estimator_.predict(frame), ref.predict(X))
