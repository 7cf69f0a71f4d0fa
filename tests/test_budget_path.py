"""The budget path and the cross-validated estimators (NMPQATClassifierCV, NMPQATRegressorCV)."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skqat import NMPQATClassifier, NMPQATClassifierCV, NMPQATRegressorCV, budget_path
from skqat._path import path_points

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=400, n_features=10, n_informative=6, random_state=0)


def test_path_points_run_from_the_largest_budget_down():
    assert path_points([2, None, 1.5, 2]) == [(None, None, None), (2, None, None),
                                              (1.5, None, None)]
    assert path_points([1, 2], [4, 8]) == [(2, 8, None), (1, 4, None)]
    assert path_points(None, 6, [512, 2048]) == [(None, 6, 2048), (None, 6, 512)]
    assert path_points([2, 1], None, 1024) == [(2, None, 1024), (1, None, 1024)]
    with pytest.raises(ValueError, match="one value per point"):
        path_points([1, 2], [4])
    with pytest.raises(ValueError, match="one value per point"):
        path_points([1, 2, None], None, [512, 1024])
    with pytest.raises(ValueError, match="empty"):
        path_points([])
    with pytest.raises(ValueError, match="needs a list of budgets"):
        path_points(None, 6, 1024)


def test_every_point_of_the_path_is_a_complete_model_within_its_budgets(data):
    X, y = data
    est = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    path = budget_path(est, X, y, bit_budgets=[1, 1.5, 2, None], activation_bit_budgets=6)
    assert [(e.bit_budget, e.activation_bit_budget) for e in path] == [
        (None, 6), (2, 6), (1.5, 6), (1, 6)]
    bits = [e.mean_weight_bits_ for e in path]
    assert all(e.mean_weight_bits_ <= (e.bit_budget or np.inf) for e in path)
    assert all(e.mean_activation_bits_ <= 6 for e in path)
    # Each capped point holds at least the bits of the one below it, and spends
    # its room only where the training loss does not rise: the point at 2 bits
    # keeps the uncapped point's 1.7 bits, which a raise would have made worse.
    # (The uncapped point is priced, and may well hold fewer bits than a cap allows.)
    assert bits[1:] == sorted(bits[1:], reverse=True)
    assert bits[1] >= min(bits[0], 2.0) - 1e-12
    scores = [e.score(X, y) for e in path]
    assert scores[1] >= scores[2] - 0.02 and scores[2] >= scores[3] - 0.02
    for e in path:
        np.testing.assert_array_equal(e.to_integer().predict(X), e.predict(X))
        assert e.quantization_report().loc["total", "bytes"] == e.model_size_bytes_
    # The first point is the plain fit at the largest budget; the template is untouched.
    plain = clone(est).set_params(activation_bit_budget=6).fit(X, y)
    np.testing.assert_array_equal(path[0].predict_proba(X), plain.predict_proba(X))
    assert not hasattr(est, "coefs_")
    # Each lower point is a short fine-tuning: a tenth of the first fit's epochs.
    assert [e.n_iter_ for e in path[1:]] == [path[0].n_iter_ // 10] * 3


def test_the_path_is_deterministic_and_errors_are_clear(data):
    X, y = data
    est = NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    a = budget_path(est, X, y, bit_budgets=[1, 2])
    b = budget_path(est, X, y, bit_budgets=[2, 1])
    for e, f in zip(a, b):
        np.testing.assert_array_equal(e.predict_proba(X), f.predict_proba(X))
    with pytest.raises(TypeError, match="NMPQATClassifier or NMPQATRegressor"):
        budget_path(make_pipeline(StandardScaler(), est), X, y, bit_budgets=[1])
    with pytest.raises(ValueError, match="float network"):
        budget_path(NMPQATClassifier(quantize=False), X, y, bit_budgets=[1])


def test_cv_estimator_chooses_refits_and_reports(data):
    X, y = data
    cv_est = NMPQATClassifierCV(hidden_layer_sizes=(16,), bit_budgets=[1, 2, None], cv=3,
                                max_iter=20, random_state=0).fit(X, y)
    results = pd.DataFrame(cv_est.cv_results_)
    assert results.param_bit_budget.tolist() == [None, 2, 1] and len(results) == 3
    assert {"split2_test_score", "mean_test_weight_bits", "mean_test_size",
            "rank_test_score", "mean_fit_time"} <= set(results.columns)
    best = cv_est.cv_results_["mean_test_score"].argmax()
    assert cv_est.best_index_ == best and cv_est.bit_budget_ == results.param_bit_budget[best]
    # The fitted model is a plain fit at the chosen budget, on all rows (not
    # the path's point: that equals it only when the first budget wins).
    ref = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0,
                           bit_budget=cv_est.bit_budget_).fit(X, y)
    np.testing.assert_array_equal(cv_est.predict_proba(X), ref.predict_proba(X))
    assert cv_est.mean_weight_bits_ == ref.mean_weight_bits_
    assert cv_est.score(X, y) == ref.score(X, y)
    np.testing.assert_array_equal(cv_est.to_integer().predict(X), cv_est.predict(X))
    # A tolerance trades score for size: the smallest model within it.
    loose = clone(cv_est).set_params(tolerance=1.0).fit(X, y)
    assert loose.bit_budget_ == 1
    assert not hasattr(cv_est, "partial_fit")


def test_cv_estimator_chooses_the_penalty_with_the_budget():
    # Pure noise: the fold scores must prefer the strong penalty (a model near the
    # mean) to the weak one, which fits the noise of 20 features from 160 rows.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(160, 20)), rng.normal(size=160)
    params = dict(hidden_layer_sizes=(32,), max_iter=60, random_state=0, cv=3)
    cv_est = NMPQATRegressorCV(bit_budgets=[2, None], alphas=[1e-4, 30.0], **params).fit(X, y)
    results = pd.DataFrame(cv_est.cv_results_)
    assert results.param_alpha.tolist() == [1e-4, 1e-4, 30.0, 30.0]
    assert results.param_bit_budget.tolist() == [None, 2, None, 2]
    assert [p["alpha"] for p in results.params] == results.param_alpha.tolist()
    best = int(results.mean_test_score.argmax())
    assert cv_est.best_index_ == best and cv_est.alpha_ == 30.0
    assert cv_est.alpha_ == results.param_alpha[best]
    assert cv_est.bit_budget_ == results.param_bit_budget[best]
    assert results.mean_test_score[best] > results.mean_test_score[:2].max()
    # The fitted model is a plain fit at the chosen penalty and budget.
    plain = NMPQATRegressorCV._plain(hidden_layer_sizes=(32,), max_iter=60, random_state=0,
                                     alpha=cv_est.alpha_, bit_budget=cv_est.bit_budget_)
    np.testing.assert_array_equal(cv_est.predict(X), plain.fit(X, y).predict(X))
    assert cv_est.alpha == 0.0001  # the parameter itself is left as given
    # Without alphas, alpha is the only penalty and alpha_ reports it.
    one = NMPQATRegressorCV(bit_budgets=[2], alpha=0.5, **params).fit(X, y)
    assert one.alpha_ == 0.5 and one.cv_results_["param_alpha"].tolist() == [0.5]
    # The trade-off plot draws one line per penalty.
    import matplotlib

    matplotlib.use("Agg")
    from skqat import plot_tradeoff

    fig = plot_tradeoff(cv_est.cv_results_, size="size", group_by="alpha",
                        chosen=cv_est.best_index_)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["chosen", "alpha = 0.0001", "alpha = 30.0"]
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("alphas", [[], [-1.0, 1.0], [[1e-4, 1.0]], [np.nan], ["strong"]])
def test_cv_estimator_refuses_bad_alphas_before_fitting(data, alphas, monkeypatch):
    from skqat import _budget_search

    def no_fold(*args, **kwargs):
        raise AssertionError("a fold's path ran before alphas was checked")

    monkeypatch.setattr(_budget_search, "_path_scores", no_fold)
    with pytest.raises(ValueError, match="alphas must be a non-empty list of finite penalties"):
        NMPQATClassifierCV(bit_budgets=[2], alphas=alphas, cv=2).fit(*data)


def test_cv_estimator_in_a_pipeline_with_groups_pickles_and_parallel_folds_agree():
    X, y = make_regression(n_samples=300, n_features=6, noise=5, random_state=0)
    groups = np.repeat(np.arange(10), 30)
    model = make_pipeline(StandardScaler(), NMPQATRegressorCV(
        hidden_layer_sizes=(8,), bit_budgets=[1.5, 3], alphas=[1e-4, 1.0], cv=GroupKFold(3),
        max_iter=15, random_state=0))
    serial = model.fit(X, y, nmpqatregressorcv__groups=groups)
    parallel = clone(model).set_params(nmpqatregressorcv__n_jobs=2).fit(
        X, y, nmpqatregressorcv__groups=groups)
    for key in ("mean_test_score", "mean_test_weight_bits", "mean_test_size"):
        np.testing.assert_array_equal(serial[-1].cv_results_[key], parallel[-1].cv_results_[key])
    np.testing.assert_array_equal(serial.predict(X), parallel.predict(X))
    assert serial[-1].alpha_ == parallel[-1].alpha_
    restored = pickle.loads(pickle.dumps(serial))
    np.testing.assert_array_equal(restored.predict(X), serial.predict(X))


def _expected_failed_checks(estimator):
    reason = ("Mini-batch training with shuffling: a sample of weight 2 and two copies of it "
              "fall into different batches, so the two fits take different optimization paths.")
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}


@parametrize_with_checks(
    [NMPQATClassifierCV(hidden_layer_sizes=(32,), bit_budgets=(2, None), cv=2,
                        random_state=0),
     NMPQATRegressorCV(hidden_layer_sizes=(32,), bit_budgets=(2, None), cv=2,
                       random_state=0)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_cv_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("random_state", [0, None, np.random.RandomState(3)])
def test_early_stopping_points_hold_out_the_same_rows_and_keep_their_best_epoch(
        data, random_state, monkeypatch):
    X, y = data
    from skqat._base import BaseNMPQAT

    held_out, split = [], BaseNMPQAT._split_validation

    def recording(self, X, target, sample_weight, rng):
        out = split(self, X, target, sample_weight, rng)
        held_out.append(np.sort(out[3][0][:, 0]))
        return out

    monkeypatch.setattr(BaseNMPQAT, "_split_validation", recording)
    est = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=20, early_stopping=True,
                           n_iter_no_change=100, random_state=random_state)
    path = budget_path(est, X, y, bit_budgets=[None, 2, 1], activation_bit_budgets=6)
    assert len(held_out) == 3
    for rows in held_out[1:]:
        np.testing.assert_array_equal(rows, held_out[0])
    for point in path:
        assert point.mean_weight_bits_ <= (point.bit_budget or np.inf)
        # The restored epoch is the best of this point's fine-tuning.
        own = point.validation_scores_[-(point.n_iter_):]
        assert point.best_validation_score_ == max(own) or point is path[0]


@pytest.mark.parametrize("cls, make", [(NMPQATClassifierCV, make_classification),
                                       (NMPQATRegressorCV, make_regression)])
def test_cv_estimators_take_early_stopping(cls, make):
    X, y = make(n_samples=300, n_features=6, random_state=0)
    cv = cls(hidden_layer_sizes=(8,), max_iter=15, early_stopping=True, bit_budgets=[1, 2, None],
             cv=2, random_state=0).fit(X, y)
    assert cv.validation_scores_ is not None and cv.best_validation_score_ is not None
    assert cv.mean_weight_bits_ <= (cv.bit_budget_ or np.inf)
    assert np.all(np.isfinite(cv.cv_results_["mean_test_score"]))


def test_cv_estimators_check_every_budget_before_the_first_fold(data, monkeypatch):
    # An impossible entry is reported under the CV estimator's own parameter, and
    # before any fold's path trains.
    from skqat import _budget_search

    def no_fold(*args, **kwargs):
        raise AssertionError("a fold's path ran before the budgets were checked")

    monkeypatch.setattr(_budget_search, "_path_scores", no_fold)
    X, y = data
    est = NMPQATClassifierCV(bit_budgets=None, size_budgets=[2048, 10], max_iter=20, cv=2)
    with pytest.raises(ValueError, match=r"size_budgets\[1\]=10: size_budget=10 bytes is below"):
        est.fit(X, y)
    with pytest.raises(ValueError, match=r"bit_budgets\[0\]=0.5: .*bit_budget=0.5"):
        NMPQATClassifierCV(bit_budgets=[0.5, 2], weight_bits=(1, 2), cv=2).fit(X, y)


def test_cv_verbose_output_names_the_fold_and_the_budget(data, capsys):
    X, y = data
    NMPQATClassifierCV(hidden_layer_sizes=(8,), bit_budgets=[1, 2], max_iter=3, cv=2,
                       verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    for fold in (1, 2):
        assert f"[fold {fold}/2] budget path over 2 points" in out
        for budget in (1, 2):
            assert f"[fold {fold}/2] bit_budget={budget}: score " in out
